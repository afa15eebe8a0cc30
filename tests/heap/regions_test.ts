import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Heap,
  HeapCorruptionError,
  type HeapRegions,
  LockTimeoutError,
  lockWord,
  RegionKind,
  unlockWord,
} from "../../mod.ts";
import { _setCanBlockForTesting } from "../../src/sync/_blocking.ts";

/** Asserts every figure of the map against stats() and the map's own structure. */
function assertAgrees(heap: Heap, map: HeapRegions): void {
  heap.check();
  const s = heap.stats();
  assert.equal(map.heapBytes, s.heapBytes);
  assert.equal(map.maxBytes, s.maxBytes);
  assert.equal(map.usedBytes, s.usedBytes);
  assert.equal(map.freeBytes, s.freeBytes);
  assert.equal(map.freeChunks, s.freeChunks);
  assert.equal(map.headerBytes + map.epilogueBytes, s.overheadBytes);
  assert.equal(
    map.largestFreeChunkBytes === 0 ? 0 : map.largestFreeChunkBytes - 12,
    s.largestFreeBytes,
  );
  assert.equal(map.pages.length, s.slab.pages);
  assert.equal(map.areas.length, s.slab.areas);
  assert.equal(map.usedSlots, s.slab.usedSlots);
  assert.equal(map.blockChunks + map.usedSlots, s.liveAllocations);
  // Per class, the pages' slots add up to the class figures.
  for (let cls = 0; cls < s.slab.classes.length; cls++) {
    const pages = map.pages.filter((p) => p.classIndex === cls);
    const c = s.slab.classes[cls];
    assert.equal(pages.length, c.pages, `class ${cls} pages`);
    assert.equal(pages.reduce((a, p) => a + p.usedSlots, 0), c.usedSlots, `class ${cls} used`);
    assert.equal(pages.reduce((a, p) => a + p.freeSlots, 0), c.freeSlots, `class ${cls} free`);
  }
  // The chunks tile the arena, in order; sums by kind agree with the totals.
  let end = map.headerBytes;
  let used = 0;
  let free = 0;
  const kinds = [0, 0, 0, 0];
  for (let i = 0; i < map.chunkCount; i++) {
    assert.equal(map.chunkOffset[i], end, `chunk ${i} starts where the previous ended`);
    end += map.chunkBytes[i];
    const kind = map.chunkKind[i];
    kinds[kind]++;
    if (kind === RegionKind.Free) free += map.chunkBytes[i];
    else used += map.chunkBytes[i];
    if (kind === RegionKind.SlabPage) {
      const page = map.pages[map.chunkPage[i]];
      assert.equal(page.chunkIndex, i);
      assert.equal(page.offset, map.chunkOffset[i] + 8);
    } else {
      assert.equal(map.chunkPage[i], -1);
    }
  }
  assert.equal(end + map.epilogueBytes, map.heapBytes);
  assert.equal(used, map.usedBytes);
  assert.equal(free, map.freeBytes);
  assert.deepEqual(kinds, [map.freeChunks, map.blockChunks, map.pages.length, map.areas.length]);
  for (const a of map.areas) assert.equal(map.chunkKind[a.chunkIndex], RegionKind.SlabArea);
}

describe("Heap.regions", () => {
  it("describes a fresh heap as one free chunk", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const map = heap.regions();
    assert.equal(map.chunkCount, 1);
    assert.equal(map.chunkKind[0], RegionKind.Free);
    assert.deepEqual(map.pages, []);
    assertAgrees(heap, map);
  });

  it("agrees with stats() and check() after random operations on several workers", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom("alloc", "alloc", "free", "detach"),
            worker: fc.nat(2),
            size: fc.oneof(
              fc.integer({ min: 1, max: 1024 }),
              fc.integer({ min: 1025, max: 40000 }),
            ),
            pick: fc.nat(),
          }),
          { maxLength: 120 },
        ),
        (ops) => {
          const heap = Heap.create({ initialBytes: 256 * 1024, maxBytes: 8 << 20 });
          const workers = [heap, Heap.attach(heap.buffer), Heap.attach(heap.buffer)];
          const live: number[] = [];
          for (const { op, worker, size, pick } of ops) {
            const w = workers[worker];
            if (op === "alloc") {
              const p = w.tryAlloc(size);
              if (p !== 0) live.push(p);
            } else if (op === "free" && live.length > 0) {
              // Any worker frees: blocks of another worker's pages become remote frees.
              const i = pick % live.length;
              w.free(live[i]);
              live.splice(i, 1);
            } else if (op === "detach") {
              w.detach();
            }
          }
          assertAgrees(heap, heap.regions());
        },
      ),
      { numRuns: 60 },
    );
  });

  it("reports owners, remote frees and orphan pages", () => {
    const heap = Heap.create();
    const other = Heap.attach(heap.buffer);
    const mine = heap.alloc(24);
    const theirs = [other.alloc(24), other.alloc(24), other.alloc(24)];
    heap.free(theirs[0]); // a remote free, not collected yet
    let map = heap.regions();
    const owners = map.pages.map((p) => p.ownerId).sort();
    assert.deepEqual(owners, [heap.workerId, other.workerId].sort());
    const page = map.pages.find((p) => p.ownerId === other.workerId);
    assert.ok(page);
    assert.equal(page.usedSlots, 2);
    assert.equal(page.remoteFreedSlots, 1);
    assert.equal(page.touchedSlots, 3);
    assert.equal(page.state, "active");
    assert.equal(map.areas.length, 2);
    assertAgrees(heap, map);
    other.detach(); // its page still holds live blocks: it becomes an orphan
    map = heap.regions();
    const orphan = map.pages.find((p) => p.ownerId === 0);
    assert.equal(orphan?.state, "orphan");
    assert.equal(map.areas.length, 1);
    assertAgrees(heap, map);
    heap.free(mine);
    for (const p of theirs.slice(1)) heap.free(p);
    assertAgrees(heap, heap.regions());
  });

  it("throws HeapCorruptionError on a chunk whose size was overwritten, without looping", () => {
    for (const bad of [0, 8, 0xfffffff8]) {
      const heap = Heap.create({ initialBytes: 64 * 1024 });
      const p = heap.alloc(5000);
      heap.alloc(5000);
      heap.u32[(p - 8) >>> 2] = bad | 1;
      assert.throws(() => heap.regions(), HeapCorruptionError, `size ${bad}`);
      assert.throws(() => heap.check(), HeapCorruptionError);
    }
  });

  it("throws HeapCorruptionError on a footer that disagrees, or a cycle in the area list", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const p = heap.alloc(5000);
    const size = heap.u32[(p - 8) >>> 2] & ~7;
    heap.u32[(p - 8 + size - 4) >>> 2] ^= 8;
    assert.throws(() => heap.regions(), /footer/);

    const h2 = Heap.create({ initialBytes: 64 * 1024 });
    h2.alloc(24);
    const area = h2.regions().areas[0].offset;
    h2.u32[(area >>> 2) + 2] = area; // A_NEXT points back at itself
    assert.throws(() => h2.regions(), /area list/);
  });

  it("throws HeapCorruptionError when a page lost its magic (page count disagrees)", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    heap.alloc(24);
    const page = heap.regions().pages[0].offset;
    heap.u32[page >>> 2] ^= 1;
    assert.throws(
      () => heap.regions(),
      /internal chunk is neither a slab page nor an area|pages but the arena has 0/,
    );
  });

  it("releases the heap lock after an error", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const p = heap.alloc(5000);
    const word = (p - 8) >>> 2;
    const saved = heap.u32[word];
    heap.u32[word] = 1;
    assert.throws(() => heap.regions(), HeapCorruptionError);
    heap.u32[word] = saved;
    assertAgrees(heap, heap.regions());
    heap.free(p);
  });

  it("spins, bounded by the lock timeout, where the thread may not block (a browser's main thread)", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, lockTimeoutMs: 100 });
    // Another worker holds the heap lock (word 5): an id of no handle of this
    // thread, since waiting for one of those is refused at once as a deadlock.
    const otherId = 1000;
    lockWord(heap.i32, 5, otherId, 1000);
    _setCanBlockForTesting(false); // as on a browser's main thread: no Atomics.wait
    try {
      assert.throws(
        () => heap.regions(),
        (e: unknown) => e instanceof LockTimeoutError && e.ownerId === otherId,
      );
    } finally {
      _setCanBlockForTesting(undefined);
      unlockWord(heap.i32, 5, otherId);
    }
    assertAgrees(heap, heap.regions());
  });
});
