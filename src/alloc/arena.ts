/**
 * The arena: the general allocator (Talc / TLSF family) whose state lives in
 * the heap buffer.
 *
 * A chunk is a run of bytes that starts 8-aligned and whose size is a multiple
 * of 8 (at least `MIN_CHUNK`):
 *
 * ```
 * c + 0          header: size | USED_BIT      (size in bits 3..31, flag in bit 0)
 * c + 4          tag: used → usedTag(key, c, alignLog) (internalTag for the
 *                allocator's own chunks: slab pages, areas), free → freeTag(key, c, size)
 * c + 8          payload (used) / next free chunk, encoded (free)
 * c + 12         payload (used) / previous free chunk, encoded (free)
 * c + size - 4   footer: a copy of the header
 * ```
 *
 * The flag lives in bit 0, which a size that is a multiple of 8 never uses, so
 * no size can ever be read as a flag (the failure behind Talc's PR #49).
 * Free chunks sit in segregated bins: 64 linear bins 8 bytes apart below 512
 * bytes, then 16 bins per power of two. A two-level bitmap of non-empty bins
 * finds a fitting bin with a few `Math.clz32` steps. Freed chunks coalesce at
 * once with both neighbours, so no two free chunks are ever adjacent.
 *
 * Hardening: tags and free-list links are mixed with the heap's random key
 * (`H_KEY`) and their own address (glibc's safe-linking, keyed per heap), so
 * a stale or overflowing user write cannot forge one, and a copied tag does
 * not verify at another address. Every chunk reached through memory a user
 * could have written (a bin head's chunk, a decoded link, a neighbour taken
 * as free) is checked to be a free chunk inside the arena, 8-aligned, with a
 * valid tag and a footer matching its header, before anything is written;
 * a failing check throws `HeapCorruptionError`.
 *
 * These functions trust their arguments: the `Heap` validates pointers and
 * sizes and holds the heap lock around every call.
 *
 * @module
 */

import {
  ARENA_START,
  BIN_COUNT,
  BITMAP_WORDS,
  CHUNK_OVERHEAD,
  EPILOGUE_BYTES,
  H_BINS,
  H_BITMAP,
  H_BITMAP_SUMMARY,
  H_FREE_BYTES,
  H_FREE_CHUNKS,
  H_HEAP_BYTES,
  H_HWM,
  H_KEY,
  H_LIVE,
  H_LOCK_BEAT,
  H_TOTAL_HI,
  H_TOTAL_LO,
  H_TRIP_HWM,
  H_USED_BYTES,
  MIN_CHUNK,
  SIZE_MASK,
  SMALL_BINS,
  SMALL_LIMIT,
  SMALL_LIMIT_LOG2,
  SUB_BITS,
  USED_BIT,
} from "../heap/layout.ts";
import { assert, DEBUG } from "../_debug.ts";
import { DoubleFreeError, HeapCorruptionError, InvalidPointerError } from "../errors.ts";

const SUB_MASK = (1 << SUB_BITS) - 1;
/** Most free chunks looked at in one bin before moving to a bin that surely fits. */
const WALK_LIMIT = 16;
const USED_TAG_KEY = 0x3a5c9e00;
const FREE_TAG_KEY = 0x6b1d4700;
const USED_TAG_MARK = 0b101;
const FREE_TAG_MARK = 0b011;
/** Marks the allocator's own chunks (slab pages and areas): never accepted as a user pointer. */
const INTERNAL_TAG_MARK = 0b111;

// Tags mix the whole address with the heap key (a multiply spreads its low
// bits up), so two chunks never share a tag however close they are.
// Tags and magic words stay below 2^30 so V8 keeps them as small integers
// (a larger uint32 returned from a call is boxed as a heap number: ~10 ns each).

/** The tag word of a used chunk at `c` whose payload is aligned to `2^alignLog`, in a heap keyed `key`. */
export function usedTag(key: number, c: number, alignLog: number): number {
  return ((Math.imul(c ^ key, 0x9e3779b1) ^ USED_TAG_KEY) & 0x3fffff00) | (alignLog << 3) |
    USED_TAG_MARK;
}

/** True when `tag` is a valid used tag for a chunk at `c` in a heap keyed `key`. */
export function isUsedTag(key: number, c: number, tag: number): boolean {
  return (tag & ~0xf8) ===
      (((Math.imul(c ^ key, 0x9e3779b1) ^ USED_TAG_KEY) & 0x3fffff00) | USED_TAG_MARK) &&
    ((tag >>> 3) & 31) <= 16;
}

/** The tag word of an internal (allocator-owned) used chunk at `c` in a heap keyed `key`. */
export function internalTag(key: number, c: number, alignLog: number): number {
  return ((Math.imul(c ^ key, 0x9e3779b1) ^ USED_TAG_KEY) & 0x3fffff00) | (alignLog << 3) |
    INTERNAL_TAG_MARK;
}

/**
 * The alignment log that an arena cache's chunk records in its internal tag
 * (`src/alloc/arena_cache.ts`): no other chunk records it (every block is at
 * least 8-aligned), so the tag alone tells a cached chunk.
 */
export const CACHED_ALIGN_LOG = 0;
/** The alignment log an arena cache's own block records in its internal tag. */
export const CACHE_BLOCK_ALIGN_LOG = 1;

/** The tag word of a chunk at `c` held by an arena cache, in a heap keyed `key`. */
export function cachedTag(key: number, c: number): number {
  return internalTag(key, c, CACHED_ALIGN_LOG);
}

/** True when `tag` is a valid internal-chunk tag for a chunk at `c` in a heap keyed `key`. */
export function isInternalTag(key: number, c: number, tag: number): boolean {
  return (tag & ~0xf8) ===
      (((Math.imul(c ^ key, 0x9e3779b1) ^ USED_TAG_KEY) & 0x3fffff00) | INTERNAL_TAG_MARK) &&
    ((tag >>> 3) & 31) <= 16;
}

/**
 * The tag word of a free chunk of `sizeBytes` at `c` (also left behind where a
 * freed block started). It covers the size, so a header overwritten by a
 * stray write does not verify, and a free chunk is checked from one cache
 * line (header and tag) without reading its footer.
 */
export function freeTag(key: number, c: number, sizeBytes: number): number {
  return ((Math.imul(c ^ key, 0x9e3779b1) ^ FREE_TAG_KEY ^ Math.imul(sizeBytes, 0x85ebca6b)) &
    0x3fffff00) |
    FREE_TAG_MARK;
}

/**
 * The mask a free-list link stored at byte `at` is XORed with: the heap key
 * mixed with the link's own address (below 2^30, so an encoded pointer below
 * 2^30 stays a small integer in V8). Its low 3 bits are random, so a stray
 * 8-aligned value (or 0) decodes to a misaligned pointer 7 times in 8.
 */
export function linkMask(key: number, at: number): number {
  return (at ^ key) & 0x3fffffff;
}

/** Reads, decodes and validates the arena free-list link at byte `at`: 0 or a free chunk. */
function readLink(u32: Uint32Array, key: number, at: number): number {
  const p = (u32[at >>> 2] ^ linkMask(key, at)) >>> 0;
  if (p !== 0) freeChunkBytes(u32, key, p, at);
  return p;
}

/**
 * Checks that `c` (reached from byte `from`) is a free chunk: inside the
 * arena, 8-aligned, a free header whose size fits, and the free tag of that
 * address and size.
 * Returns its size; throws `HeapCorruptionError` otherwise (writing nothing).
 */
function freeChunkBytes(u32: Uint32Array, key: number, c: number, from: number): number {
  const h = u32[c >>> 2];
  if (
    c >= ARENA_START && (c & 7) === 0 && (h & 7) === 0 && h >= MIN_CHUNK &&
    c + h <= u32[H_HEAP_BYTES] - EPILOGUE_BYTES && u32[(c + 4) >>> 2] === freeTag(key, c, h)
  ) {
    return h;
  }
  return notFreeChunk(c, from);
}

/** The cold end of `freeChunkBytes`. */
function notFreeChunk(c: number, from: number): never {
  throw new HeapCorruptionError(
    `free-list metadata at ${from} names ${c}, which is not a free chunk (a write past a block or after free?)`,
    c,
  );
}

/** The alignment (as log2) recorded in a used chunk's tag. */
export function tagAlignLog(tag: number): number {
  return (tag >>> 3) & 31;
}

/** The bin that holds free chunks of `sizeBytes` (a multiple of 8, at least `MIN_CHUNK`). */
export function binOf(sizeBytes: number): number {
  if (sizeBytes < SMALL_LIMIT) return sizeBytes >>> 3;
  const log2 = 31 - Math.clz32(sizeBytes);
  return SMALL_BINS + ((log2 - SMALL_LIMIT_LOG2) << SUB_BITS) +
    ((sizeBytes >>> (log2 - SUB_BITS)) & SUB_MASK);
}

/** The smallest chunk size that falls in bin `bin`. */
export function binMinBytes(bin: number): number {
  if (bin < SMALL_BINS) return bin << 3;
  const k = bin - SMALL_BINS;
  const log2 = (k >>> SUB_BITS) + SMALL_LIMIT_LOG2;
  return (1 << SUB_BITS | (k & SUB_MASK)) * 2 ** (log2 - SUB_BITS);
}

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** The first non-empty bin at or above `bin`, or -1. */
function findBin(u32: Uint32Array, bin: number): number {
  if (bin >= BIN_COUNT) return -1;
  let w = bin >>> 5;
  const bits = u32[H_BITMAP + w] & (-1 << (bin & 31));
  if (bits !== 0) return (w << 5) + ctz(bits);
  const summary = u32[H_BITMAP_SUMMARY] & (-2 << w);
  if (summary === 0) return -1;
  w = ctz(summary);
  return (w << 5) + ctz(u32[H_BITMAP + w]);
}

function insertFree(u32: Uint32Array, c: number, sizeBytes: number): void {
  if (DEBUG) assert(sizeBytes >= MIN_CHUNK && sizeBytes % 8 === 0, "free chunk size");
  const bin = binOf(sizeBytes);
  const key = u32[H_KEY];
  const head = u32[H_BINS + bin];
  if (head !== 0) freeChunkBytes(u32, key, head, (H_BINS + bin) * 4);
  u32[(c + 8) >>> 2] = head ^ linkMask(key, c + 8);
  u32[(c + 12) >>> 2] = linkMask(key, c + 12);
  if (head !== 0) {
    u32[(head + 12) >>> 2] = c ^ linkMask(key, head + 12);
  } else {
    const w = bin >>> 5;
    u32[H_BITMAP + w] |= 1 << (bin & 31);
    u32[H_BITMAP_SUMMARY] |= 1 << w;
  }
  u32[H_BINS + bin] = c;
  u32[H_FREE_CHUNKS]++;
}

function unlinkFree(u32: Uint32Array, c: number, sizeBytes: number): void {
  const key = u32[H_KEY];
  const next = readLink(u32, key, c + 8);
  const prev = readLink(u32, key, c + 12);
  if (prev !== 0) {
    u32[(prev + 8) >>> 2] = next ^ linkMask(key, prev + 8);
  } else {
    const bin = binOf(sizeBytes);
    if (u32[H_BINS + bin] !== c) notFreeChunk(c, c + 12); // no previous link, yet not the bin's head
    u32[H_BINS + bin] = next;
    if (next === 0) {
      const w = bin >>> 5;
      const bits = u32[H_BITMAP + w] & ~(1 << (bin & 31));
      u32[H_BITMAP + w] = bits;
      if (bits === 0) u32[H_BITMAP_SUMMARY] &= ~(1 << w);
    }
  }
  if (next !== 0) u32[(next + 12) >>> 2] = prev ^ linkMask(key, next + 12);
  u32[H_FREE_CHUNKS]--;
}

/** Writes header, tag and footer of a free chunk (not linked). */
function writeFree(u32: Uint32Array, c: number, sizeBytes: number): void {
  u32[c >>> 2] = sizeBytes;
  u32[(c + 4) >>> 2] = freeTag(u32[H_KEY], c, sizeBytes);
  u32[(c + sizeBytes - 4) >>> 2] = sizeBytes;
}

/** Writes header, tag and footer of a used chunk. */
function writeUsed(u32: Uint32Array, c: number, sizeBytes: number, alignLog: number): void {
  const h = (sizeBytes | USED_BIT) >>> 0;
  u32[c >>> 2] = h;
  u32[(c + 4) >>> 2] = usedTag(u32[H_KEY], c, alignLog);
  u32[(c + sizeBytes - 4) >>> 2] = h;
}

function addUsed(u32: Uint32Array, deltaBytes: number): void {
  const used = u32[H_USED_BYTES] + deltaBytes;
  u32[H_USED_BYTES] = used;
  if (used > u32[H_HWM]) u32[H_HWM] = used;
  if (used > u32[H_TRIP_HWM]) u32[H_TRIP_HWM] = used;
}

function countAllocation(u32: Uint32Array): void {
  u32[H_LIVE]++;
  const lo = (u32[H_TOTAL_LO] + 1) >>> 0;
  u32[H_TOTAL_LO] = lo;
  if (lo === 0) u32[H_TOTAL_HI]++;
}

/**
 * Hands out the used chunk `[start, start + needBytes)` carved from the free
 * chunk `c` of `sizeBytes` (already unlinked). A gap before `start` becomes a
 * free chunk when it is large enough, otherwise it is given to the used chunk
 * before `c`; a tail large enough becomes a free chunk.
 */
function carve(
  u32: Uint32Array,
  c: number,
  sizeBytes: number,
  start: number,
  needBytes: number,
  alignLog: number,
): number {
  // Headers are written from the far end to the near one (tail, block, then
  // the gap at c): until c's header changes, a walk of the chunks still sees
  // the whole free chunk, so an operation cut short at any point leaves a
  // walkable heap that `recover()` rebuilds (see `arenaRebuild`).
  const gap = start - c;
  let freed = 0; // bytes of c that stay free
  let taken = sizeBytes - gap;
  const tail = taken - needBytes;
  if (tail >= MIN_CHUNK) {
    const t = start + needBytes;
    writeFree(u32, t, tail);
    insertFree(u32, t, tail);
    freed += tail;
    taken = needBytes;
  }
  writeUsed(u32, start, taken, alignLog);
  if (DEBUG) assert(gap === 0 || gap >= MIN_CHUNK, "an alignment gap becomes a free chunk");
  if (gap > 0) {
    writeFree(u32, c, gap);
    insertFree(u32, c, gap);
    freed += gap;
  }
  u32[H_FREE_BYTES] -= sizeBytes - freed;
  addUsed(u32, sizeBytes - freed);
  countAllocation(u32);
  return start + 8;
}

/**
 * Where a block of `needBytes` aligned to `alignBytes` (> 8) would start in
 * the free chunk `c`, or -1 if it does not fit.
 */
function alignedStart(
  c: number,
  sizeBytes: number,
  needBytes: number,
  alignBytes: number,
): number {
  const payload = c + 8;
  let gap = (alignBytes - (payload & (alignBytes - 1))) & (alignBytes - 1);
  // A gap too small for a free chunk moves the block one alignment step on,
  // so the gap becomes a free chunk. (It is never given to the used chunk
  // before: that chunk's owner may read its size without the heap lock, to
  // free it into its arena cache, and the arena changes no chunk but the one
  // it works on.)
  if (gap > 0 && gap < MIN_CHUNK) gap += alignBytes;
  return gap + needBytes <= sizeBytes ? c + gap : -1;
}

/**
 * Allocates a chunk of `needBytes` (chunk size: multiple of 8, ≥ `MIN_CHUNK`)
 * whose payload is aligned to `alignBytes` (a power of two, 2^alignLog).
 * Returns the payload offset, or 0 if no free chunk fits.
 */
export function arenaAlloc(
  u32: Uint32Array,
  needBytes: number,
  alignBytes: number,
  alignLog: number,
): number {
  if (alignBytes > 8) return arenaAllocAligned(u32, needBytes, alignBytes, alignLog);
  let bin = binOf(needBytes);
  let c = u32[H_BINS + bin];
  if (c !== 0 && bin >= SMALL_BINS) c = bestFit(u32, c, needBytes);
  if (c === 0) {
    bin = findBin(u32, bin + 1);
    if (bin < 0) return arenaAllocLastResort(u32, needBytes, 8, alignLog);
    c = u32[H_BINS + bin];
    if (bin >= SMALL_BINS) c = bestFit(u32, c, needBytes);
  }
  const sizeBytes = freeChunkBytes(u32, u32[H_KEY], c, (H_BINS + bin) * 4);
  if (sizeBytes < needBytes) {
    throw new HeapCorruptionError(
      `free chunk of ${sizeBytes} bytes is in a bin for larger ones`,
      c,
    );
  }
  unlinkFree(u32, c, sizeBytes);
  return carve(u32, c, sizeBytes, c, needBytes, alignLog);
}

/**
 * Before reporting out of memory (or growing the heap), look at every free
 * chunk in the bins that may hold a fit but were only sampled: the size's own
 * bin, and for aligned requests the bins up to the one that surely fits.
 * Bounded by the number of free chunks; never on the normal path.
 */
function arenaAllocLastResort(
  u32: Uint32Array,
  needBytes: number,
  alignBytes: number,
  alignLog: number,
): number {
  const lastBin = alignBytes > 8
    ? binOf(Math.min(needBytes + alignBytes + MIN_CHUNK, SIZE_MASK))
    : binOf(needBytes);
  let budget = freeChunkBound(u32);
  const key = u32[H_KEY];
  for (
    let bin = findBin(u32, binOf(needBytes));
    bin >= 0 && bin <= lastBin;
    bin = findBin(u32, bin + 1)
  ) {
    for (let c = u32[H_BINS + bin]; c !== 0 && budget-- > 0; c = readLink(u32, key, c + 8)) {
      const sizeBytes = freeChunkBytes(u32, key, c, c);
      const start = alignBytes > 8
        ? alignedStart(c, sizeBytes, needBytes, alignBytes)
        : (sizeBytes >= needBytes ? c : -1);
      if (start >= 0) {
        unlinkFree(u32, c, sizeBytes);
        return carve(u32, c, sizeBytes, start, needBytes, alignLog);
      }
    }
  }
  return 0;
}

function arenaAllocAligned(
  u32: Uint32Array,
  needBytes: number,
  alignBytes: number,
  alignLog: number,
): number {
  // First a bounded look at chunks from the bin of the size itself, which fit
  // when their start happens to suit the alignment.
  let looked = 0;
  const key = u32[H_KEY];
  for (let bin = findBin(u32, binOf(needBytes)); bin >= 0; bin = findBin(u32, bin + 1)) {
    for (let c = u32[H_BINS + bin]; c !== 0; c = readLink(u32, key, c + 8)) {
      const sizeBytes = freeChunkBytes(u32, key, c, c);
      const start = alignedStart(c, sizeBytes, needBytes, alignBytes);
      if (start >= 0) {
        unlinkFree(u32, c, sizeBytes);
        return carve(u32, c, sizeBytes, start, needBytes, alignLog);
      }
      if (++looked === WALK_LIMIT) break;
    }
    if (looked === WALK_LIMIT) break;
  }
  // Then a chunk that surely fits whatever its start: the bin chosen from
  // size + alignment (Talc's fix for its issue #44, without slowing small aligns).
  const bin = findBin(u32, binOf(Math.min(needBytes + alignBytes + MIN_CHUNK, SIZE_MASK)) + 1);
  if (bin < 0) return arenaAllocLastResort(u32, needBytes, alignBytes, alignLog);
  const c = u32[H_BINS + bin];
  const sizeBytes = freeChunkBytes(u32, key, c, (H_BINS + bin) * 4);
  const start = alignedStart(c, sizeBytes, needBytes, alignBytes);
  if (start < 0) {
    throw new HeapCorruptionError(
      `free chunk of ${sizeBytes} bytes is in a bin for larger ones`,
      c,
    );
  }
  unlinkFree(u32, c, sizeBytes);
  return carve(u32, c, sizeBytes, start, needBytes, alignLog);
}

/**
 * The smallest chunk of at least `needBytes` among the first `WALK_LIMIT` of
 * the list that starts at `c` (0 if none): a bounded best fit, which keeps
 * large chunks whole for large requests (dlmalloc's reason to fit closely).
 */
function bestFit(u32: Uint32Array, c: number, needBytes: number): number {
  let best = 0;
  let bestSize = 0xffffffff;
  const key = u32[H_KEY];
  for (let n = 0; c !== 0 && n < WALK_LIMIT; n++) {
    const sizeBytes = freeChunkBytes(u32, key, c, c);
    if (sizeBytes >= needBytes && sizeBytes < bestSize) {
      best = c;
      bestSize = sizeBytes;
      if (sizeBytes === needBytes) break;
    }
    c = (u32[(c + 8) >>> 2] ^ linkMask(key, c + 8)) >>> 0; // checked at the top of the loop
  }
  return best;
}

/** Frees the used chunk `c` and coalesces it with free neighbours. */
export function arenaFree(u32: Uint32Array, c: number): void {
  const sizeBytes = (u32[c >>> 2] & SIZE_MASK) >>> 0;
  if (DEBUG) assert((u32[c >>> 2] & USED_BIT) !== 0, "freed chunk is used");
  // Neighbours taken as free are checked before anything is written.
  const prevFooter = u32[(c - 4) >>> 2];
  const prevFree = (prevFooter & USED_BIT) === 0;
  if (prevFree) checkNeighbour(u32, c - prevFooter, prevFooter, c);
  const next = c + sizeBytes;
  const nextHeader = u32[next >>> 2];
  const nextFree = (nextHeader & USED_BIT) === 0;
  if (nextFree) checkNeighbour(u32, next, nextHeader, c);
  u32[H_USED_BYTES] -= sizeBytes;
  u32[H_LIVE]--;
  u32[H_FREE_BYTES] += sizeBytes;
  // Leave a stale "freed" header and tag behind: a later free of this
  // pointer is then reported as a double free.
  u32[c >>> 2] = sizeBytes;
  u32[(c + 4) >>> 2] = freeTag(u32[H_KEY], c, sizeBytes);
  let start = c;
  let total = sizeBytes;
  if (prevFree) {
    start = c - prevFooter;
    unlinkFree(u32, start, prevFooter);
    total += prevFooter;
  }
  if (nextFree) {
    unlinkFree(u32, next, nextHeader);
    total += nextHeader;
  }
  writeFree(u32, start, total);
  insertFree(u32, start, total);
}

/**
 * Checks that the neighbour `n` of chunk `c`, taken as free because its
 * boundary word says so, is a free chunk of `sizeBytes` (its links are
 * checked by `unlinkFree` before it writes); throws `HeapCorruptionError` otherwise.
 */
function checkNeighbour(u32: Uint32Array, n: number, sizeBytes: number, c: number): void {
  if (freeChunkBytes(u32, u32[H_KEY], n, c) !== sizeBytes) notFreeChunk(n, c);
}

/**
 * Resizes the used chunk `c` to `needBytes` without moving it, when the chunk
 * itself or its free neighbour after it allows. Returns true on success.
 */
export function arenaResizeInPlace(u32: Uint32Array, c: number, needBytes: number): boolean {
  const h = u32[c >>> 2];
  const sizeBytes = (h & SIZE_MASK) >>> 0;
  const alignLog = tagAlignLog(u32[(c + 4) >>> 2]);
  const next = c + sizeBytes;
  const nextHeader = u32[next >>> 2];
  const nextFree = (nextHeader & USED_BIT) === 0 ? nextHeader : 0;
  if (nextFree !== 0) checkNeighbour(u32, next, nextFree, c);
  if (needBytes <= sizeBytes) {
    // Shrink: give the tail back, merged with a free neighbour if there is one.
    const tail = sizeBytes - needBytes + nextFree;
    if (tail < MIN_CHUNK) return true;
    if (nextFree !== 0) unlinkFree(u32, next, nextFree);
    writeUsed(u32, c, needBytes, alignLog);
    const t = c + needBytes;
    writeFree(u32, t, tail);
    insertFree(u32, t, tail);
    u32[H_USED_BYTES] -= sizeBytes - needBytes;
    u32[H_FREE_BYTES] += sizeBytes - needBytes;
    return true;
  }
  const total = sizeBytes + nextFree;
  if (total < needBytes) return false;
  unlinkFree(u32, next, nextFree);
  takeGrown(u32, c, total, needBytes, sizeBytes, alignLog);
  return true;
}

/**
 * Makes `[start, start + totalBytes)` (already out of the bins) the used chunk
 * of a block that grew from `oldBytes` to at least `needBytes`, giving a tail
 * large enough back as a free chunk, and updates the counters.
 */
function takeGrown(
  u32: Uint32Array,
  start: number,
  totalBytes: number,
  needBytes: number,
  oldBytes: number,
  alignLog: number,
): void {
  let taken = totalBytes;
  if (totalBytes - needBytes >= MIN_CHUNK) {
    taken = needBytes;
    const t = start + needBytes;
    writeFree(u32, t, totalBytes - needBytes);
    insertFree(u32, t, totalBytes - needBytes);
  }
  writeUsed(u32, start, taken, alignLog);
  u32[H_FREE_BYTES] -= taken - oldBytes;
  addUsed(u32, taken - oldBytes);
}

/**
 * Grows the used chunk `c` by merging it with the free chunk before it (and
 * the one after it, if free), moving the payload down. Returns the new payload
 * offset, or 0 when the neighbours are too small or the new start would break
 * the block's alignment.
 */
export function arenaResizeIntoPrevious(
  u32: Uint32Array,
  u8: Uint8Array,
  c: number,
  needBytes: number,
): number {
  const prevSize = u32[(c - 4) >>> 2];
  if ((prevSize & USED_BIT) !== 0) return 0;
  const h = u32[c >>> 2];
  const sizeBytes = (h & SIZE_MASK) >>> 0;
  const tag = u32[(c + 4) >>> 2];
  const alignLog = tagAlignLog(tag);
  const next = c + sizeBytes;
  const nextHeader = u32[next >>> 2];
  const nextFree = (nextHeader & USED_BIT) === 0 ? nextHeader : 0;
  const total = prevSize + sizeBytes + nextFree;
  const start = c - prevSize;
  if (total < needBytes || ((start + 8) & ((1 << alignLog) - 1)) !== 0) return 0;
  checkNeighbour(u32, start, prevSize, c);
  if (nextFree !== 0) checkNeighbour(u32, next, nextFree, c);
  unlinkFree(u32, start, prevSize);
  if (nextFree !== 0) unlinkFree(u32, next, nextFree);
  // The old start stops being a block: mark it freed before the data moves.
  u32[c >>> 2] = sizeBytes;
  u32[(c + 4) >>> 2] = freeTag(u32[H_KEY], c, sizeBytes);
  u8.copyWithin(start + 8, c + 8, c + sizeBytes - 4); // before the tail is written over it
  takeGrown(u32, start, total, needBytes, sizeBytes, alignLog);
  return start + 8;
}

/** Bytes a free chunk at the end of the arena already offers (0 if the last chunk is used). */
export function arenaTailFreeBytes(u32: Uint32Array): number {
  const end = u32[H_HEAP_BYTES];
  const footer = u32[(end - EPILOGUE_BYTES - 4) >>> 2];
  return (footer & USED_BIT) === 0 ? footer : 0;
}

/** Writes the prologue, one free chunk over the whole arena and the epilogue. */
export function arenaInit(u32: Uint32Array, heapBytes: number): void {
  u32[(ARENA_START - 4) >>> 2] = USED_BIT; // prologue: a "used" footer of size 0
  const sizeBytes = heapBytes - ARENA_START - EPILOGUE_BYTES;
  writeFree(u32, ARENA_START, sizeBytes);
  insertFree(u32, ARENA_START, sizeBytes);
  u32[H_FREE_BYTES] = sizeBytes;
  writeEpilogue(u32, heapBytes);
  u32[H_HEAP_BYTES] = heapBytes;
}

function writeEpilogue(u32: Uint32Array, heapBytes: number): void {
  u32[(heapBytes - EPILOGUE_BYTES) >>> 2] = USED_BIT; // a "used" header of size 0
  u32[(heapBytes - EPILOGUE_BYTES + 4) >>> 2] = 0;
}

/** Extends the arena to `newBytes` after the buffer has grown, merging with a free tail. */
export function arenaExtend(u32: Uint32Array, newBytes: number): void {
  const oldBytes = u32[H_HEAP_BYTES];
  const added = newBytes - oldBytes;
  if (DEBUG) assert(added > 0 && added % 8 === 0, "arena grows by a multiple of 8");
  let start = oldBytes - EPILOGUE_BYTES;
  let total = added;
  const prevFooter = u32[(start - 4) >>> 2];
  if ((prevFooter & USED_BIT) === 0) {
    checkNeighbour(u32, start - prevFooter, prevFooter, start);
    start -= prevFooter;
    unlinkFree(u32, start, prevFooter);
    total += prevFooter;
  }
  writeEpilogue(u32, newBytes);
  writeFree(u32, start, total);
  insertFree(u32, start, total);
  u32[H_FREE_BYTES] += added;
  u32[H_HEAP_BYTES] = newBytes;
}

/** The free-chunk counter, capped by how many chunks the heap can hold: bounds every list walk. */
function freeChunkBound(u32: Uint32Array): number {
  return Math.min(u32[H_FREE_CHUNKS], Math.floor(u32[H_HEAP_BYTES] / MIN_CHUNK));
}

/** The largest free chunk's size in bytes (0 if none). */
export function arenaLargestFree(u32: Uint32Array): number {
  for (let w = BITMAP_WORDS - 1; w >= 0; w--) {
    const bits = u32[H_BITMAP + w];
    if (bits === 0) continue;
    const bin = (w << 5) + 31 - Math.clz32(bits);
    let largest = 0;
    let n = freeChunkBound(u32);
    const key = u32[H_KEY];
    for (let c = u32[H_BINS + bin]; c !== 0 && n-- > 0; c = readLink(u32, key, c + 8)) {
      const sizeBytes = freeChunkBytes(u32, key, c, c);
      if (sizeBytes > largest) largest = sizeBytes;
    }
    return largest;
  }
  return 0;
}

/**
 * Repairs the arena after an operation was cut short (an exception, a
 * terminated worker): when the chunks still tile the arena by their headers
 * and tags, rewrites every footer, merges adjacent free chunks and rebuilds
 * the bins, bitmap and counters from the walk. Throws `HeapCorruptionError`,
 * writing nothing, when the chunks do not tile. A chunk whose header and tag
 * disagree about being used (a cut between the two writes) counts as free:
 * its allocation never returned, or its free had begun.
 */
export function arenaRebuild(u32: Uint32Array): void {
  const end = u32[H_HEAP_BYTES];
  const limit = end - EPILOGUE_BYTES;
  if (u32[(ARENA_START - 4) >>> 2] !== USED_BIT) {
    throw new HeapCorruptionError("prologue fence overwritten", ARENA_START - 4);
  }
  if (u32[limit >>> 2] !== USED_BIT) {
    throw new HeapCorruptionError("epilogue fence overwritten", limit);
  }
  const key = u32[H_KEY];
  let c = ARENA_START;
  for (let n = 1; c < limit; n++) {
    if ((n & 4095) === 0) u32[H_LOCK_BEAT]++;
    const h = u32[c >>> 2];
    const sizeBytes = (h & SIZE_MASK) >>> 0;
    const tag = u32[(c + 4) >>> 2];
    if ((h & 6) !== 0 || sizeBytes < MIN_CHUNK || c + sizeBytes > limit) {
      throw new HeapCorruptionError(`chunk header ${h} does not continue the walk`, c);
    }
    if (tag !== freeTag(key, c, h) && !isUsedTag(key, c, tag) && !isInternalTag(key, c, tag)) {
      throw new HeapCorruptionError("chunk tag is neither used nor free", c);
    }
    c += sizeBytes;
  }
  if (c !== limit) throw new HeapCorruptionError("chunks do not tile the arena", c);
  // The walk holds: rebuild everything else from it.
  for (let b = 0; b < BIN_COUNT; b++) u32[H_BINS + b] = 0;
  for (let w = 0; w < BITMAP_WORDS; w++) u32[H_BITMAP + w] = 0;
  u32[H_BITMAP_SUMMARY] = 0;
  u32[H_FREE_CHUNKS] = 0;
  let usedBytes = 0;
  let freeBytes = 0;
  let live = 0;
  c = ARENA_START;
  while (c < limit) {
    const sizeBytes = (u32[c >>> 2] & SIZE_MASK) >>> 0;
    if (isLiveChunk(u32, c)) {
      const h = (sizeBytes | USED_BIT) >>> 0;
      u32[c >>> 2] = h;
      u32[(c + sizeBytes - 4) >>> 2] = h;
      usedBytes += sizeBytes;
      live++;
      c += sizeBytes;
      continue;
    }
    let total = sizeBytes;
    while (c + total < limit && !isLiveChunk(u32, c + total)) {
      total += (u32[(c + total) >>> 2] & SIZE_MASK) >>> 0;
    }
    writeFree(u32, c, total);
    insertFree(u32, c, total);
    freeBytes += total;
    c += total;
  }
  u32[H_USED_BYTES] = usedBytes;
  u32[H_FREE_BYTES] = freeBytes;
  u32[H_LIVE] = live;
  if (usedBytes > u32[H_HWM]) u32[H_HWM] = usedBytes;
  if (usedBytes > u32[H_TRIP_HWM]) u32[H_TRIP_HWM] = usedBytes;
}

/** True when the chunk at `c` is used by both its header and its tag. */
function isLiveChunk(u32: Uint32Array, c: number): boolean {
  const tag = u32[(c + 4) >>> 2];
  const key = u32[H_KEY];
  return (u32[c >>> 2] & USED_BIT) !== 0 && (isUsedTag(key, c, tag) || isInternalTag(key, c, tag));
}

/**
 * Validates `ptr` as the start of a live arena block (both boundary tags
 * agree, a used tag keyed by the heap key and the chunk) and returns its
 * chunk offset; throws the pointer error naming what is wrong otherwise.
 * `end` (default: the arena's end from the header) bounds the chunk: an
 * arena cache passes its handle's view instead of reading the header word.
 */
export function arenaChunkOf(
  u32: Uint32Array,
  key: number,
  operation: string,
  ptr: number,
  end: number = u32[H_HEAP_BYTES] - EPILOGUE_BYTES,
): number {
  if (typeof ptr !== "number") throw new InvalidPointerError(operation, ptr, "is not a number");
  if (!Number.isInteger(ptr)) throw new InvalidPointerError(operation, ptr, "is not an integer");
  if (ptr < ARENA_START + 8 || ptr >= end) {
    throw new InvalidPointerError(
      operation,
      ptr,
      `is outside the heap's blocks [${ARENA_START + 8}, ${end})`,
    );
  }
  if (ptr % 8 !== 0) throw new InvalidPointerError(operation, ptr, "is not 8-byte aligned");
  const c = ptr - 8;
  const h = u32[c >>> 2];
  const tag = u32[(c + 4) >>> 2];
  if ((h & USED_BIT) !== 0) {
    const sizeBytes = (h & SIZE_MASK) >>> 0;
    if (
      (h & 6) === 0 && sizeBytes >= MIN_CHUNK && c + sizeBytes <= end &&
      u32[(c + sizeBytes - 4) >>> 2] === h && isUsedTag(key, c, tag)
    ) {
      return c;
    }
    if (tag === cachedTag(key, c)) throw new DoubleFreeError(operation, ptr); // freed into a cache
  } else if (tag === freeTag(key, c, h)) {
    throw new DoubleFreeError(operation, ptr);
  }
  throw new InvalidPointerError(operation, ptr, "is not the start of a live block");
}

/** The chunk size that holds `sizeBytes` of payload. */
export function chunkBytesFor(sizeBytes: number): number {
  const n = Math.ceil((sizeBytes + CHUNK_OVERHEAD) / 8) * 8;
  return n < MIN_CHUNK ? MIN_CHUNK : n;
}

/** Usable bytes of the live arena block at `ptr` (trusted: validated by `arenaChunkOf`). */
export function arenaUsable(u32: Uint32Array, ptr: number): number {
  return ((u32[(ptr - 8) >>> 2] & SIZE_MASK) >>> 0) - CHUNK_OVERHEAD;
}
