// The slab modules tested directly, below the Heap facade: SlabAllocator
// (slab_local.ts) over a small heap with two handles, its refill, local and
// remote frees, its one slot validation (checked against slotProblem at every
// offset of a page), the area functions (slab_area.ts), the check and figures
// (slab_check.ts), and the arena's own pointer validation (arena.ts).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidPointerError } from "../../mod.ts";
import { SlabAllocator } from "../../src/alloc/slab_local.ts";
import { abandonAreaLocked, sweepOrphansLocked } from "../../src/alloc/slab_area.ts";
import { checkSlabLocked, slabStatsLocked } from "../../src/alloc/slab_check.ts";
import { arenaChunkOf, arenaUsable, chunkBytesFor } from "../../src/alloc/arena.ts";
import {
  A_SLOT_CACHE,
  CLASS_BYTES,
  classOf,
  H_SLAB_ORPHANS,
  H_SLAB_PAGES,
  P_CAPACITY,
  P_FREE,
  P_OWNER,
  P_REMOTE,
  P_STATE,
  P_USED,
  PAGE_BYTES,
  PAGE_HEADER_BYTES,
  PAGE_USABLE_BYTES,
  SLOT_CACHE_SLOTS,
  SLOT_CACHE_STRIDE,
  slotProblem,
  STATE_FULL,
  STATE_ORPHAN,
} from "../../src/alloc/slab.ts";

/** A heap of 256 KiB and two slab allocators (two handles) on it. */
function setup(): { heap: Heap; a: SlabAllocator; b: SlabAllocator } {
  const heap = Heap.create({ initialBytes: 256 * 1024 });
  const a = new SlabAllocator(heap.buffer, null, 0);
  const b = new SlabAllocator(heap.buffer, null, 0);
  return { heap, a, b };
}

/** Runs the slab check (and returns the per-class figures) under `s`'s heap lock. */
function checked(s: SlabAllocator): ReturnType<typeof slabStatsLocked> {
  s.lock();
  try {
    checkSlabLocked(s);
    return slabStatsLocked(s);
  } finally {
    s.unlock();
  }
}

const CLS24 = classOf(24, 3);

describe("SlabAllocator", () => {
  it("allocates distinct slots on its own page and reuses a freed one first", () => {
    const { heap, a } = setup();
    const p = a.allocSlot(CLS24);
    const q = a.allocSlot(CLS24);
    assert.notEqual(p, 0);
    assert.equal(q - p, CLASS_BYTES[CLS24], "bump order");
    const base = a.pageOf(p);
    assert.equal(base, p - PAGE_HEADER_BYTES, "the first slot follows the page header");
    assert.equal(base % PAGE_BYTES, 0);
    assert.equal(a.u32[(base >>> 2) + P_OWNER], a.workerId);
    assert.equal(a.u32[(base >>> 2) + P_USED], 2);
    a.freeSlot("free", p, false);
    assert.equal(a.u32[(base >>> 2) + P_FREE], 0, "a local free leaves the page's list alone");
    assert.equal(a.u32[(base >>> 2) + P_USED], 2, "a cached slot counts as used in its page");
    assert.equal(
      a.u32[a.areaWords + A_SLOT_CACHE + CLS24 * SLOT_CACHE_STRIDE],
      1,
      "it is in the cache",
    );
    assert.equal(a.allocSlot(CLS24), p, "LIFO reuse");
    a.flushAllocCount();
    const stats = checked(a);
    assert.equal(stats[CLS24].usedSlots, 2);
    assert.equal(stats[CLS24].pages, 1);
    heap.check();
  });

  it("refills with a second page when the first is full, and retires the full one", () => {
    const { heap, a } = setup();
    const first = a.allocSlot(CLS24);
    const base = a.pageOf(first);
    const capacity = a.u32[(base >>> 2) + P_CAPACITY];
    assert.equal(capacity, Math.floor((PAGE_USABLE_BYTES - PAGE_HEADER_BYTES) / 24));
    const slots = [first];
    for (let i = 1; i < capacity; i++) slots.push(a.allocSlot(CLS24));
    assert.ok(slots.every((p) => a.pageOf(p) === base));
    const next = a.allocSlot(CLS24); // the refill
    const second = a.pageOf(next);
    assert.notEqual(second, base);
    assert.equal(a.u32[(base >>> 2) + P_STATE], STATE_FULL);
    assert.equal(a.u32[H_SLAB_PAGES], 2);
    const stats = checked(a);
    assert.equal(stats[CLS24].usedSlots, capacity + 1);
    // A slot of the full page that reaches the page (past the free-slot
    // cache: a full cache hands its oldest slots back) moves it back to the
    // active list.
    for (const p of slots.slice(7, 7 + SLOT_CACHE_SLOTS)) a.freeSlot("free", p, false);
    assert.equal(a.u32[(base >>> 2) + P_STATE], STATE_FULL, "cached slots stay in the cache");
    a.freeSlot("free", slots[7 + SLOT_CACHE_SLOTS], false);
    assert.notEqual(a.u32[(base >>> 2) + P_STATE], STATE_FULL);
    checked(a);
    heap.check();
  });

  it("frees another handle's slot onto the page's remote list; the owner collects it on refill", () => {
    const { heap, a, b } = setup();
    const p = a.allocSlot(CLS24);
    const base = a.pageOf(p);
    const capacity = a.u32[(base >>> 2) + P_CAPACITY];
    for (let i = 1; i < capacity; i++) a.allocSlot(CLS24); // the page is full now
    b.freeSlot("free", p, false);
    assert.equal(a.u32[(base >>> 2) + P_REMOTE], p, "on the remote list");
    assert.equal(a.u32[(base >>> 2) + P_USED], capacity, "counted until collected");
    assert.throws(() => b.freeSlot("free", p, false), DoubleFreeError);
    assert.throws(() => a.freeSlot("free", p, false), DoubleFreeError);
    checked(a);
    assert.equal(a.allocSlot(CLS24), p, "the refill collects the remote free and reuses it");
    assert.equal(a.u32[(base >>> 2) + P_REMOTE], 0);
    checked(a);
    heap.check();
  });

  it("validates a slot in one place: checkSlot accepts exactly what slotProblem accepts", () => {
    const { heap, a } = setup();
    const cls = classOf(40, 3);
    const slots: number[] = [];
    for (let i = 0; i < 20; i++) slots.push(a.allocSlot(cls));
    const base = a.pageOf(slots[0]);
    for (const i of [3, 4, 11]) a.freeSlot("free", slots[i], false);
    let live = 0;
    // Every 4-byte offset of the page, from the header to past the bump pointer.
    for (let ptr = base; ptr < base + 2048; ptr += 4) {
      const problem = slotProblem(a.u32, a.key, base, ptr);
      let thrown: unknown = null;
      try {
        a.checkSlot("free", base, ptr);
      } catch (e) {
        thrown = e;
      }
      if (problem === "") {
        assert.equal(thrown, null, `slot ${ptr} is live but was rejected`);
        live++;
      } else if (problem === "double") {
        assert.ok(thrown instanceof DoubleFreeError, `free slot ${ptr}: ${thrown}`);
      } else {
        assert.ok(thrown instanceof InvalidPointerError, `bad pointer ${ptr}: ${thrown}`);
        assert.match((thrown as Error).message, new RegExp(problem));
      }
    }
    assert.equal(live, 17, "20 allocated, 3 freed");
    heap.check();
  });

  it("a bad free changes nothing", () => {
    const { heap, a } = setup();
    const p = a.allocSlot(CLS24);
    const base = a.pageOf(p);
    const before = heap.u8.slice(0, heap.byteLength);
    assert.throws(
      () => a.freeSlot("free", p + 8, false),
      (e: unknown) =>
        e instanceof InvalidPointerError &&
        e.message === `Cannot free pointer: ${p + 8} is inside a slab slot, not at its start`,
    );
    assert.throws(
      () => a.freeSlot("free", p + 24, false),
      (e: unknown) => e instanceof InvalidPointerError && /never allocated/.test(e.message),
    );
    assert.throws(
      () => a.freeSlot("free", base + 8, false),
      /is inside a slab page header/,
    );
    assert.deepEqual(heap.u8.slice(0, heap.byteLength), before);
    heap.check();
  });

  it("reports a free list head that is not a free slot instead of handing it out", () => {
    const { a } = setup();
    const p = a.allocSlot(CLS24);
    const fillers = Array.from({ length: SLOT_CACHE_SLOTS }, () => a.allocSlot(CLS24));
    a.freeSlot("free", p, false);
    // The full free-slot cache hands its oldest slots, p first, to the page.
    for (const f of fillers) a.freeSlot("free", f, false);
    assert.notEqual(a.u32[(a.pageOf(p) >>> 2) + P_FREE], 0, "the page's free list holds them");
    a.u32[(p + 4) >>> 2] = 0; // a write after free clears the slot's free tag
    assert.throws(() => {
      for (let i = 0; i < 2 * SLOT_CACHE_SLOTS; i++) assert.notEqual(a.allocSlot(CLS24), p);
    }, HeapCorruptionError);
  });

  it("reports a cached slot that lost its free tag instead of handing it out", () => {
    const { a } = setup();
    const p = a.allocSlot(CLS24);
    a.allocSlot(CLS24);
    a.freeSlot("free", p, false);
    a.u32[(p + 4) >>> 2] = 0; // a write after free clears the slot's free tag
    assert.throws(() => a.allocSlot(CLS24), HeapCorruptionError);
  });

  it("pageOf tells slab pointers from arena blocks", () => {
    const { heap, a } = setup();
    const big = heap.alloc(5000);
    assert.equal(a.pageOf(big), 0);
    assert.equal(a.slabPageOf(big), 0);
    assert.equal(a.slabPageOf(-8), 0);
    const p = a.allocSlot(CLS24);
    assert.equal(a.slabPageOf(p), p - PAGE_HEADER_BYTES);
    assert.equal(a.usableOf("get the size of", p), 24);
    assert.equal(a.usableOf("get the size of", big), arenaUsable(a.u32, big));
    const before = heap.u8.slice(0, heap.byteLength);
    assert.equal(a.freeSlot("free", big, false), false, "not a slab pointer: nothing freed");
    assert.deepEqual(heap.u8.slice(0, heap.byteLength), before);
    heap.free(big);
  });
});

describe("slab areas and the check", () => {
  it("abandoning an area orphans its used pages and releases its empty ones", () => {
    const { heap, a, b } = setup();
    const p = a.allocSlot(CLS24);
    const cls64 = classOf(64, 3);
    const q = a.allocSlot(cls64);
    a.freeSlot("free", q, false); // the 64-byte page is empty (its class's current page)
    a.flushAllocCount();
    a.lock();
    try {
      const area = a.area;
      a.area = 0;
      a.areaWords = 0;
      assert.equal(abandonAreaLocked(a, area, false), 2);
      checkSlabLocked(a);
    } finally {
      a.unlock();
    }
    const base = a.pageOf(p);
    assert.equal(a.u32[(base >>> 2) + P_STATE], STATE_ORPHAN);
    assert.equal(a.u32[H_SLAB_ORPHANS + CLS24], base);
    assert.equal(a.u32[H_SLAB_PAGES], 1, "the empty page went back to the arena");
    // Another handle frees the last slot; the sweep gives the page back.
    b.freeSlot("free", p, false);
    b.lock();
    try {
      assert.equal(sweepOrphansLocked(b), 1);
      checkSlabLocked(b);
    } finally {
      b.unlock();
    }
    assert.equal(a.u32[H_SLAB_PAGES], 0);
    heap.check();
  });

  it("checkSlabLocked finds a wrong used count", () => {
    const { a } = setup();
    const p = a.allocSlot(CLS24);
    const base = a.pageOf(p);
    checked(a);
    a.u32[(base >>> 2) + P_USED] = 5;
    assert.throws(() => checked(a), /used count/);
  });
});

describe("arena pointer validation", () => {
  it("arenaChunkOf names what is wrong with a pointer", () => {
    const { heap, a } = setup();
    const p = heap.alloc(3000);
    assert.equal(arenaChunkOf(a.u32, a.key, "free", p), p - 8);
    assert.ok(arenaUsable(a.u32, p) >= 3000);
    assert.equal(chunkBytesFor(3000), 3016);
    assert.throws(() => arenaChunkOf(a.u32, a.key, "free", p + 8), /not the start of a live block/);
    assert.throws(() => arenaChunkOf(a.u32, a.key, "free", p + 4), /not 8-byte aligned/);
    assert.throws(() => arenaChunkOf(a.u32, a.key, "free", 1.5), /not an integer/);
    assert.throws(() => arenaChunkOf(a.u32, a.key, "free", 8), /outside the heap's blocks/);
    heap.free(p);
    assert.throws(() => arenaChunkOf(a.u32, a.key, "free", p), DoubleFreeError);
  });
});
