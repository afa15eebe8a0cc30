import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";

describe("slab orphan pages", () => {
  it("adopts thousands of full orphan pages without deep recursion", () => {
    const heap = Heap.create({ initialBytes: 1 << 20, maxBytes: 256 << 20 });
    const a = Heap.attach(heap.buffer);
    const ptrs: number[] = [];
    // 3,000 full pages of 24-byte slots (679 slots a page).
    for (let i = 0; i < 679 * 3000; i++) ptrs.push(a.alloc(24));
    a.detach(); // every page becomes an orphan, and every one is full
    const orphaned = heap.stats().slab.pages;
    assert.ok(orphaned >= 3000);
    const b = Heap.attach(heap.buffer);
    const p = b.alloc(24); // adopts the full orphans into its full list, then takes a new page
    assert.ok(!ptrs.includes(p));
    assert.equal(b.stats().slab.pages, orphaned + 1);
    heap.check();
    // Frees from any handle reach the adopted pages; the new owner collects them.
    for (let i = 0; i < 679; i++) heap.free(ptrs[i]);
    const fresh: number[] = [];
    for (let i = 0; i < 678; i++) fresh.push(b.alloc(24)); // the rest of b's new page
    const again = b.alloc(24); // b's pages are full: it collects the remote frees
    assert.ok(ptrs.slice(0, 679).includes(again), "a slot freed by another handle is reused");
    heap.check();
    b.free(again);
    for (const q of fresh) b.free(q);
    b.free(p);
    for (let i = 679; i < ptrs.length; i++) heap.free(ptrs[i]);
    heap.check();
    b.detach();
    heap.detach();
    heap.check();
    const s = heap.stats();
    assert.equal(s.liveAllocations, 0);
    assert.equal(s.slab.pages, 0);
    assert.equal(s.usedBytes, 0);
  });

  it("gives an orphan with free slots to the next worker of its class", () => {
    const heap = Heap.create();
    const a = Heap.attach(heap.buffer);
    const kept = a.alloc(100);
    const freed = a.alloc(100);
    a.free(freed);
    a.detach();
    const b = Heap.attach(heap.buffer);
    const p = b.alloc(100);
    assert.equal(p, freed, "the adopted page's free slot is reused");
    assert.equal(b.usableSize(kept), 104);
    b.free(kept);
    b.free(p);
    heap.check();
  });
});
