/**
 * Heap header layout: named word offsets of everything stored at the start
 * of the heap buffer, and the constants the allocators share.
 *
 * All allocator and lock state lives in these words (see DESIGN.md): a second
 * worker that attaches the buffer sees exactly the same heap.
 *
 * @module
 */

/** `"THEP"` read as a little-endian u32: marks a buffer as a typedheap heap. */
export const MAGIC = 0x50454854;
/** Format version; bumped whenever the header or chunk layout changes. */
export const FORMAT_VERSION = 3;
/** Size of the header at offset 0, in bytes. Allocations never start inside it. */
export const HEADER_BYTES = 4096;

// Header word indices (each a u32 at byte offset 4 * index).
/** Magic number. */
export const H_MAGIC = 0;
/** Format version. */
export const H_VERSION = 1;
/** Header size in bytes. */
export const H_HEADER_BYTES = 2;
/** Current heap size in bytes (the end of the arena). */
export const H_HEAP_BYTES = 3;
/** Maximum heap size in bytes. */
export const H_MAX_BYTES = 4;
/**
 * The heap lock word (see `src/sync/lock_word.ts`), or `(LOCK_CUT_OWNER + id) << 1`
 * when an operation of worker `id` was cut short (see `H_OP`).
 */
export const H_LOCK = 5;
/** The last worker id handed out. */
export const H_LAST_WORKER = 6;
/**
 * Worker id of a handle whose heap-locked operation was cut short, 0 when none
 * was. The hot arena paths set it only when an exception cuts them short (a
 * terminated worker leaves the lock held instead); the rarer operations set it
 * while they write. A release of the heap lock with the mark set leaves the
 * lock word at `(LOCK_CUT_OWNER + id) << 1` instead of 0, so the next
 * acquisition fails its compare-exchange and reports `HeapCorruptionError`
 * from the slow path (the uncontended lock tests nothing else), until
 * `recover()` repairs the heap.
 */
export const H_OP = 7;
/**
 * Added to the worker id in a lock word that says "an operation of this worker
 * was cut short": `lockWord` reads any owner from here up as no lock state.
 */
export const LOCK_CUT_OWNER = 2 ** 29;
/** Bumped at every heap-lock acquisition and by long operations: shows the holder is alive. */
export const H_LOCK_BEAT = 8;
/** Head of the list of arena blocks whose free was deferred (a moving realloc that could not re-lock). */
export const H_DEFERRED = 9;
/**
 * The heap's random metadata key (below 2^30, never 0), drawn at create: free-list
 * links and chunk/slot tags are stored mixed with it and their own address,
 * so a stray user write cannot forge one (see `src/alloc/arena.ts`).
 */
export const H_KEY = 10;
/** 1 for a heap made with `debug: true` (redzones, poison and quarantine), else 0. */
export const H_DEBUG = 11;
// The counters live in their own cache line (bytes 128-191), away from the
// lock word: a worker spinning on the lock would otherwise steal the line the
// lock holder is updating.
/** Sum of the sizes of all used chunks, in bytes. */
export const H_USED_BYTES = 32;
/** Sum of the sizes of all free chunks, in bytes. */
export const H_FREE_BYTES = 33;
/** Number of live allocations. */
export const H_LIVE = 34;
/** High-water mark of `H_USED_BYTES`. */
export const H_HWM = 35;
/** Resettable high-water mark of `H_USED_BYTES`. */
export const H_TRIP_HWM = 36;
/** Number of free chunks (bounds every free-list walk). */
export const H_FREE_CHUNKS = 37;
/** Lock timeout in milliseconds used for the heap lock (at least 1: every wait is bounded). */
export const H_LOCK_TIMEOUT_MS = 13;
/** Total allocations ever made: low 32 bits. */
export const H_TOTAL_LO = 38;
/** Total allocations ever made: high bits. */
export const H_TOTAL_HI = 39;
/** First word reserved for the slab layer's roots. */
export const H_SLAB_BASE = 64;
/** Number of words reserved for the slab layer. */
export const H_SLAB_WORDS = 64;

/** Number of linear small bins: chunk sizes below `SMALL_LIMIT` have a bin each. */
export const SMALL_BINS = 64;
/** Chunk sizes below this many bytes fall in the linear bins (8 bytes apart). */
export const SMALL_LIMIT = SMALL_BINS * 8;
/** log2 of `SMALL_LIMIT`: the first power-of-two class of the large bins. */
export const SMALL_LIMIT_LOG2 = 9;
/** Subdivisions of each power of two in the large bins (as a log2). */
export const SUB_BITS = 4;
/** Total number of bins. */
export const BIN_COUNT = SMALL_BINS + (32 - SMALL_LIMIT_LOG2) * (1 << SUB_BITS);
/** Number of u32 words in the availability bitmap (one bit per bin). */
export const BITMAP_WORDS = Math.ceil(BIN_COUNT / 32);
/** Word index of the summary word: bit `w` set when bitmap word `w` is non-zero. */
export const H_BITMAP_SUMMARY = H_SLAB_BASE + H_SLAB_WORDS;
/** Word index of the first availability bitmap word. */
export const H_BITMAP = H_BITMAP_SUMMARY + 1;
/** Word index of the first bin head (offset of the first free chunk, 0 if empty). */
export const H_BINS = H_BITMAP + BITMAP_WORDS;
/** One past the last header word in use. */
export const H_END = H_BINS + BIN_COUNT;

/**
 * First word of the named-roots table (see `src/heap/roots.ts`). It takes the
 * top of the header, well above `H_END`, so the words in between stay free.
 */
export const H_ROOTS = 640;
/**
 * Byte offset of the heap in its buffer: 0 for a `SharedArrayBuffer`, the
 * `baseOffset` for a heap in a `WebAssembly.Memory` (whose pointers are then
 * absolute addresses, so a snapshot of it only makes sense at that offset).
 */
export const H_BASE_OFFSET = H_ROOTS - 1;
/** Entries in the named-roots table. */
export const ROOT_SLOTS = 32;
/** Words of one roots-table entry: pointer, name length, then the name's UTF-8 bytes. */
export const ROOT_ENTRY_WORDS = 12;
/** Longest root name, in UTF-8 bytes. */
export const ROOT_NAME_MAX_BYTES = (ROOT_ENTRY_WORDS - 2) * 4;

/** Byte offset of the first chunk; the word before it is the prologue fence. */
export const ARENA_START = HEADER_BYTES + 8;
/** Bytes at the end of the heap taken by the epilogue fence. */
export const EPILOGUE_BYTES = 8;
/** Bytes of every heap outside the chunks: header, prologue and epilogue. */
export const FIXED_OVERHEAD_BYTES = ARENA_START + EPILOGUE_BYTES;

/** Chunk size granularity in bytes; chunk starts and payloads are multiples of it. */
export const GRANULE = 8;
/** Bytes of a used chunk that are not payload: header, tag and footer. */
export const CHUNK_OVERHEAD = 12;
/** The smallest chunk: a free chunk needs header, tag, two links and a footer. */
export const MIN_CHUNK = 24;
/** Header bit set when a chunk is in use. Chunk sizes are multiples of 8, so bits 0-2 never hold size. */
export const USED_BIT = 1;
/** Mask that extracts the size from a header word. */
export const SIZE_MASK = 0xfffffff8;
/** Largest supported alignment in bytes. */
export const MAX_ALIGN = 65536;
/** Largest supported heap in bytes: offsets must stay u32 and 8-aligned. */
export const MAX_HEAP_BYTES = 0xfffffff8;
/** Smallest heap in bytes: the header plus a few chunks. */
export const MIN_HEAP_BYTES = 8192;

/**
 * A fresh random heap key: below 2^30 (a small integer in V8) and never 0.
 *
 * @returns The key.
 */
export function newHeapKey(): number {
  const word = new Uint32Array(1);
  for (let i = 0; i < 8; i++) {
    crypto.getRandomValues(word);
    const key = word[0] & 0x3fffffff;
    if (key !== 0) return key;
  }
  return 0x2545f491; // eight zero draws: the random source is broken; any fixed non-zero key works
}

// Layout constants checked against each other once, at module load.
if (
  [H_MAGIC, H_VERSION, H_HEADER_BYTES, H_HEAP_BYTES, H_MAX_BYTES, H_LOCK, H_LAST_WORKER, H_OP]
    .concat([H_LOCK_BEAT, H_DEFERRED, H_LOCK_TIMEOUT_MS, H_DEBUG]).includes(H_KEY) ||
  [H_LOCK_BEAT, H_DEFERRED, H_LOCK_TIMEOUT_MS].includes(H_DEBUG) || H_KEY >= H_USED_BYTES ||
  H_DEBUG >= H_USED_BYTES
) {
  throw new Error("Layout: the key word overlaps another header word");
}
if (H_SLAB_BASE <= H_TOTAL_HI) throw new Error("Layout: slab roots overlap the counters");
if (H_USED_BYTES >> 4 === H_LOCK >> 4) {
  throw new Error("Layout: counters share the lock's cache line");
}
if (H_END * 4 > HEADER_BYTES) throw new Error("Layout: header words exceed HEADER_BYTES");
if (H_BASE_OFFSET < H_END) throw new Error("Layout: the roots table overlaps the bins");
if ((H_ROOTS + ROOT_SLOTS * ROOT_ENTRY_WORDS) * 4 > HEADER_BYTES) {
  throw new Error("Layout: the roots table exceeds HEADER_BYTES");
}
if (BITMAP_WORDS > 32) throw new Error("Layout: the bitmap summary holds at most 32 words");
if (SMALL_LIMIT !== 1 << SMALL_LIMIT_LOG2) throw new Error("Layout: SMALL_LIMIT is not 2^log2");
if (ARENA_START % GRANULE !== 0) throw new Error("Layout: ARENA_START is not 8-aligned");
if ((USED_BIT & SIZE_MASK) !== 0) throw new Error("Layout: the used bit overlaps the size");
if (MIN_CHUNK < CHUNK_OVERHEAD + 8) throw new Error("Layout: MIN_CHUNK cannot hold two links");
