/**
 * Per-worker cache of mid-size arena chunks: a worker keeps a few chunks it
 * freed (512 bytes to 32 KiB) and hands them out again without taking the
 * heap lock, so two workers on the arena path mostly stay out of each
 * other's way (tcache in glibc, the thread caches of jemalloc and mimalloc).
 *
 * A cached chunk stays a used chunk of the arena: its header and footer keep
 * the used bit, so the arena never coalesces with it, splits it or lists it,
 * and the arena's counters count it as used (it is neither free space nor a
 * live block). Only its tag and first payload words change (`c` is the chunk):
 *
 * ```
 * c + 4    cachedTag(key, c): an internal tag (alignment log 0, which no
 *          other chunk uses), so `free`/`realloc` of the pointer is told
 *          apart from a live block and reported as a double free
 * c + 8    next cached chunk of the same bin, encoded with the key and its address
 * c + 12   ownerCheck(key, c, block): names the cache that holds the chunk
 * c + 16   size of the next cached chunk, encoded like the link
 * ```
 *
 * The cache itself is a small internal chunk (the **cache block**, tag
 * alignment log 1) reached from the worker's slab area (word `A_CACHE`):
 *
 * ```
 * +0 magic   +1 area   +2 chunks cached   +3 bytes cached
 * +4 flush request (set by another worker that ran out of memory)
 * +8 .. bin heads (CACHE_BINS)   then the size of each bin's head
 * ```
 *
 * Bins hold chunks by size, 8 per power of two; a request takes the head of
 * its own bin or of one of the next two when that chunk fits, is aligned as
 * asked and wastes at most a quarter of the request (`cachePop`). Only the owner
 * pushes and pops, without any lock or atomic operation; everything else
 * (flushing back to the arena, checking) happens with the heap lock held.
 *
 * Hardening: a bin head or link is used only after the chunk it names is
 * checked (inside the arena, 8-aligned, used header with a matching footer
 * and a size of the bin, the cached tag of its address, the owner word of
 * this cache); the size words are hints checked against the header. A
 * failing check throws `HeapCorruptionError` before anything is written.
 * A cached chunk is found again without trusting any list by
 * `cacheFlushByWalk` (a walk of the arena's boundary tags that frees every
 * chunk whose owner word names the cache): `recover()` uses it for a worker
 * that died in the middle of a cache operation.
 *
 * @module
 */

import {
  arenaAlloc,
  arenaChunkOf,
  arenaFree,
  CACHE_BLOCK_ALIGN_LOG,
  cachedTag,
  chunkBytesFor,
  internalTag,
  usedTag,
} from "./arena.ts";
import {
  A_ALLOCS_HI,
  A_ALLOCS_LO,
  A_BEAT,
  A_CLASSES,
  A_MAGIC,
  A_NEXT,
  areaMagic,
  H_SLAB_AREAS,
  H_SLAB_INTERNAL,
} from "./slab.ts";
import { maxAreas } from "./slab_check.ts";
import type { HeapLock } from "../heap/_lock.ts";
import {
  ARENA_START,
  EPILOGUE_BYTES,
  H_HEAP_BYTES,
  H_KEY,
  H_LOCK_BEAT,
  H_OP,
  MIN_CHUNK,
  SIZE_MASK,
  USED_BIT,
} from "../heap/layout.ts";
import { HeapCorruptionError } from "../errors.ts";

/** The smallest chunk (header and tags included) the cache keeps. */
export const CACHE_MIN_CHUNK_BYTES = 512;
/** The largest chunk the cache keeps. */
export const CACHE_MAX_CHUNK_BYTES = 32768;
/** Bins per power of two, as a log2. */
const CACHE_SUB_BITS = 3;
const CACHE_MIN_LOG2 = 9;
/** Number of bins: 8 per power of two from 512 to 32 KiB, and one for exactly 32 KiB. */
export const CACHE_BINS = ((15 - CACHE_MIN_LOG2) << CACHE_SUB_BITS) + 1;
/**
 * The most chunks one cache holds. (Talc's random actions up to 30,000 bytes,
 * 300 live, one handle: the heap lock is taken 0.98 times per operation
 * without a cache, 0.70 with 64 chunks and two bins probed, 0.41 with 256
 * chunks and three; the byte bound holds it below 256 there.)
 */
export const CACHE_MAX_CHUNKS = 256;
/** The most bytes one cache holds (and at most 1/16 of the heap, see `cacheLimitBytes`). */
export const CACHE_MAX_BYTES = 512 * 1024;

/**
 * The word of a worker's slab area that holds its cache block (0: none).
 * Every area ever written (format 2 included) has it zero: areas are
 * zero-filled when made, and nothing else used the word.
 */
export const A_CACHE = 7;
if (A_CACHE <= A_BEAT || A_CACHE >= A_CLASSES) throw new Error("Layout: A_CACHE overlaps the area");

// ---- cache block words ----
/** `cacheMagic(block)`. */
export const K_MAGIC = 0;
/** The slab area the cache belongs to. */
export const K_AREA = 1;
/** Chunks cached. */
export const K_COUNT = 2;
/** Bytes cached (chunk sizes). */
export const K_BYTES = 3;
/** Non-zero when another worker ran out of memory and asks the owner to flush. */
export const K_FLUSH = 4;
/** First bin head. */
export const K_HEADS = 8;
/** Size of the first bin head's chunk (a hint checked against its header). */
export const K_SIZES = K_HEADS + CACHE_BINS;
/** Bytes of a cache block. */
export const CACHE_BLOCK_BYTES = (K_SIZES + CACHE_BINS) * 4;

const CACHE_MAGIC_KEY = 0x4c1e5a3d;
const CACHE_LINK_KEY = 0x2b7d91c5;
const CACHE_SIZE_KEY = 0x1f3a6e97;
const CACHE_OWNER_KEY = 0x36d2b4e1;

if (
  binOfCached(CACHE_MAX_CHUNK_BYTES) !== CACHE_BINS - 1 || binOfCached(CACHE_MIN_CHUNK_BYTES) !== 0
) {
  throw new Error("Layout: cache bins do not cover the cached sizes");
}
if (CACHE_MIN_CHUNK_BYTES < MIN_CHUNK + 12) throw new Error("Layout: a cached chunk needs 5 words");

/** The magic word of a cache block at `block`. */
export function cacheMagic(block: number): number {
  return (block ^ CACHE_MAGIC_KEY) & 0x3fffffff;
}

/** The owner word of a chunk at `c` held by the cache block at `block`. */
export function ownerCheck(key: number, c: number, block: number): number {
  return ((Math.imul(block ^ key ^ CACHE_OWNER_KEY, 0x9e3779b1) ^ c) & 0x3fffffff) | 1;
}

function linkMask(key: number, at: number): number {
  return (at ^ key ^ CACHE_LINK_KEY) & 0x3fffffff;
}

function sizeMask(key: number, at: number): number {
  return (at ^ key ^ CACHE_SIZE_KEY) & 0x3fffffff;
}

/** The bin of a cached chunk of `sizeBytes` (in [512, 32768], a multiple of 8). */
export function binOfCached(sizeBytes: number): number {
  const log2 = 31 - Math.clz32(sizeBytes);
  return ((log2 - CACHE_MIN_LOG2) << CACHE_SUB_BITS) +
    ((sizeBytes >>> (log2 - CACHE_SUB_BITS)) & ((1 << CACHE_SUB_BITS) - 1));
}

/**
 * The most bytes a cache holds in a heap of `heapBytes`: 512 KiB, and at most 1/16 of the heap.
 * (`heapBytes` defaults to the header's size word.)
 */
export function cacheLimitBytes(u32: Uint32Array, heapBytes: number = u32[H_HEAP_BYTES]): number {
  return Math.min(CACHE_MAX_BYTES, heapBytes >>> 4);
}

/** True when a chunk of `sizeBytes` is one the cache keeps. */
export function isCacheableBytes(sizeBytes: number): boolean {
  return sizeBytes >= CACHE_MIN_CHUNK_BYTES && sizeBytes <= CACHE_MAX_CHUNK_BYTES;
}

/**
 * Makes the used chunk whose payload is `block` (at least `CACHE_BLOCK_BYTES`)
 * an empty cache block of the area at `area`: tags it internal with its own
 * alignment log, so it is never a user pointer.
 */
export function cacheInit(u32: Uint32Array, block: number, area: number): void {
  u32[(block - 4) >>> 2] = internalTag(u32[H_KEY], block - 8, CACHE_BLOCK_ALIGN_LOG);
  u32.fill(0, block >>> 2, (block + CACHE_BLOCK_BYTES) >>> 2);
  u32[(block >>> 2) + K_AREA] = area;
  u32[(block >>> 2) + K_MAGIC] = cacheMagic(block);
}

/** True when `block` is a cache block inside the heap (magic and arena tag). */
export function isCacheBlock(u32: Uint32Array, block: number): boolean {
  return block >= ARENA_START + 8 && (block & 7) === 0 &&
    block + CACHE_BLOCK_BYTES <= u32[H_HEAP_BYTES] - EPILOGUE_BYTES &&
    u32[block >>> 2] === cacheMagic(block) &&
    u32[(block - 4) >>> 2] === internalTag(u32[H_KEY], block - 8, CACHE_BLOCK_ALIGN_LOG);
}

/**
 * Checks that `c` (named at byte `from`) is a chunk held by the cache at
 * `block`; returns its size. Throws `HeapCorruptionError` otherwise.
 */
function cachedChunkBytes(
  u32: Uint32Array,
  key: number,
  block: number,
  c: number,
  from: number,
  end: number,
): number {
  const h = u32[c >>> 2];
  const sizeBytes = (h & SIZE_MASK) >>> 0;
  if (
    c >= ARENA_START && (c & 7) === 0 && (h & 7) === USED_BIT &&
    sizeBytes >= CACHE_MIN_CHUNK_BYTES && sizeBytes <= CACHE_MAX_CHUNK_BYTES &&
    c + sizeBytes <= end &&
    u32[(c + 4) >>> 2] === cachedTag(key, c) &&
    u32[(c + 12) >>> 2] === ownerCheck(key, c, block) &&
    u32[(c + sizeBytes - 4) >>> 2] === h
  ) {
    return sizeBytes;
  }
  throw new HeapCorruptionError(
    `arena cache metadata at ${from} names ${c}, which is not a chunk of that cache (a write past a block or after free?)`,
    c,
  );
}

/**
 * Puts the used chunk `c` of `sizeBytes` (a live user block the caller
 * validated, cacheable size) into the cache at `block`. Returns false,
 * writing nothing, when the cache is full or another worker asked for a flush.
 * The owner passes its copy of the heap key and its limit, so that it reads
 * no header word: they share a cache line with the heap lock, which other
 * workers keep taking.
 */
export function cachePush(
  u32: Uint32Array,
  block: number,
  c: number,
  sizeBytes: number,
  key: number = u32[H_KEY],
  limitBytes: number = cacheLimitBytes(u32),
): boolean {
  const k = block >>> 2;
  const bytes = u32[k + K_BYTES] + sizeBytes;
  if (u32[k + K_COUNT] >= CACHE_MAX_CHUNKS || bytes > limitBytes || u32[k + K_FLUSH] !== 0) {
    return false;
  }
  const bin = binOfCached(sizeBytes);
  // The chunk's words first, its tag last: until the tag changes it is the
  // caller's live block; after it, a walk finds it by its owner word even if
  // the bin head below is never written (a cut-short operation).
  u32[(c + 8) >>> 2] = u32[k + K_HEADS + bin] ^ linkMask(key, c + 8);
  u32[(c + 12) >>> 2] = ownerCheck(key, c, block);
  u32[(c + 16) >>> 2] = u32[k + K_SIZES + bin] ^ sizeMask(key, c + 16);
  u32[(c + 4) >>> 2] = cachedTag(key, c);
  u32[k + K_HEADS + bin] = c;
  u32[k + K_SIZES + bin] = sizeBytes;
  u32[k + K_COUNT]++;
  u32[k + K_BYTES] = bytes;
  return true;
}

/**
 * Takes a chunk of at least `needBytes` (in the cached range) whose payload
 * is aligned to `2^alignLog` from the cache at `block`, and makes it a used
 * chunk with that alignment. The chunk is the head of the request's bin or
 * of one of the next two bins, and at most a quarter larger than the request (so a
 * cached chunk never costs the heap much of its efficiency). Returns the
 * chunk, or 0 (writing nothing) when none fits.
 */
export function cachePop(
  u32: Uint32Array,
  block: number,
  needBytes: number,
  alignLog: number,
  key: number = u32[H_KEY],
  end: number = u32[H_HEAP_BYTES] - EPILOGUE_BYTES,
): number {
  const k = block >>> 2;
  if (u32[k + K_FLUSH] !== 0) return 0;
  const maxBytes = needBytes + (needBytes >>> 2);
  let bin = binOfCached(needBytes);
  let sizeBytes = u32[k + K_SIZES + bin];
  if (sizeBytes < needBytes || sizeBytes > maxBytes) {
    if (bin === CACHE_BINS - 1) return 0;
    bin++;
    sizeBytes = u32[k + K_SIZES + bin];
    if (sizeBytes < needBytes || sizeBytes > maxBytes) {
      if (bin === CACHE_BINS - 1) return 0;
      bin++;
      sizeBytes = u32[k + K_SIZES + bin];
      if (sizeBytes < needBytes || sizeBytes > maxBytes) return 0;
    }
  }
  const c = u32[k + K_HEADS + bin];
  if (cachedChunkBytes(u32, key, block, c, (k + K_HEADS + bin) * 4, end) !== sizeBytes) {
    throw new HeapCorruptionError(`arena cache bin ${bin} records a wrong size for ${c}`, c);
  }
  if (((c + 8) & ((1 << alignLog) - 1)) !== 0) return 0;
  // The bin head moves on before the tag changes: a chunk cut off in between
  // still carries its owner word, and a walk gives it back.
  u32[k + K_HEADS + bin] = (u32[(c + 8) >>> 2] ^ linkMask(key, c + 8)) >>> 0;
  u32[k + K_SIZES + bin] = (u32[(c + 16) >>> 2] ^ sizeMask(key, c + 16)) >>> 0;
  u32[k + K_COUNT]--;
  u32[k + K_BYTES] -= sizeBytes;
  u32[(c + 4) >>> 2] = usedTag(key, c, alignLog);
  return c;
}

/**
 * Gives chunks of the cache at `block` back to the arena (heap lock held):
 * from the largest bins down until it holds at most `keepBytes`, then one
 * chunk from each bin in turn until it holds at most `keepChunks` (so a
 * cache full of small chunks does not stay full of them). Returns the number
 * of chunks given back.
 */
export function cacheFlush(
  u32: Uint32Array,
  block: number,
  keepBytes: number,
  keepChunks: number = keepBytes === 0 ? 0 : CACHE_MAX_CHUNKS,
): number {
  const k = block >>> 2;
  let flushed = 0;
  for (let bin = CACHE_BINS - 1; bin >= 0 && u32[k + K_BYTES] > keepBytes; bin--) {
    for (let n = 0; u32[k + K_HEADS + bin] !== 0 && u32[k + K_BYTES] > keepBytes; n++) {
      if (n > CACHE_MAX_CHUNKS) throw tooLong(bin, u32[k + K_HEADS + bin]);
      flushHead(u32, block, bin);
      flushed++;
    }
  }
  // Each pass over the bins gives back at least one chunk while any is listed.
  for (let pass = 0; pass <= CACHE_MAX_CHUNKS && u32[k + K_COUNT] > keepChunks; pass++) {
    let listed = false;
    for (let bin = 0; bin < CACHE_BINS && u32[k + K_COUNT] > keepChunks; bin++) {
      if (u32[k + K_HEADS + bin] === 0) continue;
      flushHead(u32, block, bin);
      flushed++;
      listed = true;
    }
    if (!listed) break; // the count disagrees with the lists: reported below or by check()
  }
  if (keepBytes === 0) {
    // Emptied by its lists: the counters must agree.
    if (u32[k + K_COUNT] !== 0 || u32[k + K_BYTES] !== 0) {
      throw new HeapCorruptionError(
        `arena cache counts ${u32[k + K_COUNT]} chunks (${
          u32[k + K_BYTES]
        } bytes) its lists do not hold`,
        block,
      );
    }
    u32[k + K_FLUSH] = 0;
  }
  return flushed;
}

/** Gives the head chunk of bin `bin` of the cache at `block` back to the arena (checked first). */
function flushHead(u32: Uint32Array, block: number, bin: number): void {
  const k = block >>> 2;
  const key = u32[H_KEY];
  const c = u32[k + K_HEADS + bin];
  const sizeBytes = cachedChunkBytes(
    u32,
    key,
    block,
    c,
    (k + K_HEADS + bin) * 4,
    u32[H_HEAP_BYTES] - EPILOGUE_BYTES,
  );
  u32[k + K_HEADS + bin] = (u32[(c + 8) >>> 2] ^ linkMask(key, c + 8)) >>> 0;
  u32[k + K_SIZES + bin] = (u32[(c + 16) >>> 2] ^ sizeMask(key, c + 16)) >>> 0;
  u32[k + K_COUNT]--;
  u32[k + K_BYTES] -= sizeBytes;
  arenaFree(u32, c);
}

/** The error for a bin that lists more chunks than a cache may hold (a cycle). */
function tooLong(bin: number, c: number): HeapCorruptionError {
  return new HeapCorruptionError(`arena cache bin ${bin} lists more chunks than it may hold`, c);
}

/**
 * Gives back to the arena every chunk held by any of the caches `blocks`,
 * found by a walk of the arena's boundary tags (their lists are not
 * trusted: the owner may have died in the middle of a push or pop), and
 * empties those caches (heap lock held; the chunks must tile the arena).
 * Returns the number of chunks given back.
 */
export function cacheFlushByWalk(u32: Uint32Array, blocks: readonly number[]): number {
  if (blocks.length === 0) return 0;
  const key = u32[H_KEY];
  const limit = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
  const found: number[] = [];
  for (let c = ARENA_START, n = 1; c < limit; n++) {
    if ((n & 4095) === 0) u32[H_LOCK_BEAT]++; // a long walk shows its holder is alive
    const h = u32[c >>> 2];
    const sizeBytes = (h & SIZE_MASK) >>> 0;
    if (sizeBytes < MIN_CHUNK || c + sizeBytes > limit) {
      throw new HeapCorruptionError(`chunk header ${h} does not continue the walk`, c);
    }
    if ((h & USED_BIT) !== 0 && u32[(c + 4) >>> 2] === cachedTag(key, c)) {
      for (const block of blocks) {
        if (u32[(c + 12) >>> 2] === ownerCheck(key, c, block)) found.push(c);
      }
    }
    c += sizeBytes;
  }
  for (const block of blocks) {
    u32.fill(0, (block >>> 2) + K_COUNT, (block + CACHE_BLOCK_BYTES) >>> 2);
  }
  for (const c of found) arenaFree(u32, c);
  return found.length;
}

/** What `cacheCheck` found in one cache. */
export interface CacheCensus {
  /** Chunks the cache holds. */
  chunks: number;
  /** Bytes of those chunks. */
  bytes: number;
}

/**
 * Verifies the cache at `block` of the area at `area` (heap lock held, its
 * owner quiet): magic and tag, every listed chunk held by this cache, in the
 * right bin, with the recorded size, no cycle, and counters that match the
 * lists. Throws `HeapCorruptionError` naming the first broken invariant.
 */
export function cacheCheck(u32: Uint32Array, block: number, area: number): CacheCensus {
  if (!isCacheBlock(u32, block)) {
    throw new HeapCorruptionError(
      `slab area ${area} names ${block}, which is not a cache block`,
      area,
    );
  }
  const k = block >>> 2;
  if (u32[k + K_AREA] !== area) {
    throw new HeapCorruptionError(`arena cache names area ${u32[k + K_AREA]}, not ${area}`, block);
  }
  const key = u32[H_KEY];
  const end = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
  let chunks = 0;
  let bytes = 0;
  for (let bin = 0; bin < CACHE_BINS; bin++) {
    let c = u32[k + K_HEADS + bin];
    let hint = u32[k + K_SIZES + bin];
    let from = (k + K_HEADS + bin) * 4;
    while (c !== 0) {
      if (++chunks > CACHE_MAX_CHUNKS) {
        throw new HeapCorruptionError("arena cache lists more chunks than it may hold", block);
      }
      const sizeBytes = cachedChunkBytes(u32, key, block, c, from, end);
      if (binOfCached(sizeBytes) !== bin) {
        throw new HeapCorruptionError(
          `arena cache bin ${bin} holds a chunk of ${sizeBytes} bytes`,
          c,
        );
      }
      if (hint !== sizeBytes) {
        throw new HeapCorruptionError(
          `arena cache records ${hint} bytes for a ${sizeBytes}-byte chunk`,
          c,
        );
      }
      bytes += sizeBytes;
      from = c + 8;
      hint = (u32[(c + 16) >>> 2] ^ sizeMask(key, c + 16)) >>> 0;
      c = (u32[(c + 8) >>> 2] ^ linkMask(key, c + 8)) >>> 0;
    }
    if (hint !== 0) {
      throw new HeapCorruptionError(
        `arena cache bin ${bin} ends with a size hint of ${hint}`,
        block,
      );
    }
  }
  if (chunks !== u32[k + K_COUNT] || bytes !== u32[k + K_BYTES]) {
    throw new HeapCorruptionError(
      `arena cache counts ${u32[k + K_COUNT]} chunks (${
        u32[k + K_BYTES]
      } bytes) but lists ${chunks} (${bytes} bytes)`,
      block,
    );
  }
  return { chunks, bytes };
}

/**
 * Counts the cached chunks and cache blocks in the arena by a walk of its
 * boundary tags (heap lock held, the chunks already checked to tile it).
 */
export function cacheArenaCensus(u32: Uint32Array): { chunks: number; blocks: number } {
  const key = u32[H_KEY];
  const limit = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
  let chunks = 0;
  let blocks = 0;
  for (let c = ARENA_START, n = 1; c < limit; n++) {
    if ((n & 4095) === 0) u32[H_LOCK_BEAT]++;
    const h = u32[c >>> 2];
    const sizeBytes = (h & SIZE_MASK) >>> 0;
    if (sizeBytes < MIN_CHUNK || c + sizeBytes > limit) {
      throw new HeapCorruptionError(`chunk header ${h} does not continue the walk`, c);
    }
    if ((h & USED_BIT) !== 0) {
      const tag = u32[(c + 4) >>> 2];
      if (tag === cachedTag(key, c)) chunks++;
      else if (tag === internalTag(key, c, CACHE_BLOCK_ALIGN_LOG)) blocks++;
    }
    c += sizeBytes;
  }
  return { chunks, blocks };
}

/** True when the used chunk at `c` is held by some arena cache (its tag says so). */
export function isCachedChunk(u32: Uint32Array, c: number): boolean {
  return u32[(c + 4) >>> 2] === cachedTag(u32[H_KEY], c);
}

// ---- a handle's cache: called by the heap (src/heap/heap.ts) around the arena's locked paths ----

/** Heap-lock waits after which a handle starts its cache (see `AttachOptions.arenaCache`). */
export const CACHE_AFTER_WAITS = 32;
/**
 * The wait count of a handle that never caches: 2^30 waits below the start
 * (kept a small integer, not -Infinity, so the field stays one V8 representation).
 */
export const CACHE_NEVER = -(2 ** 30);

/** True when `s`'s cache block is still the one its area names (not recovered meanwhile). */
function ownsCache(s: HeapLock): boolean {
  if (s.areaWords !== 0 && s.u32[s.areaWords + A_CACHE] === s.cache) return true;
  s.cache = 0;
  return false;
}

/** Takes a chunk for `needBytes` from `s`'s cache, without the lock: the chunk, or 0. */
export function cachePopOwn(s: HeapLock, needBytes: number, alignLog: number): number {
  if (!isCacheableBytes(needBytes) || !ownsCache(s)) return 0;
  const u32 = s.u32;
  // The handle's key and view size instead of the header's words: see `cachePush`.
  const c = cachePop(u32, s.cache, needBytes, alignLog, s.key, s.viewBytes - EPILOGUE_BYTES);
  if (c === 0) return 0;
  // Counted in the area at once (no page refill may follow to flush a pending count).
  const w = s.areaWords;
  const lo = (u32[w + A_ALLOCS_LO] + 1) >>> 0;
  u32[w + A_ALLOCS_LO] = lo;
  if (lo === 0) u32[w + A_ALLOCS_HI]++;
  u32[w + A_BEAT]++; // a heartbeat
  return c;
}

/**
 * Frees the arena block at `ptr` (heap-relative) into `s`'s cache, without
 * the lock unless the cache is full; false (nothing done) when its size is
 * not cached. Bad input throws the pointer error, changing nothing.
 */
export function cachePushOwn(s: HeapLock, ptr: number): boolean {
  const u32 = s.u32;
  const sizeBytes = (u32[(ptr - 8) >>> 2] & SIZE_MASK) >>> 0;
  // The handle's key and view size instead of the header's words: see `cachePush`.
  const limitBytes = cacheLimitBytes(u32, s.viewBytes);
  if (!isCacheableBytes(sizeBytes) || sizeBytes > limitBytes || !ownsCache(s)) return false;
  const c = arenaChunkOf(u32, s.key, "free", ptr, s.viewBytes - EPILOGUE_BYTES);
  if (!cachePush(u32, s.cache, c, sizeBytes, s.key, limitBytes)) {
    // Full (or asked to flush): give half of it back under one lock, then keep this one.
    s.lock();
    try {
      s.begin();
      const flushAll = s.u32[(s.cache >>> 2) + K_FLUSH] !== 0;
      ownCacheFlushLocked(s, flushAll ? 0 : cacheLimitBytes(s.u32) >>> 1, CACHE_MAX_CHUNKS >>> 1);
      if (!cachePush(s.u32, s.cache, c, sizeBytes)) arenaFree(s.u32, c);
      s.end();
    } finally {
      s.unlock();
    }
  }
  u32[s.areaWords + A_BEAT]++; // a heartbeat
  return true;
}

/**
 * `free` of the arena block at `ptr` (heap-relative) through `s`'s cache,
 * for a handle that has waited for the heap lock `CACHE_AFTER_WAITS` times:
 * makes the cache on the first block it would keep, then `cachePushOwn`.
 * False (nothing done) when the block's size is not cached or no cache could
 * be made (tried again after as many waits). Bad input throws, changing nothing.
 */
export function cacheFree(s: HeapLock, ptr: number): boolean {
  if (s.cache === 0) {
    const sizeBytes = (s.u32[(ptr - 8) >>> 2] & SIZE_MASK) >>> 0;
    if (!isCacheableBytes(sizeBytes) || sizeBytes > cacheLimitBytes(s.u32, s.viewBytes)) {
      return false;
    }
    arenaChunkOf(s.u32, s.key, "free", ptr); // bad input throws before the cache is made
    s.lock();
    try {
      createCacheLocked(s);
    } finally {
      s.unlock();
    }
    if (s.cache === 0) {
      s.cacheWaits = 0;
      return false;
    }
  }
  return cachePushOwn(s, ptr);
}

/** Gives `s`'s cached chunks back to the arena down to `keepBytes` and `keepChunks` (heap lock held). */
export function ownCacheFlushLocked(
  s: HeapLock,
  keepBytes: number,
  keepChunks: number = keepBytes === 0 ? 0 : CACHE_MAX_CHUNKS,
): number {
  return s.cache !== 0 && ownsCache(s) ? cacheFlush(s.u32, s.cache, keepBytes, keepChunks) : 0;
}

/** Makes `s`'s cache (heap lock held): none when memory is short or its area was recovered. */
export function createCacheLocked(s: HeapLock): void {
  if (s.area !== 0 && s.u32[s.areaWords + A_MAGIC] !== areaMagic(s.area)) return; // recovered
  s.begin();
  if (!s.ensureAreaLocked()) {
    s.u32[H_OP] = 0;
    return;
  }
  const u32 = s.u32;
  const block = arenaAlloc(u32, chunkBytesFor(CACHE_BLOCK_BYTES), 8, 3); // never grows the heap
  if (block !== 0) {
    cacheInit(u32, block, s.area);
    u32[s.areaWords + A_CACHE] = block;
    u32[H_SLAB_INTERNAL]++; // an allocation of the allocator's own, not a user's
    s.cache = block;
  }
  s.end();
}

/** Empties `s`'s cache into the arena and frees its block (heap lock held; `detach()`). */
export function dropCacheLocked(s: HeapLock): void {
  if (s.cache === 0 || !ownsCache(s)) return;
  const u32 = s.u32;
  const block = s.cache;
  cacheFlush(u32, block, 0);
  s.cache = 0;
  u32[s.areaWords + A_CACHE] = 0;
  u32[block >>> 2] = 0;
  arenaFree(u32, block - 8);
}

/**
 * Gives back every chunk cached by the areas `areas` (found by a walk of the
 * arena: their owners may have died in the middle of a push or pop) and
 * frees their cache blocks (heap lock held; `recover()` and `restore()`).
 */
export function dropCachesByWalkLocked(u32: Uint32Array, areas: readonly number[]): void {
  const blocks: number[] = [];
  for (const a of areas) {
    const block = u32[(a >>> 2) + A_CACHE];
    if (block !== 0 && isCacheBlock(u32, block) && u32[(block >>> 2) + K_AREA] === a) {
      blocks.push(block);
    }
  }
  cacheFlushByWalk(u32, blocks);
  for (const a of areas) u32[(a >>> 2) + A_CACHE] = 0;
  for (const block of blocks) {
    u32[block >>> 2] = 0;
    arenaFree(u32, block - 8);
  }
}

/** Calls `fn` for the cache block of every area on the heap's list that has one (bounded walk). */
function forEachCache(u32: Uint32Array, fn: (block: number, area: number) => void): void {
  let area = u32[H_SLAB_AREAS];
  for (let n = maxAreas(u32); area !== 0; n--) {
    if (n === 0 || u32[(area >>> 2) + A_MAGIC] !== areaMagic(area)) {
      throw new HeapCorruptionError(`slab area list links to ${area}, not an area`, area);
    }
    const block = u32[(area >>> 2) + A_CACHE];
    if (block !== 0) fn(block, area);
    area = u32[(area >>> 2) + A_NEXT];
  }
}

/** Asks every other handle's cache to flush at its next use (heap lock held; out of memory). */
export function requestCacheFlushesLocked(s: HeapLock): void {
  forEachCache(s.u32, (block, area) => {
    if (area !== s.area && isCacheBlock(s.u32, block)) {
      Atomics.store(s.i32, (block >>> 2) + K_FLUSH, 1);
    }
  });
}

/** Chunks and bytes held by all caches, from their counters (heap lock held; `stats()`). */
export function cacheTotals(u32: Uint32Array): { chunks: number; bytes: number; caches: number } {
  let chunks = 0;
  let bytes = 0;
  let caches = 0;
  forEachCache(u32, (block) => {
    if (!isCacheBlock(u32, block)) return;
    chunks += u32[(block >>> 2) + K_COUNT];
    bytes += u32[(block >>> 2) + K_BYTES];
    caches++;
  });
  return { chunks, bytes, caches };
}

/**
 * Verifies every cache and that the arena holds no other cached chunk or
 * cache block (heap lock held, the handles quiet; `check()`).
 */
export function checkCachesLocked(u32: Uint32Array): void {
  let chunks = 0;
  let blocks = 0;
  forEachCache(u32, (block, area) => {
    chunks += cacheCheck(u32, block, area).chunks;
    blocks++;
  });
  const census = cacheArenaCensus(u32);
  if (census.chunks !== chunks || census.blocks !== blocks) {
    throw new HeapCorruptionError(
      `the arena holds ${census.chunks} cached chunks in ${census.blocks} caches, the caches list ${chunks} in ${blocks}`,
      0,
    );
  }
}
