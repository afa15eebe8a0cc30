// The per-worker arena cache (src/alloc/arena_cache.ts), tested directly on
// a heap's words: push and pop with their fit, alignment and limit rules,
// flushing by the lists and by a walk (a push cut short), the checks that
// stop damaged metadata before anything is written, and the arena rule that
// keeps cached chunks unchanged (no alignment gap is given to them).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, HeapCorruptionError } from "../../mod.ts";
import { arenaAlloc, arenaFree, cachedTag, isUsedTag, tagAlignLog } from "../../src/alloc/arena.ts";
import { arenaCheck } from "../../src/alloc/arena_check.ts";
import {
  A_CACHE,
  binOfCached,
  CACHE_BINS,
  CACHE_BLOCK_BYTES,
  CACHE_MAX_CHUNK_BYTES,
  CACHE_MAX_CHUNKS,
  CACHE_MIN_CHUNK_BYTES,
  cacheArenaCensus,
  cacheCheck,
  cacheFlush,
  cacheFlushByWalk,
  cacheInit,
  cacheLimitBytes,
  cachePop,
  cachePush,
  isCacheableBytes,
  isCacheBlock,
  K_BYTES,
  K_COUNT,
  K_FLUSH,
  K_HEADS,
  K_SIZES,
} from "../../src/alloc/arena_cache.ts";
import { A_BEAT, A_CLASSES } from "../../src/alloc/slab.ts";
import { H_FREE_BYTES, H_KEY, H_LIVE, H_USED_BYTES } from "../../src/heap/layout.ts";

/** A heap used only through the arena functions, with one cache block (area 0: none needed here). */
function setup(heapBytes = 4 << 20): { heap: Heap; u32: Uint32Array; block: number } {
  const heap = Heap.create({ initialBytes: heapBytes, maxBytes: heapBytes });
  const u32 = heap.u32;
  const block = arenaAlloc(u32, chunkFor(CACHE_BLOCK_BYTES), 8, 3);
  assert.notEqual(block, 0);
  cacheInit(u32, block, 0);
  return { heap, u32, block };
}

function chunkFor(payloadBytes: number): number {
  return Math.max(24, Math.ceil((payloadBytes + 12) / 8) * 8);
}

/** Allocates a chunk of exactly `chunkBytes` (a multiple of 8) and returns its offset. */
function take(u32: Uint32Array, chunkBytes: number, alignLog = 3): number {
  const p = arenaAlloc(u32, chunkBytes, 1 << alignLog, alignLog);
  assert.notEqual(p, 0);
  assert.equal(u32[(p - 8) >>> 2] & ~7, chunkBytes);
  return p - 8;
}

function words(heap: Heap): Uint32Array {
  return heap.u32.slice(0, heap.byteLength >>> 2);
}

describe("arena cache", () => {
  it("uses area word 7, which lies between the beat and the class entries", () => {
    assert.equal(A_CACHE, 7);
    assert.ok(A_CACHE > A_BEAT && A_CACHE < A_CLASSES);
    // A fresh area (zero-filled when made) has no cache.
    const heap = Heap.create();
    heap.alloc(24);
    const area = heap.regions().areas[0].offset;
    assert.equal(heap.u32[(area >>> 2) + A_CACHE], 0);
  });

  it("bins cover 512 B to 32 KiB, 8 per power of two", () => {
    assert.equal(binOfCached(CACHE_MIN_CHUNK_BYTES), 0);
    assert.equal(binOfCached(CACHE_MAX_CHUNK_BYTES), CACHE_BINS - 1);
    assert.equal(binOfCached(512 + 63 * 8 / 8), 0);
    assert.equal(binOfCached(576), 1);
    assert.equal(binOfCached(1024), 8);
    for (let s = 512; s < 32768; s += 8) {
      assert.ok(binOfCached(s + 8) - binOfCached(s) <= 1, `bins skip at ${s}`);
    }
    assert.ok(!isCacheableBytes(504) && isCacheableBytes(512));
    assert.ok(isCacheableBytes(32768) && !isCacheableBytes(32776));
  });

  it("a pushed chunk is handed out again for a request its size fits, retagged used", () => {
    const { u32, block } = setup();
    const c = take(u32, 2000);
    take(u32, 64); // keeps c away from the free tail
    const usedBefore = u32[H_USED_BYTES];
    const liveBefore = u32[H_LIVE];
    assert.equal(cachePush(u32, block, c, 2000), true);
    assert.equal(u32[(c + 4) >>> 2], cachedTag(u32[H_KEY], c));
    assert.ok(!isUsedTag(u32[H_KEY], c, u32[(c + 4) >>> 2]));
    assert.deepEqual(cacheCheck(u32, block, 0), { chunks: 1, bytes: 2000 });
    // Still a used chunk of the arena: neither free space nor gone from the counters.
    assert.equal(u32[H_USED_BYTES], usedBefore);
    assert.equal(u32[H_LIVE], liveBefore);
    assert.equal(arenaCheck(u32), liveBefore);
    assert.deepEqual(cacheArenaCensus(u32), { chunks: 1, blocks: 1 });
    // Too small a request (it would waste more than a quarter) and too large one miss.
    assert.equal(cachePop(u32, block, 1584, 3), 0);
    assert.equal(cachePop(u32, block, 2008, 3), 0);
    assert.equal(cachePop(u32, block, 1900, 3), c);
    assert.ok(isUsedTag(u32[H_KEY], c, u32[(c + 4) >>> 2]));
    assert.equal(tagAlignLog(u32[(c + 4) >>> 2]), 3);
    assert.deepEqual(cacheCheck(u32, block, 0), { chunks: 0, bytes: 0 });
    assert.equal(arenaCheck(u32), liveBefore);
  });

  it("takes the head of the request's bin or of the next one, LIFO", () => {
    const { u32, block } = setup();
    const a = take(u32, 1000);
    const b = take(u32, 1000);
    const bigger = take(u32, 1200); // two bins up (960..1023 is bin 7, 1152..1279 bin 9)
    take(u32, 64);
    assert.ok(cachePush(u32, block, a, 1000));
    assert.ok(cachePush(u32, block, b, 1000));
    assert.ok(cachePush(u32, block, bigger, 1200));
    assert.equal(cachePop(u32, block, 1000, 3), b); // last in, first out
    assert.equal(cachePop(u32, block, 1000, 3), a);
    assert.equal(cachePop(u32, block, 900, 3), 0); // 1200 > 900 + 900/4
    assert.equal(cachePop(u32, block, 1000, 3), bigger); // 1000's bin is 7: the head of bin 9 fits
    assert.deepEqual(cacheCheck(u32, block, 0), { chunks: 0, bytes: 0 });
  });

  it("hands out only a chunk whose payload has the requested alignment", () => {
    const { u32, block } = setup();
    let c = take(u32, 1000);
    if (((c + 8) & 15) === 0) {
      take(u32, 1000); // c's neighbour ...
      c = take(u32, 1000); // ... shifts the next chunk by 1000 (≡ 8 mod 16)
    }
    assert.equal((c + 8) & 15, 8);
    take(u32, 64);
    assert.ok(cachePush(u32, block, c, 1000));
    assert.equal(cachePop(u32, block, 1000, 4), 0);
    assert.equal(cachePop(u32, block, 1000, 3), c);
  });

  it("refuses, writing nothing, when full by count or by bytes, or asked to flush", () => {
    const { heap, u32, block } = setup(8 << 20);
    const chunks: number[] = [];
    for (let i = 0; i <= CACHE_MAX_CHUNKS; i++) chunks.push(take(u32, 600));
    take(u32, 64);
    for (let i = 0; i < CACHE_MAX_CHUNKS; i++) assert.ok(cachePush(u32, block, chunks[i], 600));
    let before = words(heap);
    assert.equal(cachePush(u32, block, chunks[CACHE_MAX_CHUNKS], 600), false);
    assert.deepEqual(words(heap), before);
    assert.equal(cacheFlush(u32, block, 0), CACHE_MAX_CHUNKS);
    // By bytes: at most 1/16 of the heap (512 KiB) — 16 chunks of 32 KiB.
    assert.equal(cacheLimitBytes(u32), 512 * 1024);
    const big: number[] = [];
    for (let i = 0; i < 17; i++) big.push(take(u32, 32768));
    take(u32, 64);
    for (let i = 0; i < 16; i++) assert.ok(cachePush(u32, block, big[i], 32768));
    before = words(heap);
    assert.equal(cachePush(u32, block, big[16], 32768), false);
    assert.deepEqual(words(heap), before);
    // A flush request stops pushes and pops until the owner flushes.
    u32[(block >>> 2) + K_FLUSH] = 1;
    before = words(heap);
    assert.equal(cachePop(u32, block, 32768, 3), 0);
    assert.equal(cacheFlush(u32, block, 0), 16);
    assert.equal(u32[(block >>> 2) + K_FLUSH], 0);
    assert.ok(cachePush(u32, block, big[16], 32768));
    assert.equal(arenaCheck(u32), u32[H_LIVE]);
  });

  it("flushes by count too, one chunk per bin in turn", () => {
    const { u32, block } = setup(16 << 20);
    const cs: number[] = [];
    for (let i = 0; i < 200; i++) cs.push(take(u32, 600));
    for (let i = 0; i < 56; i++) cs.push(take(u32, 3000));
    take(u32, 64);
    cs.forEach((c, i) => assert.ok(cachePush(u32, block, c, i < 200 ? 600 : 3000)));
    assert.equal(cachePush(u32, block, take(u32, 704), 704), false); // full by count
    const bytes = u32[(block >>> 2) + K_BYTES];
    assert.equal(cacheFlush(u32, block, bytes, 128), 128); // no chunk to go by bytes
    const census = cacheCheck(u32, block, 0);
    assert.equal(census.chunks, 128);
    // Both bins gave chunks back: 56 of the 3000-byte ones, 72 of the 600-byte ones.
    assert.equal(census.bytes, 128 * 600);
    assert.equal(arenaCheck(u32), u32[H_LIVE]);
  });

  it("a small heap caches at most 1/16 of itself", () => {
    const { u32, block } = setup(128 * 1024);
    assert.equal(cacheLimitBytes(u32), 8192);
    const c = take(u32, 9000);
    take(u32, 64);
    assert.equal(cachePush(u32, block, c, 9000), false);
  });

  it("flushes back to the arena, largest bins first, down to what it keeps", () => {
    const { u32, block } = setup();
    const sizes = [600, 5000, 20000, 1504];
    const cs = sizes.map((s) => take(u32, s));
    take(u32, 64);
    cs.forEach((c, i) => assert.ok(cachePush(u32, block, c, sizes[i])));
    const freeBefore = u32[H_FREE_BYTES];
    assert.equal(cacheFlush(u32, block, 2200), 2); // 20000 and 5000 go
    assert.deepEqual(cacheCheck(u32, block, 0), { chunks: 2, bytes: 2104 });
    assert.equal(cacheFlush(u32, block, 0), 2);
    assert.equal(arenaCheck(u32), u32[H_LIVE]);
    // The four chunks are free space again.
    assert.equal(u32[H_FREE_BYTES], freeBefore + 27104);
  });

  it("a walk finds a chunk whose push was cut short before its bin head was written", () => {
    const { u32, block } = setup();
    const c = take(u32, 3000);
    const d = take(u32, 4000);
    take(u32, 64);
    const live = u32[H_LIVE];
    assert.ok(cachePush(u32, block, d, 4000));
    const k = block >>> 2;
    const headsBefore = u32.slice(k, k + CACHE_BLOCK_BYTES / 4);
    assert.ok(cachePush(u32, block, c, 3000));
    u32.set(headsBefore, k); // the cut: the chunk is tagged and owned, its bin head unwritten
    assert.throws(() => cacheArenaCensusMatches(u32, block), HeapCorruptionError);
    assert.equal(cacheFlushByWalk(u32, [block]), 2);
    assert.deepEqual(cacheCheck(u32, block, 0), { chunks: 0, bytes: 0 });
    assert.equal(arenaCheck(u32), live - 2);
    assert.deepEqual(cacheArenaCensus(u32), { chunks: 0, blocks: 1 });
  });

  it("a walk leaves chunks of other caches alone", () => {
    const { u32, block } = setup();
    const other = arenaAlloc(u32, chunkFor(CACHE_BLOCK_BYTES), 8, 3);
    cacheInit(u32, other, 0);
    const c = take(u32, 3000);
    const d = take(u32, 3000);
    take(u32, 64);
    assert.ok(cachePush(u32, block, c, 3000));
    assert.ok(cachePush(u32, other, d, 3000));
    assert.equal(cacheFlushByWalk(u32, [block]), 1);
    assert.deepEqual(cacheCheck(u32, other, 0), { chunks: 1, bytes: 3000 });
    assert.ok(isCacheBlock(u32, other));
  });

  it("a damaged bin head, link, size or owner word is reported before anything is written", () => {
    const cases: Array<[string, (u32: Uint32Array, block: number, c: number, d: number) => void]> =
      [
        ["head names a live block", (u32, block, _c, d) => {
          u32[(block >>> 2) + K_HEADS + binOfCached(3000)] = d; // d is cached by nobody
        }],
        ["head's size hint is wrong", (u32, block) => {
          u32[(block >>> 2) + K_SIZES + binOfCached(3000)] = 3008;
        }],
        ["owner word overwritten after free", (u32, _block, c) => {
          u32[(c + 12) >>> 2] ^= 0x100;
        }],
        ["tag overwritten after free", (u32, _block, c) => {
          u32[(c + 4) >>> 2] ^= 0x100;
        }],
      ];
    for (const [what, damage] of cases) {
      const { heap, u32, block } = setup();
      const c = take(u32, 3000);
      const d = take(u32, 3000);
      take(u32, 64);
      assert.ok(cachePush(u32, block, c, 3000), what);
      damage(u32, block, c, d);
      const before = words(heap);
      assert.throws(() => cachePop(u32, block, 3000, 3), HeapCorruptionError, what);
      assert.deepEqual(words(heap), before, `${what}: the failed pop wrote`);
      assert.throws(() => cacheCheck(u32, block, 0), HeapCorruptionError, what);
      // A flush reads sizes from the headers (the hint does not matter to it).
      if (!what.includes("hint")) {
        assert.throws(() => cacheFlush(u32, block, 0), HeapCorruptionError, what);
      }
    }
  });

  it("a link overwritten after free is caught when it becomes the head, not followed", () => {
    const { heap, u32, block } = setup();
    const a = take(u32, 3000);
    const b = take(u32, 3000);
    const victim = take(u32, 3000); // a live block the forged link names
    take(u32, 64);
    assert.ok(cachePush(u32, block, a, 3000));
    assert.ok(cachePush(u32, block, b, 3000));
    u32[(b + 8) >>> 2] = victim; // a stale write of a raw pointer into the freed block
    assert.equal(cachePop(u32, block, 3000, 3), b); // b itself is sound
    const before = words(heap);
    assert.throws(() => cachePop(u32, block, 3000, 3), HeapCorruptionError);
    assert.deepEqual(words(heap), before);
    assert.ok(isUsedTag(u32[H_KEY], victim, u32[(victim + 4) >>> 2])); // never handed out
  });

  it("counters that disagree with the lists are reported by cacheCheck", () => {
    const { u32, block } = setup();
    const c = take(u32, 3000);
    take(u32, 64);
    assert.ok(cachePush(u32, block, c, 3000));
    u32[(block >>> 2) + K_COUNT]++;
    assert.throws(() => cacheCheck(u32, block, 0), /counts 2 chunks/);
    u32[(block >>> 2) + K_COUNT]--;
    u32[(block >>> 2) + K_BYTES] += 8;
    assert.throws(() => cacheCheck(u32, block, 0), /3008 bytes/);
    u32[(block >>> 2) + K_BYTES] -= 8;
    assert.throws(() => cacheCheck(u32, block, 8), /names area 0, not 8/);
    assert.deepEqual(cacheCheck(u32, block, 0), { chunks: 1, bytes: 3000 });
  });

  it("an aligned allocation never gives its alignment gap to a cached chunk before it", () => {
    // Regression: carve() gave a gap below MIN_CHUNK to the used chunk before
    // the free chunk it split. For a cached chunk that changed its size while
    // its owner read it without the lock ("records a wrong size").
    const { u32, block } = setup();
    let a = take(u32, 1000);
    let f = take(u32, 1000);
    if (((f + 8) & 15) !== 8) {
      a = f;
      f = take(u32, 1000);
    }
    assert.equal((f + 8) & 15, 8); // f's payload is 8 bytes short of a 16-byte boundary
    take(u32, 64);
    arenaFree(u32, f);
    assert.ok(cachePush(u32, block, a, 1000));
    const header = u32[a >>> 2];
    const p = arenaAlloc(u32, 960, 16, 4); // fits in f with an 8-byte gap
    assert.ok(p > f && p < f + 1000);
    assert.equal(u32[a >>> 2], header);
    assert.equal(u32[(a + 1000 - 4) >>> 2], header);
    assert.deepEqual(cacheCheck(u32, block, 0), { chunks: 1, bytes: 1000 });
    assert.equal(arenaCheck(u32), u32[H_LIVE]);
  });
});

/** Throws unless the arena holds exactly the chunks the cache at `block` lists (one cache). */
function cacheArenaCensusMatches(u32: Uint32Array, block: number): void {
  const listed = cacheCheck(u32, block, 0).chunks;
  const census = cacheArenaCensus(u32);
  if (census.chunks !== listed) {
    throw new HeapCorruptionError(`arena holds ${census.chunks} cached chunks, lists ${listed}`, 0);
  }
}
