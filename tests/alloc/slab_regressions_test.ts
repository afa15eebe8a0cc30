import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, lockWord, unlockWord } from "../../mod.ts";

const HEAP_LOCK_WORD = 5; // header word of the heap lock (src/heap/layout.ts H_LOCK)
const PAGE_MAGIC_KEY = 0x51ab9a6e; // src/alloc/slab.ts

describe("slab regressions", () => {
  it("gives back an orphan page once another worker freed its last slot", () => {
    const heap = Heap.create();
    const w = Heap.attach(heap.buffer);
    const p = w.alloc(24);
    w.detach();
    heap.free(p);
    heap.detach();
    const s = heap.stats();
    assert.equal(s.slab.pages, 0);
    assert.equal(s.usedBytes, 0);
    assert.equal(s.liveAllocations, 0);
    heap.check();
  });

  it("allocClass rejects indexes that are not classes and changes nothing", () => {
    const heap = Heap.create();
    for (const bad of [40, -1, 1.5, NaN, 2 ** 32]) {
      assert.throws(() => heap.allocClass(bad), RangeError, String(bad));
    }
    heap.check();
    heap.free(heap.alloc(8)); // the lock is free and the heap works
    heap.check();
  });

  it("a free that empties a page does not wait for a busy heap lock", () => {
    const heap = Heap.create({ lockTimeoutMs: 50 });
    const slots = 679; // 24-byte slots in a 16 KiB page
    const ptrs: number[] = [];
    for (let i = 0; i < slots * 3 + 1; i++) ptrs.push(heap.alloc(24));
    // Page 1 becomes the spare; page 2 keeps one slot.
    for (let i = 0; i < slots; i++) heap.free(ptrs[i]);
    for (let i = slots; i < 2 * slots - 1; i++) heap.free(ptrs[i]);
    const other = Heap.attach(heap.buffer);
    lockWord(other.i32, HEAP_LOCK_WORD, other.workerId, 1000);
    try {
      heap.free(ptrs[2 * slots - 1]); // empties page 2: must not throw LockTimeoutError
    } finally {
      unlockWord(other.i32, HEAP_LOCK_WORD, other.workerId);
    }
    heap.check();
    for (let i = 2 * slots; i < ptrs.length; i++) heap.free(ptrs[i]);
    heap.detach();
    heap.check();
    assert.equal(heap.stats().slab.pages, 0);
  });

  it("frees an arena block at a page boundary whose first word looks like a page magic", () => {
    const heap = Heap.create({ initialBytes: 4 << 20 });
    // Arena chunks have 12 bytes of tags (8 before the payload, 4 after): pad
    // so that the next block's payload starts exactly on a 16 KiB boundary.
    const first = heap.alloc(2000);
    const end = first - 8 + heap.usableSize(first) + 12;
    let padChunk = Math.ceil((end + 8) / 16384) * 16384 - 8 - end;
    if (padChunk - 12 <= 1024) padChunk += 16384; // keep the pad in the arena
    const pad = heap.alloc(padChunk - 12);
    const target = heap.alloc(2000);
    const blocks = [first, pad, target];
    assert.equal(target % 16384, 0, "the block lands on a 16 KiB boundary");
    heap.u32[target >>> 2] = (target ^ PAGE_MAGIC_KEY) & 0x3fffffff;
    assert.ok(heap.usableSize(target) >= 2000);
    for (const p of blocks) heap.free(p);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });

  it("realloc of a slot into an arena block copies no more than the block holds", () => {
    // A fixed heap with the 40-byte class's page and small arena blocks but
    // no room for another page: a slot moved to the 24-byte class lands in
    // the arena, in a chunk whose usable size (20 bytes for 17) is not a
    // multiple of 8.
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 * 1024 });
    const slot = heap.alloc(40);
    heap.u8.fill(0xab, slot, slot + 40);
    const filler: number[] = [];
    for (let p = heap.tryAlloc(2000); p !== 0; p = heap.tryAlloc(2000)) filler.push(p);
    const moved = heap.realloc(slot, 17);
    assert.equal(heap.stats().slab.classes[2].pages, 0, "moved into the arena, not a 24-byte page");
    assert.deepEqual([...heap.u8.subarray(moved, moved + 17)], new Array(17).fill(0xab));
    heap.check(); // the next chunk's boundary tag is intact
    heap.free(moved);
    for (const p of filler) heap.free(p);
    heap.check();
  });
});
