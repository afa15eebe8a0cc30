import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, HeapCorruptionError, InvalidPointerError } from "../../mod.ts";

/** Header word of the heap key (src/heap/layout.ts). */
const H_KEY = 10;
/** Slots a worker's free-slot cache holds per class (src/alloc/slab.ts). */
const SLOT_CACHE_SLOTS = 15;

/**
 * Frees `ptrs` (blocks of `sizeBytes`) so that they reach their pages' free
 * lists: a local free goes to the worker's free-slot cache first, and a full
 * cache hands its oldest slots to their pages. `SLOT_CACHE_SLOTS` fillers,
 * allocated before and freed after `ptrs`, push every one of them out.
 */
function freeToPages(heap: Heap, sizeBytes: number, ptrs: number[]): void {
  const fillers = Array.from({ length: SLOT_CACHE_SLOTS }, () => heap.alloc(sizeBytes));
  for (const p of ptrs) heap.free(p);
  for (const f of fillers) heap.free(f);
}

describe("hardened metadata", () => {
  it("gives every heap its own non-zero key below 2^30, seen by every handle", () => {
    const a = Heap.create();
    const b = Heap.create();
    assert.notEqual(a.u32[H_KEY], 0);
    assert.ok(a.u32[H_KEY] < 2 ** 30);
    assert.notEqual(a.u32[H_KEY], b.u32[H_KEY]);
    const other = Heap.attach(a.buffer);
    const p = a.alloc(24);
    other.free(p); // the other handle verifies the same tags
    const q = a.alloc(3000);
    other.free(q);
    a.check();
  });

  it("a live slot's address written into a freed slab slot is not handed out", () => {
    const heap = Heap.create();
    const live = heap.alloc(24);
    const freed = heap.alloc(24);
    heap.alloc(24);
    freeToPages(heap, 24, [freed]);
    heap.u32[freed >>> 2] = live; // a stale write: the old (unkeyed) link format
    // Taking `freed` reads its link: `live` must never become the next head.
    assert.throws(() => {
      for (let i = 0; i < 4 + 2 * SLOT_CACHE_SLOTS; i++) assert.notEqual(heap.alloc(24), live);
    }, HeapCorruptionError);
  });

  it("a slab page's list link changed to another real page is reported, not followed", () => {
    const heap = Heap.create();
    // Three pages of 24-byte slots: the first two full (on the full list), the third current.
    const slots: number[] = [];
    const pages = new Set<number>();
    while (pages.size < 3) {
      const p = heap.alloc(24);
      slots.push(p);
      pages.add(p & -16384);
    }
    const [first, , third] = [...pages];
    // A stray write sets the first page's prev link (word 10) to the third
    // page: a real page, so checking the linked page's header would accept it.
    heap.u32[(first >>> 2) + 10] = third;
    // Freeing a slot of the full first page moves it off the full list.
    assert.throws(() => freeToPages(heap, 24, [slots[0]]), HeapCorruptionError);
  });

  it("check() verifies every slab page link against its check word and its back link", () => {
    const pagesOf = (heap: Heap): number[] => {
      const pages = new Set<number>();
      while (pages.size < 3) pages.add(heap.alloc(24) & -16384);
      return [...pages];
    };
    // Page header words (src/alloc/slab.ts): 9 next, 10 prev, 13 and 14 their check words.
    for (const word of [9, 10, 13, 14]) {
      const heap = Heap.create();
      const [first] = pagesOf(heap);
      heap.check();
      heap.u32[(first >>> 2) + word] ^= 8; // a stray write into the page's list link or its check
      assert.throws(() => heap.check(), HeapCorruptionError, `word ${word}`);
    }
  });

  it("a stale free tag left by an earlier page of another class is never handed out", () => {
    const heap = Heap.create();
    // Fill three pages and part of a fourth with 24-byte slots, then free the
    // first two pages' slots: they go back (one as a spare), with the free
    // tags of the 24-byte grid left in their memory.
    const small: number[] = [];
    while (small.length < 679 * 3 + 5) small.push(heap.alloc(24));
    const pages = [...new Set(small.map((p) => p & -16384))];
    freeToPages(
      heap,
      24,
      small.filter((p) => (p & -16384) === pages[0] || (p & -16384) === pages[1]),
    );
    // 40-byte slots reuse the second page's memory on another grid.
    const big: number[] = [];
    for (let i = 0; i < 30; i++) big.push(heap.alloc(40));
    const page = big[0] & -16384;
    assert.equal(page, pages[1], "the test needs the page's memory reused");
    // A stray write points the free list at the old 24-byte slot 1: off the
    // 40-byte grid, inside the live 40-byte slot 0, below the bump pointer.
    const stale = page + 64 + 24;
    heap.u32[(page >>> 2) + 6] = stale;
    assert.throws(() => assert.notEqual(heap.alloc(40), stale), HeapCorruptionError);
  });

  it("a class head overwritten with another class's page does not hand out its slots", () => {
    const heap = Heap.create();
    const small = heap.alloc(24);
    const big = heap.alloc(40);
    heap.alloc(40);
    freeToPages(heap, 40, [big]); // the 40-byte page's free list now holds `big`
    const smallPage = small & -16384;
    const bigPage = big & -16384;
    assert.notEqual(smallPage, bigPage);
    // The owning area (page word 12) holds per class (from word 8, 4 words
    // each) the current page: point the 24-byte class (index 2) at the other page.
    const area = heap.u32[(smallPage >>> 2) + 12];
    heap.u32[(area >>> 2) + 8 + 2 * 4] = bigPage;
    assert.throws(() => assert.notEqual(heap.alloc(24), big), HeapCorruptionError);
  });

  it("zeros written over a freed slab slot's link are reported, never followed", () => {
    const heap = Heap.create();
    const a = heap.alloc(40);
    const b = heap.alloc(40);
    heap.free(a);
    heap.free(b); // b links to a
    heap.u32[b >>> 2] = 0;
    heap.u32[(b + 4) >>> 2] = 0;
    assert.throws(() => {
      for (let i = 0; i < 4; i++) heap.alloc(40);
    }, HeapCorruptionError);
  });

  it("a header address written into a freed arena block is not handed out", () => {
    const heap = Heap.create();
    const a = heap.alloc(3000);
    heap.alloc(3000); // keeps a from merging with the free tail
    heap.free(a);
    heap.u32[a >>> 2] = 64; // the old format's next link: a chunk inside the header
    heap.u32[(a + 4) >>> 2] = 0;
    assert.throws(() => {
      for (let i = 0; i < 8; i++) {
        const p = heap.alloc(3000);
        assert.ok(p >= 4096, `alloc returned ${p}, inside the header`);
      }
    }, HeapCorruptionError);
  });

  it("an overflow into the next free chunk's header is reported when it is merged", () => {
    const heap = Heap.create();
    const a = heap.alloc(2000);
    const b = heap.alloc(2000);
    heap.alloc(2000);
    heap.free(b);
    // An overflow of a that reaches b's header (as a size of 1 GiB) but
    // leaves a's own footer as it was.
    heap.u32[(b - 8) >>> 2] = 1 << 30;
    assert.throws(() => heap.free(a), HeapCorruptionError);
  });

  it("a fake boundary tag copied inside a live block does not make an interior pointer freeable", () => {
    const heap = Heap.create();
    const a = heap.alloc(3000);
    // Copy a's own header and tag to an interior address, with a matching footer.
    const c = a - 8;
    const inner = a + 64;
    const h = heap.u32[c >>> 2];
    const size = h & ~7;
    heap.u32[(inner - 8) >>> 2] = 32 | 1;
    heap.u32[(inner - 4) >>> 2] = heap.u32[(c + 4) >>> 2];
    heap.u32[(inner - 8 + 32 - 4) >>> 2] = 32 | 1;
    assert.ok(size > 96);
    assert.throws(() => heap.free(inner), InvalidPointerError);
    heap.free(a);
    heap.check();
  });
});
