import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

// The buffer is committed lazily: only the pages the allocator writes (a few
// boundary tags) take memory, so these heaps cost little on any machine.
describe("Heaps and blocks of 2 GiB or more", () => {
  it("a fresh 3 GiB heap passes check(), stats() and recover()", () => {
    const heap = Heap.create({
      initialBytes: 3 * GiB,
      maxBytes: 3 * GiB + 512 * MiB,
      lockTimeoutMs: 50, // recover() watches a worker this long
    });
    heap.check();
    const s = heap.stats();
    assert.equal(s.heapBytes, 3 * GiB);
    assert.equal(s.usedBytes + s.freeBytes + s.overheadBytes, s.heapBytes);
    assert.ok(s.largestFreeBytes > 2 * GiB);
    const other = Heap.attach(heap.buffer);
    assert.deepEqual(heap.recover(other.workerId), { lockReleased: false, areas: 0, pages: 0 });
  });

  it("a block above 2 GiB goes through alloc, realloc, free and coalescing", () => {
    const heap = Heap.create({
      initialBytes: 1 * MiB,
      maxBytes: 3 * GiB + 512 * MiB,
      lockTimeoutMs: 50,
    });
    const size = 2 * GiB + 4096;
    const big = heap.alloc(size); // grows the heap past 2 GiB
    assert.ok(heap.byteLength >= 2 * GiB + 4096);
    assert.ok(heap.usableSize(big) >= size);
    heap.u8[big + 100] = 7;
    heap.u8[big + size - 1] = 9;
    heap.check();
    let s = heap.stats();
    assert.ok(s.usedBytes > 2 * GiB, `usedBytes ${s.usedBytes}`);
    assert.equal(s.usedBytes + s.freeBytes + s.overheadBytes, s.heapBytes);
    // A free neighbour after it (the heap grows for the spacer), so realloc
    // grows in place into it, then shrinks in place.
    heap.free(heap.alloc(256 * MiB));
    const grown = heap.realloc(big, size + 64 * MiB);
    assert.equal(grown, big);
    assert.ok(heap.usableSize(big) >= size + 64 * MiB);
    assert.equal(heap.realloc(big, size - 1024), big);
    assert.ok(heap.usableSize(big) >= size - 1024 && heap.usableSize(big) < size);
    heap.check();
    // A neighbour after it, then free the big block: it coalesces with the free space.
    const after = heap.alloc(100_000);
    assert.ok(after > big);
    heap.check();
    heap.free(big);
    heap.check();
    s = heap.stats();
    assert.ok(s.largestFreeBytes >= size - 1024, `largest ${s.largestFreeBytes}`);
    heap.free(after);
    heap.check();
    s = heap.stats();
    assert.equal(s.liveAllocations, 0);
    assert.equal(s.freeChunks, 1);
    assert.equal(s.freeBytes + s.overheadBytes, s.heapBytes);
    // The whole space is one block again.
    const again = heap.alloc(s.largestFreeBytes);
    assert.equal(again, big);
    assert.equal(heap.u8[again + 100], 7);
    heap.free(again);
    const other = Heap.attach(heap.buffer);
    other.alloc(24);
    assert.deepEqual(heap.recover(other.workerId), { lockReleased: false, areas: 1, pages: 1 });
    heap.check();
  });
});
