// The per-worker free-slot cache of the slab (src/alloc/slab.ts): a local
// free lands there and the next allocation of the class takes it back; its
// entries are keyed and checked; check(), stats(), regions(), detach() and
// recover() see the slots in it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DoubleFreeError, Heap, HeapCorruptionError } from "../../mod.ts";
import { SlabAllocator } from "../../src/alloc/slab_local.ts";
import { Sfc32 } from "../_support/prng.ts";

/** Header word of the heap key (src/heap/layout.ts). */
const H_KEY = 10;
/** Page header word of the owning area (src/alloc/slab.ts). */
const P_AREA = 12;
/** Page header word of the local free-list head. */
const P_FREE = 6;
/** Area word of the first free-slot cache: 8 + 4 words per class for 40 classes. */
const A_SLOT_CACHE = 8 + 4 * 40;
/** Words per class cache: the count, then 15 entries. */
const SLOT_CACHE_STRIDE = 16;
const SLOT_CACHE_SLOTS = 15;
/** Class index of 24-byte slots. */
const CLASS_24 = 2;

/** Word index of the count of the 24-byte class cache of the worker that owns `ptr`'s page. */
function cacheCountWord(heap: Heap, ptr: number): number {
  const page = ptr & -16384;
  const area = heap.u32[(page >>> 2) + P_AREA];
  return (area >>> 2) + A_SLOT_CACHE + CLASS_24 * SLOT_CACHE_STRIDE;
}

describe("slab free-slot cache", () => {
  it("takes back the slots freed last, last in first out, without touching their page", () => {
    const heap = Heap.create();
    const blocks = Array.from({ length: 40 }, () => heap.alloc(24));
    const page = blocks[0] & -16384;
    const freeHead = heap.u32[(page >>> 2) + P_FREE];
    heap.free(blocks[3]);
    heap.free(blocks[17]);
    assert.equal(heap.u32[(page >>> 2) + P_FREE], freeHead, "the page's free list is untouched");
    assert.equal(heap.u32[cacheCountWord(heap, page)], 2);
    assert.equal(heap.alloc(24), blocks[17]);
    assert.equal(heap.alloc(24), blocks[3]);
    assert.equal(heap.u32[cacheCountWord(heap, page)], 0);
    heap.check();
  });

  it("a full cache hands its oldest slots to their pages and keeps the newest", () => {
    const heap = Heap.create();
    const blocks = Array.from({ length: 40 }, () => heap.alloc(24));
    for (const p of blocks) heap.free(p);
    const count = heap.u32[cacheCountWord(heap, blocks[0])];
    assert.ok(count > 0 && count <= SLOT_CACHE_SLOTS, `cache holds ${count}`);
    heap.check();
    // The newest frees come back first.
    assert.equal(heap.alloc(24), blocks[39]);
    assert.equal(heap.alloc(24), blocks[38]);
    heap.check();
  });

  it("a second free of a cached slot is a double free, from any handle", () => {
    const heap = Heap.create();
    const other = Heap.attach(heap.buffer);
    const p = heap.alloc(24);
    heap.alloc(24);
    heap.free(p);
    assert.throws(() => heap.free(p), DoubleFreeError);
    assert.throws(() => other.free(p), DoubleFreeError);
    heap.check();
    assert.equal(heap.alloc(24), p);
    heap.check();
  });

  it("an entry overwritten with a live slot's address is reported, never handed out", () => {
    const heap = Heap.create();
    const live = heap.alloc(24);
    const freed = heap.alloc(24);
    heap.free(freed);
    const c = cacheCountWord(heap, freed);
    heap.u32[c + 1] = live; // a stray write of a plain address
    assert.throws(() => heap.check(), HeapCorruptionError);
    assert.throws(() => assert.notEqual(heap.alloc(24), live), HeapCorruptionError);
  });

  it("a count raised over popped entries does not revive them", () => {
    const heap = Heap.create();
    const p = heap.alloc(24);
    heap.alloc(24);
    heap.free(p);
    assert.equal(heap.alloc(24), p); // p is live again; its entry was cleared
    const c = cacheCountWord(heap, p);
    heap.u32[c] = 1; // a stray write brings the old entry back into range
    assert.throws(() => heap.check(), HeapCorruptionError);
    assert.throws(() => assert.notEqual(heap.alloc(24), p), HeapCorruptionError);
  });

  it("a count past the cache size is not trusted and a free reports it before any write", () => {
    const heap = Heap.create();
    const a = heap.alloc(24);
    const b = heap.alloc(24);
    const c = cacheCountWord(heap, a);
    heap.u32[c] = 1000;
    assert.throws(() => heap.check(), HeapCorruptionError);
    const before = heap.u8.slice(b, b + 24);
    assert.throws(() => heap.free(b), HeapCorruptionError);
    assert.deepEqual(heap.u8.slice(b, b + 24), before, "the slot was not written");
    // The allocation path ignores the bad count and serves from the page.
    const d = heap.alloc(24);
    assert.notEqual(d, a);
    assert.notEqual(d, b);
  });

  it("check() reports a cached slot that is also on its page's free list", () => {
    const heap = Heap.create();
    const p = heap.alloc(24);
    heap.alloc(24);
    heap.free(p);
    heap.check();
    // Put p on the page's free list as well, with a correctly keyed link.
    const page = p & -16384;
    const key = heap.u32[H_KEY];
    const head = heap.u32[(page >>> 2) + P_FREE];
    heap.u32[p >>> 2] = head ^ ((p ^ key) & 0x3fffffff);
    heap.u32[(page >>> 2) + P_FREE] = p;
    assert.throws(() => heap.check(), /both cached and on a free list/);
  });

  it("stats() and regions() count cached slots as free", () => {
    const heap = Heap.create();
    const blocks = Array.from({ length: 100 }, () => heap.alloc(24));
    for (const p of blocks.slice(0, 10)) heap.free(p);
    const s = heap.stats();
    assert.equal(s.liveAllocations, 90);
    assert.equal(s.slab.usedSlots, 90);
    const c24 = s.slab.classes[CLASS_24];
    assert.equal(c24.usedSlots, 90);
    const map = heap.regions();
    assert.equal(map.usedSlots, 90);
    assert.equal(map.blockChunks + map.usedSlots, s.liveAllocations);
    heap.check();
  });

  it("detach() hands cached slots back, so emptied pages go back to the arena", () => {
    const heap = Heap.create();
    const start = heap.stats().usedBytes;
    const worker = Heap.attach(heap.buffer);
    const blocks = Array.from({ length: 30 }, () => worker.alloc(24));
    for (const p of blocks.slice(0, 10)) worker.free(p); // into the worker's cache
    for (const p of blocks.slice(10)) heap.free(p); // remote frees
    worker.detach();
    heap.check();
    assert.equal(heap.stats().slab.pages, 0);
    assert.equal(heap.stats().usedBytes, start);
  });

  it("recover() of an idle worker hands its cached slots back", () => {
    const heap = Heap.create({ lockTimeoutMs: 50 });
    const worker = Heap.attach(heap.buffer);
    const blocks = Array.from({ length: 30 }, () => worker.alloc(24));
    for (const p of blocks.slice(0, 10)) worker.free(p);
    const report = heap.recover(worker.workerId);
    assert.equal(report.pages, 1);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 20);
    for (const p of blocks.slice(10)) heap.free(p);
    heap.detach();
    heap.check();
    assert.equal(heap.stats().slab.pages, 0);
  });

  it("a restored snapshot hands the old workers' cached slots back to their pages", () => {
    const heap = Heap.create();
    const blocks = Array.from({ length: 30 }, () => heap.alloc(24));
    for (const p of blocks.slice(0, 10)) heap.free(p);
    const restored = Heap.restore(heap.snapshot());
    restored.check();
    assert.equal(restored.stats().liveAllocations, 20);
    for (const p of blocks.slice(10)) restored.free(p);
    restored.detach();
    restored.check();
    assert.equal(restored.stats().slab.pages, 0);
  });
});

describe("slab free-slot cache under random frees", () => {
  it("keeps page moves and refills rare with many live blocks freed in random order", () => {
    // Counts the owner's slow paths: a local free into a full page
    // (pageChanged) and a refill of the current page (allocClassSlow). They
    // ran ~0.23 times per operation each here before the cache.
    const proto = SlabAllocator.prototype as unknown as Record<
      string,
      (...a: unknown[]) => unknown
    >;
    const counts: Record<string, number> = { pageChanged: 0, allocClassSlow: 0 };
    const originals = Object.keys(counts).map((name) => [name, proto[name]] as const);
    for (const [name, original] of originals) {
      proto[name] = function (this: unknown, ...args: unknown[]): unknown {
        counts[name]++;
        return original.apply(this, args);
      };
    }
    try {
      const heap = Heap.create({ initialBytes: 16 << 20 });
      const rng = new Sfc32(0x5eed);
      const live: number[] = [];
      const LIVE = 20_000;
      while (live.length < LIVE) live.push(heap.alloc(rng.range(4, 200)));
      counts.pageChanged = 0;
      counts.allocClassSlow = 0;
      const OPS = 100_000;
      for (let i = 0; i < OPS; i++) {
        if (live.length > LIVE || (live.length === LIVE && (rng.nextU32() & 1) === 0)) {
          const k = rng.range(0, live.length);
          heap.free(live[k]);
          live[k] = live[live.length - 1];
          live.pop();
        } else {
          live.push(heap.alloc(rng.range(4, 200)));
        }
      }
      const perOp = (counts.pageChanged + counts.allocClassSlow) / OPS;
      assert.ok(perOp < 0.05, `slow paths ran ${perOp.toFixed(3)} times per operation`);
      heap.check();
    } finally {
      for (const [name, original] of originals) proto[name] = original;
    }
  });
});
