// The arena cache through the public Heap API, in one thread: handles
// attached with `arenaCache: true` reuse their freed mid-size blocks without
// the heap lock; stats(), check() and regions() account for cached chunks;
// a cached block freed again is a double free; memory runs short → caches
// are flushed; detach() and recover() give cached chunks back.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DoubleFreeError,
  Heap,
  HeapCorruptionError,
  OutOfMemoryError,
  RegionKind,
  UseAfterFreeError,
} from "../../mod.ts";
import { A_CACHE, CACHE_BINS, K_COUNT, K_HEADS, K_SIZES } from "../../src/alloc/arena_cache.ts";

/** The heap lock word (src/heap/layout.ts): 0 when free. */
const H_LOCK = 5;

function cachingPair(options: { initialBytes?: number; maxBytes?: number } = {}): {
  heap: Heap;
  worker: Heap;
} {
  const heap = Heap.create({ lockTimeoutMs: 50, ...options });
  const worker = Heap.attach(heap.buffer, { arenaCache: true });
  return { heap, worker };
}

/** A copy of the heap's bytes, to prove that a failed call changed nothing. */
function bytesOf(heap: Heap): Uint8Array {
  return heap.u8.slice(0, heap.byteLength);
}

/** The cache block of the handle whose area is `area` (0 when none). */
function cacheBlockOf(heap: Heap, workerId: number): number {
  const area = heap.regions().areas.find((a) => a.ownerId === workerId);
  return area === undefined ? 0 : heap.u32[(area.offset >>> 2) + A_CACHE];
}

describe("arena cache through the heap", () => {
  it("reuses a freed block without the heap lock, and counts it as neither free nor live", () => {
    const { heap, worker } = cachingPair();
    const keep = worker.alloc(5000);
    const p = worker.alloc(3000);
    worker.free(p); // makes the cache (under the lock) and keeps p in it
    const q = worker.alloc(3000); // p again, from the cache
    const before = heap.stats();
    worker.free(q); // into the cache
    const after = heap.stats();
    assert.equal(after.cachedChunks, 1);
    assert.ok(after.cachedBytes >= 3012);
    assert.equal(after.liveAllocations, before.liveAllocations - 1);
    assert.equal(after.freeBytes, before.freeBytes); // not free arena space
    assert.equal(after.usedBytes + after.freeBytes + after.overheadBytes, after.heapBytes);
    heap.check();
    // With the heap lock held by someone else, the cached block is still handed out.
    Atomics.store(heap.i32, H_LOCK, 999 << 1);
    const r = worker.alloc(2900);
    Atomics.store(heap.i32, H_LOCK, 0);
    assert.equal(r, q);
    assert.equal(heap.stats().cachedChunks, 0);
    assert.equal(heap.stats().liveAllocations, before.liveAllocations);
    assert.equal(heap.stats().totalAllocations, before.totalAllocations + 1);
    worker.free(keep);
    worker.free(r);
    heap.check();
  });

  it("a cache full of small blocks makes room: later frees are still cached", () => {
    // Regression: a full cache gave back chunks only by bytes, so 256 small
    // chunks (well below the byte bound) kept it full, and every later free
    // and most allocations took the heap lock again.
    const { heap, worker } = cachingPair({ initialBytes: 64 << 20 });
    // 600-byte blocks aligned to 128 go to the arena (beyond the slab's alignments).
    const small = Array.from({ length: 300 }, () => worker.alloc(600, 128));
    const big = worker.alloc(20_000);
    worker.alloc(100);
    for (const p of small) worker.free(p); // 256 cached, then the cache overflows
    assert.ok(heap.stats().cachedChunks <= 256);
    worker.free(big);
    // With the heap lock held by someone else, the big block comes back from the cache.
    Atomics.store(heap.i32, H_LOCK, 999 << 1);
    let again = 0;
    try {
      again = worker.alloc(20_000);
    } finally {
      Atomics.store(heap.i32, H_LOCK, 0);
    }
    assert.equal(again, big);
    heap.check();
  });

  it("regions() shows cached chunks and the cache block as ArenaCache, not as blocks", () => {
    const { heap, worker } = cachingPair();
    worker.free(worker.alloc(3000)); // creates the cache
    const a = worker.alloc(4000);
    worker.alloc(100);
    worker.free(a);
    const map = heap.regions();
    const stats = heap.stats();
    let cacheChunks = 0;
    for (let i = 0; i < map.chunkCount; i++) {
      if (map.chunkKind[i] === RegionKind.ArenaCache) cacheChunks++;
    }
    assert.equal(cacheChunks, 3); // the two cached blocks and the cache block
    assert.equal(map.blockChunks + map.usedSlots, stats.liveAllocations);
    assert.equal(map.usedBytes, stats.usedBytes);
  });

  it("a cached block freed, resized or measured again is a double free that changes nothing", () => {
    const { heap, worker } = cachingPair();
    worker.free(worker.alloc(3000));
    const p = worker.alloc(6000);
    worker.alloc(64);
    worker.free(p);
    assert.equal(heap.stats().cachedChunks, 2);
    for (
      const [what, call] of [
        ["free by its handle", () => worker.free(p)],
        ["free by another handle", () => heap.free(p)],
        ["realloc", () => worker.realloc(p, 100)],
        ["usableSize", () => heap.usableSize(p)],
      ] as const
    ) {
      const before = bytesOf(heap);
      assert.throws(call, DoubleFreeError, what);
      assert.deepEqual(bytesOf(heap), before, `${what} wrote`);
    }
    heap.check();
  });

  it("a block cached by one handle and taken again is freed by another into the other's cache", () => {
    const { heap, worker } = cachingPair();
    const other = Heap.attach(heap.buffer, { arenaCache: true });
    worker.free(worker.alloc(3000));
    other.free(other.alloc(3000));
    const p = worker.alloc(6000);
    worker.alloc(64);
    worker.free(p); // cached by `worker`
    const q = worker.alloc(6000); // handed out again from its cache
    assert.equal(q, p);
    other.free(q); // freed by another handle: into that handle's cache
    assert.equal(heap.stats().cachedChunks, 3); // each handle's first 3000-byte block, and q
    assert.equal(heap.u32[(cacheBlockOf(heap, other.workerId) >>> 2) + K_COUNT], 2);
    assert.equal(heap.u32[(cacheBlockOf(heap, worker.workerId) >>> 2) + K_COUNT], 1);
    heap.check();
    assert.equal(other.alloc(6000), p); // and reused by that handle
    heap.check();
  });

  it("without arenaCache: true a single handle never caches; with false, never", () => {
    const heap = Heap.create();
    const off = Heap.attach(heap.buffer, { arenaCache: false });
    for (const h of [heap, off]) {
      for (let i = 0; i < 4; i++) h.free(h.alloc(3000 + i * 1000));
    }
    assert.equal(heap.stats().cachedChunks, 0);
    assert.equal(cacheBlockOf(heap, heap.workerId), 0);
    assert.throws(
      () => Heap.attach(heap.buffer, { arenaCache: 1 as unknown as boolean }),
      /arenaCache must be a boolean: number/,
    );
  });

  it("debug mode never caches, so a write after free is still caught", () => {
    const heap = Heap.create({ debug: true });
    const worker = Heap.attach(heap.buffer, { arenaCache: true });
    worker.free(worker.alloc(3000));
    const p = worker.alloc(3000);
    worker.free(p);
    assert.equal(heap.stats().cachedChunks, 0);
    worker.u8[p + 10] = 1; // a write after free
    assert.throws(() => worker.check(), UseAfterFreeError); // the handle whose quarantine holds it
  });

  it("running out of memory flushes the handle's own cache before growing or failing", () => {
    const { heap, worker } = cachingPair({ initialBytes: 256 * 1024, maxBytes: 256 * 1024 });
    worker.free(worker.alloc(3000));
    const blocks: number[] = [];
    for (let i = 0; i < 5; i++) blocks.push(worker.alloc(3000));
    for (const b of blocks) worker.free(b);
    assert.equal(heap.stats().cachedChunks, 5);
    const largest = heap.stats().largestFreeBytes;
    // A block larger than the largest free chunk, but not than free + cached.
    const p = worker.alloc(largest + 8000);
    assert.equal(heap.stats().cachedChunks, 0);
    worker.free(p);
    heap.check();
  });

  it("another handle out of memory asks the others to flush; their next use does", () => {
    const { heap, worker } = cachingPair({ initialBytes: 256 * 1024, maxBytes: 256 * 1024 });
    worker.free(worker.alloc(3000));
    const blocks: number[] = [];
    for (let i = 0; i < 5; i++) blocks.push(worker.alloc(3000));
    for (const b of blocks) worker.free(b);
    const need = heap.stats().largestFreeBytes + 8000;
    assert.throws(() => heap.alloc(need), OutOfMemoryError); // it cannot flush another's cache
    assert.equal(heap.stats().cachedChunks, 5);
    heap.check();
    const r = worker.alloc(2000); // a cache use: it sees the request and flushes
    assert.equal(heap.stats().cachedChunks, 0);
    heap.free(heap.alloc(need));
    worker.free(r);
    heap.check();
  });

  it("detach() gives the cached chunks back and frees the cache", () => {
    const { heap, worker } = cachingPair();
    worker.free(worker.alloc(3000));
    const ps = [worker.alloc(3000), worker.alloc(9000), worker.alloc(1500)];
    for (const p of ps) worker.free(p);
    assert.equal(heap.stats().cachedChunks, 3);
    worker.detach();
    const s = heap.stats();
    assert.equal(s.cachedChunks, 0);
    assert.equal(s.liveAllocations, 0);
    assert.equal(s.slab.areas, 0);
    heap.check();
    for (let i = 0; i < heap.regions().chunkCount; i++) {
      assert.notEqual(heap.regions().chunkKind[i], RegionKind.ArenaCache);
    }
  });

  it("recover() of a dead worker gives its cached chunks back, even off its lists", () => {
    const { heap, worker } = cachingPair();
    worker.free(worker.alloc(3000));
    const ps = [worker.alloc(3000), worker.alloc(9000), worker.alloc(20_000)];
    const live = worker.alloc(5000);
    for (const p of ps) worker.free(p);
    // The worker "dies" in the middle of a push: a chunk tagged and owned by
    // its cache, its bin head never written (simulated by clearing a head).
    const block = cacheBlockOf(heap, worker.workerId);
    const k = block >>> 2;
    let cleared = false;
    for (let bin = 0; bin < CACHE_BINS && !cleared; bin++) {
      if (heap.u32[k + K_HEADS + bin] !== 0) {
        heap.u32[k + K_HEADS + bin] = 0;
        heap.u32[k + K_SIZES + bin] = 0;
        cleared = true;
      }
    }
    assert.ok(cleared);
    assert.throws(() => heap.check(), HeapCorruptionError);
    const report = heap.recover(worker.workerId);
    assert.equal(report.areas, 1);
    const s = heap.stats();
    assert.equal(s.cachedChunks, 0);
    assert.equal(s.liveAllocations, 1); // `live` stays valid
    heap.check();
    heap.free(live);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });

  it("a handle recovered while still running drops its cache instead of using freed memory", () => {
    const { heap, worker } = cachingPair();
    worker.free(worker.alloc(3000));
    const p = worker.alloc(3000);
    worker.alloc(64);
    worker.free(p);
    heap.recover(worker.workerId); // wrongly: the worker is idle, not dead
    heap.check();
    const q = worker.alloc(3000); // the old cache is gone: from the arena, not a freed block
    assert.equal(heap.stats().cachedChunks, 0);
    worker.free(q);
    heap.check();
  });

  it("recover(own id) after a cut-short cache push rebuilds the cache by a walk", () => {
    const { heap, worker } = cachingPair();
    worker.free(worker.alloc(3000));
    const p = worker.alloc(3000);
    worker.alloc(64);
    worker.free(p);
    const k = cacheBlockOf(heap, worker.workerId) >>> 2;
    heap.u32[k + K_COUNT] = 0; // counters that disagree with the lists
    assert.throws(() => worker.check(), /arena cache counts 0 chunks/);
    worker.recover(worker.workerId);
    worker.check();
    assert.equal(heap.stats().cachedChunks, 0);
    worker.free(worker.alloc(3000));
    worker.check();
  });

  it("a restored snapshot gives the old process's cached chunks back", () => {
    const { heap, worker } = cachingPair();
    worker.free(worker.alloc(3000));
    const keep = worker.alloc(4000);
    const p = worker.alloc(9000);
    worker.free(p);
    heap.setRoot("keep", keep);
    assert.equal(heap.stats().cachedChunks, 2);
    const copy = Heap.restore(heap.snapshot());
    const s = copy.stats();
    assert.equal(s.cachedChunks, 0);
    assert.equal(s.liveAllocations, 1);
    copy.check();
    copy.free(copy.getRoot("keep"));
    copy.check();
  });
});
