/**
 * The `Heap`: a thin handle over a growable `SharedArrayBuffer` whose bytes
 * hold the header, every allocator's state and every block.
 *
 * @module
 */

import {
  arenaAlloc,
  arenaCheck,
  arenaExtend,
  arenaFree,
  arenaInit,
  arenaLargestFree,
  arenaResizeInPlace,
  arenaResizeIntoPrevious,
  arenaTailFreeBytes,
  freeTag,
  isUsedTag,
  tagAlignLog,
} from "../alloc/arena.ts";
import {
  DoubleFreeError,
  HeapCorruptionError,
  HeapFormatError,
  InvalidPointerError,
  OutOfMemoryError,
} from "../errors.ts";
import {
  ARENA_START,
  CHUNK_OVERHEAD,
  EPILOGUE_BYTES,
  FIXED_OVERHEAD_BYTES,
  FORMAT_VERSION,
  H_FREE_BYTES,
  H_FREE_CHUNKS,
  H_HEADER_BYTES,
  H_HEAP_BYTES,
  H_HWM,
  H_LAST_WORKER,
  H_LIVE,
  H_LOCK,
  H_LOCK_TIMEOUT_MS,
  H_MAGIC,
  H_MAX_BYTES,
  H_TOTAL_HI,
  H_TOTAL_LO,
  H_TRIP_HWM,
  H_USED_BYTES,
  H_VERSION,
  HEADER_BYTES,
  MAGIC,
  MAX_ALIGN,
  MAX_HEAP_BYTES,
  MIN_CHUNK,
  MIN_HEAP_BYTES,
  SIZE_MASK,
  USED_BIT,
} from "./layout.ts";
import { lockWord, unlockWord } from "../sync/lock_word.ts";

/** Options for {@linkcode Heap.create}. */
export interface HeapOptions {
  /**
   * Size of the heap when created, in bytes (rounded up to a multiple of 8).
   * At least 8 KiB.
   *
   * @default {1048576} (1 MiB)
   */
  initialBytes?: number;
  /**
   * Largest size the heap may grow to, in bytes. The buffer reserves this much
   * address space up front; memory is committed as the heap grows. At most
   * 4 GiB - 8. Pass the same value as `initialBytes` for a fixed-size heap.
   *
   * @default {1073741824} (1 GiB)
   */
  maxBytes?: number;
  /**
   * How long any worker waits for the heap lock before it throws
   * `LockTimeoutError` naming the worker that holds it. `0` waits forever.
   *
   * @default {10000}
   */
  lockTimeoutMs?: number;
}

/** Figures returned by {@linkcode Heap.stats}. All sizes are in bytes. */
export interface HeapStats {
  /** Current size of the heap (the buffer's bytes that the heap manages). */
  heapBytes: number;
  /** Largest size the heap may grow to. */
  maxBytes: number;
  /** Bytes in used chunks, including each chunk's 12 bytes of boundary tags. */
  usedBytes: number;
  /** Bytes in free chunks. */
  freeBytes: number;
  /** Bytes taken by the header and the two fences: `heapBytes - usedBytes - freeBytes`. */
  overheadBytes: number;
  /** The largest block that can be allocated now without growing the heap. */
  largestFreeBytes: number;
  /** Number of free chunks. */
  freeChunks: number;
  /** Number of live allocations. */
  liveAllocations: number;
  /** Number of allocations made since the heap was created (moves by `realloc` included). */
  totalAllocations: number;
  /** The highest `usedBytes` ever reached. */
  highWaterBytes: number;
  /** The highest `usedBytes` since the last {@linkcode Heap.resetTrip}. */
  tripHighWaterBytes: number;
}

const DEFAULT_INITIAL_BYTES = 1 << 20;
const DEFAULT_MAX_BYTES = 1 << 30;
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** The heap grows in steps that are multiples of this. */
const GROW_STEP_BYTES = 64 * 1024;
const MAX_WORKER_ID = (1 << 29) - 1;

/**
 * A heap inside one growable `SharedArrayBuffer`: allocate, free and resize
 * blocks addressed by byte offsets, from any worker that attached the buffer.
 *
 * A pointer is a byte offset into {@linkcode Heap.buffer}; `0` is the null
 * pointer. Every block's payload is at least 8-byte aligned.
 *
 * @example Allocate, write, resize and free a block
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create({ initialBytes: 64 * 1024 });
 * const ptr = heap.alloc(16);
 * heap.f64[ptr >>> 3] = 1.5;
 * const moved = heap.realloc(ptr, 4096);
 * assert.equal(heap.f64[moved >>> 3], 1.5);
 * heap.free(moved);
 * assert.equal(heap.stats().liveAllocations, 0);
 * heap.check();
 * ```
 */
export class Heap {
  /** The shared buffer that holds the whole heap; send it to a worker and {@linkcode Heap.attach} it there. */
  readonly buffer: SharedArrayBuffer;
  /** Length-tracking byte view over the whole buffer. */
  readonly u8: Uint8Array;
  /** Length-tracking Int32 view over the whole buffer (usable with `Atomics`). */
  readonly i32: Int32Array;
  /** Length-tracking Uint32 view over the whole buffer. */
  readonly u32: Uint32Array;
  /** Length-tracking Float64 view over the whole buffer. */
  readonly f64: Float64Array;
  /** Length-tracking DataView over the whole buffer (little-endian reads need `true`). */
  readonly dv: DataView;
  /** This handle's worker id, unique among all handles of this heap; it owns the locks it takes. */
  readonly workerId: number;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.dv = new DataView(buffer);
    const id = Atomics.add(this.i32, H_LAST_WORKER, 1) + 1;
    if (id > MAX_WORKER_ID) {
      throw new RangeError(`Cannot attach heap: worker ids are exhausted: ${id}`);
    }
    this.workerId = id;
  }

  /**
   * Creates a new, empty heap in a new growable `SharedArrayBuffer`.
   *
   * @param options Sizes and the lock timeout; see {@linkcode HeapOptions}.
   * @returns The heap.
   *
   * @example A fixed-size heap
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create({ initialBytes: 1 << 16, maxBytes: 1 << 16 });
   * assert.equal(heap.byteLength, 65536);
   * assert.equal(heap.stats().maxBytes, 65536);
   * ```
   */
  static create(options: HeapOptions = {}): Heap {
    const initialBytes = roundUp8(
      checkByteCount("initialBytes", options.initialBytes ?? DEFAULT_INITIAL_BYTES),
    );
    const maxBytes = Math.floor(
      checkByteCount("maxBytes", options.maxBytes ?? Math.max(DEFAULT_MAX_BYTES, initialBytes)) /
        8,
    ) * 8;
    const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    if (initialBytes < MIN_HEAP_BYTES || initialBytes > MAX_HEAP_BYTES) {
      throw new RangeError(
        `Cannot create heap: initialBytes must be in [${MIN_HEAP_BYTES}, ${MAX_HEAP_BYTES}]: ${options.initialBytes}`,
      );
    }
    if (maxBytes < initialBytes || maxBytes > MAX_HEAP_BYTES) {
      throw new RangeError(
        `Cannot create heap: maxBytes must be in [initialBytes, ${MAX_HEAP_BYTES}]: ${options.maxBytes}`,
      );
    }
    if (
      typeof lockTimeoutMs !== "number" || !Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 0 ||
      lockTimeoutMs > 0xffffffff
    ) {
      throw new RangeError(
        `Cannot create heap: lockTimeoutMs must be an integer in [0, 2^32): ${lockTimeoutMs}`,
      );
    }
    const buffer = new SharedArrayBuffer(initialBytes, { maxByteLength: maxBytes });
    const u32 = new Uint32Array(buffer);
    u32[H_MAGIC] = MAGIC;
    u32[H_VERSION] = FORMAT_VERSION;
    u32[H_HEADER_BYTES] = HEADER_BYTES;
    u32[H_MAX_BYTES] = maxBytes;
    u32[H_LOCK_TIMEOUT_MS] = lockTimeoutMs;
    arenaInit(u32, initialBytes);
    return new Heap(buffer);
  }

  /**
   * Opens an existing heap, typically in another worker that received
   * `heap.buffer` by `postMessage`. A buffer that does not hold a heap of this
   * format is rejected with {@linkcode HeapFormatError} and left unwritten.
   *
   * @param buffer The buffer of a heap made by {@linkcode Heap.create}.
   * @returns A new handle (with its own worker id) on the same heap.
   *
   * @example Two handles see the same blocks
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const ptr = heap.alloc(8);
   * heap.f64[ptr >>> 3] = 42;
   * const other = Heap.attach(heap.buffer);
   * assert.equal(other.f64[ptr >>> 3], 42);
   * assert.notEqual(other.workerId, heap.workerId);
   * other.free(ptr);
   * assert.equal(heap.stats().liveAllocations, 0);
   * ```
   */
  static attach(buffer: SharedArrayBuffer): Heap {
    validateHeader(buffer);
    return new Heap(buffer);
  }

  /** The current size of the heap in bytes (grows when the heap grows, in every worker). */
  get byteLength(): number {
    return this.buffer.byteLength;
  }

  /**
   * Allocates a block of at least `sizeBytes` bytes whose start is a multiple
   * of `alignBytes`. The contents are not cleared (see {@linkcode Heap.allocZeroed}).
   * `alloc(0)` returns a valid, unique pointer to a block with a few usable bytes.
   * When no free block fits, the heap grows (up to `maxBytes`) and retries.
   *
   * @param sizeBytes Requested size, an integer in [0, 2^32).
   * @param alignBytes Alignment: a power of two up to 65536. Default 8.
   * @returns The block's byte offset (never 0).
   * @throws {OutOfMemoryError} When no block fits even at the maximum size; the heap is unchanged.
   *
   * @example Aligned allocation
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const ptr = heap.alloc(100, 4096);
   * assert.equal(ptr % 4096, 0);
   * assert.ok(heap.usableSize(ptr) >= 100);
   * ```
   */
  alloc(sizeBytes: number, alignBytes: number = 8): number {
    const ptr = this.tryAlloc(sizeBytes, alignBytes);
    if (ptr === 0) throw new OutOfMemoryError(sizeBytes, alignBytes, this.u32[H_HEAP_BYTES]);
    return ptr;
  }

  /**
   * Like {@linkcode Heap.alloc}, but returns `0` instead of throwing when out of memory.
   *
   * @param sizeBytes Requested size, an integer in [0, 2^32).
   * @param alignBytes Alignment: a power of two up to 65536. Default 8.
   * @returns The block's byte offset, or 0.
   *
   * @example Out of memory without an exception
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create({ initialBytes: 1 << 16, maxBytes: 1 << 16 });
   * assert.equal(heap.tryAlloc(1 << 20), 0);
   * assert.notEqual(heap.tryAlloc(64), 0);
   * ```
   */
  tryAlloc(sizeBytes: number, alignBytes: number = 8): number {
    checkSize("allocate", sizeBytes);
    const alignLog = checkAlign(alignBytes);
    const needBytes = chunkBytesFor(sizeBytes);
    if (needBytes > MAX_HEAP_BYTES) return 0;
    this.lock();
    try {
      return this.allocLocked(needBytes, alignLog);
    } finally {
      this.unlock();
    }
  }

  /**
   * Allocates a block like {@linkcode Heap.alloc} and fills its usable bytes with zeros.
   *
   * @param sizeBytes Requested size, an integer in [0, 2^32).
   * @param alignBytes Alignment: a power of two up to 65536. Default 8.
   * @returns The block's byte offset (never 0).
   * @throws {OutOfMemoryError} When no block fits even at the maximum size.
   *
   * @example Zeroed memory
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const ptr = heap.allocZeroed(32);
   * assert.deepEqual([...heap.u8.subarray(ptr, ptr + 32)], new Array(32).fill(0));
   * ```
   */
  allocZeroed(sizeBytes: number, alignBytes: number = 8): number {
    const ptr = this.alloc(sizeBytes, alignBytes);
    this.u8.fill(0, ptr, ptr + this.usableSizeUnchecked(ptr));
    return ptr;
  }

  /**
   * Frees a block. `free(0)` does nothing.
   *
   * @param ptr A pointer returned by this heap's allocation methods.
   * @throws {InvalidPointerError} When `ptr` is not the start of a live block; nothing changes.
   * @throws {DoubleFreeError} When the block was already freed; nothing changes.
   *
   * @example Free and reuse
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const a = heap.alloc(64);
   * heap.free(a);
   * heap.free(0); // a no-op
   * assert.equal(heap.alloc(64), a);
   * ```
   */
  free(ptr: number): void {
    if (ptr === 0) return;
    this.lock();
    try {
      arenaFree(this.u32, this.chunkOf("free", ptr));
    } finally {
      this.unlock();
    }
  }

  /**
   * Resizes a block, keeping its contents up to the smaller of the two sizes
   * and its alignment. Grows or shrinks in place when the neighbouring chunk
   * allows; otherwise moves the block. `realloc(0, n)` allocates.
   *
   * @param ptr A live block, or 0.
   * @param sizeBytes The new size, an integer in [0, 2^32).
   * @returns The block's (possibly new) byte offset.
   * @throws {OutOfMemoryError} When the block cannot grow; the old block stays valid and unchanged.
   * @throws {InvalidPointerError} When `ptr` is not the start of a live block.
   * @throws {DoubleFreeError} When the block was already freed.
   *
   * @example Growing keeps the contents
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * let ptr = heap.alloc(3);
   * heap.u8.set([1, 2, 3], ptr);
   * ptr = heap.realloc(ptr, 10_000);
   * assert.deepEqual([...heap.u8.subarray(ptr, ptr + 3)], [1, 2, 3]);
   * ```
   */
  realloc(ptr: number, sizeBytes: number): number {
    if (ptr === 0) return this.alloc(sizeBytes);
    checkSize("reallocate", sizeBytes);
    const needBytes = chunkBytesFor(sizeBytes);
    let moved = 0;
    let alignBytes = 8;
    this.lock();
    try {
      const c = this.chunkOf("reallocate", ptr);
      alignBytes = 1 << tagAlignLog(this.u32[(c + 4) >>> 2]);
      if (needBytes <= MAX_HEAP_BYTES) moved = this.reallocLocked(c, sizeBytes, needBytes);
    } finally {
      this.unlock();
    }
    if (moved === 0) throw new OutOfMemoryError(sizeBytes, alignBytes, this.u32[H_HEAP_BYTES]);
    return moved;
  }

  /**
   * The number of bytes usable at `ptr`: at least the size it was allocated
   * with, possibly a little more.
   *
   * @param ptr A live block.
   * @returns The usable size in bytes.
   * @throws {InvalidPointerError} When `ptr` is not the start of a live block.
   * @throws {DoubleFreeError} When the block was already freed.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * assert.ok(heap.usableSize(heap.alloc(30)) >= 30);
   * ```
   */
  usableSize(ptr: number): number {
    this.lock();
    try {
      this.chunkOf("get the size of", ptr);
      return this.usableSizeUnchecked(ptr);
    } finally {
      this.unlock();
    }
  }

  /**
   * Current figures of the heap, read under the heap lock.
   *
   * @returns A snapshot; see {@linkcode HeapStats}.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * heap.alloc(100);
   * const s = heap.stats();
   * assert.equal(s.liveAllocations, 1);
   * assert.equal(s.usedBytes + s.freeBytes + s.overheadBytes, s.heapBytes);
   * ```
   */
  stats(): HeapStats {
    this.lock();
    try {
      const u32 = this.u32;
      const largest = arenaLargestFree(u32);
      return {
        heapBytes: u32[H_HEAP_BYTES],
        maxBytes: u32[H_MAX_BYTES],
        usedBytes: u32[H_USED_BYTES],
        freeBytes: u32[H_FREE_BYTES],
        overheadBytes: FIXED_OVERHEAD_BYTES,
        largestFreeBytes: largest === 0 ? 0 : largest - CHUNK_OVERHEAD,
        freeChunks: u32[H_FREE_CHUNKS],
        liveAllocations: u32[H_LIVE],
        totalAllocations: u32[H_TOTAL_HI] * 2 ** 32 + u32[H_TOTAL_LO],
        highWaterBytes: u32[H_HWM],
        tripHighWaterBytes: u32[H_TRIP_HWM],
      };
    } finally {
      this.unlock();
    }
  }

  /**
   * Resets the trip high-water mark to the bytes in use now.
   *
   * @example Measuring the peak of one phase
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * heap.free(heap.alloc(10_000));
   * heap.resetTrip();
   * const before = heap.stats();
   * assert.equal(before.tripHighWaterBytes, before.usedBytes);
   * assert.ok(before.highWaterBytes > before.usedBytes);
   * ```
   */
  resetTrip(): void {
    this.lock();
    try {
      this.u32[H_TRIP_HWM] = this.u32[H_USED_BYTES];
    } finally {
      this.unlock();
    }
  }

  /**
   * Walks the whole heap and verifies every invariant: header fields, chunks
   * tile the arena, both boundary tags of each chunk agree, no two free chunks
   * are adjacent, free lists and bitmap agree, the counters match.
   *
   * @throws {HeapCorruptionError} Naming the first broken invariant.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   *
   * const heap = Heap.create();
   * heap.alloc(10);
   * heap.check(); // throws if anything is inconsistent
   * ```
   */
  check(): void {
    this.lock();
    try {
      this.checkLocked();
    } finally {
      this.unlock();
    }
  }

  // ---- internals (the heap lock is held) ----

  /** Takes the heap lock (bounded by the heap's lock timeout). */
  private lock(): void {
    lockWord(this.i32, H_LOCK, this.workerId, this.u32[H_LOCK_TIMEOUT_MS] || Infinity);
  }

  private unlock(): void {
    unlockWord(this.i32, H_LOCK, this.workerId);
  }

  private checkLocked(): void {
    const u32 = this.u32;
    const heapBytes = u32[H_HEAP_BYTES];
    if (u32[H_MAGIC] !== MAGIC) throw new HeapCorruptionError("magic number overwritten", 0);
    if (u32[H_VERSION] !== FORMAT_VERSION) throw new HeapCorruptionError("version overwritten", 4);
    if (heapBytes > this.buffer.byteLength || heapBytes % 8 !== 0 || heapBytes > u32[H_MAX_BYTES]) {
      throw new HeapCorruptionError(`heap size ${heapBytes} is inconsistent`, H_HEAP_BYTES * 4);
    }
    const used = arenaCheck(u32);
    if (used !== u32[H_LIVE]) {
      throw new HeapCorruptionError(
        `live counter ${u32[H_LIVE]} != ${used} used chunks`,
        H_LIVE * 4,
      );
    }
  }

  private allocLocked(needBytes: number, alignLog: number): number {
    const alignBytes = 1 << alignLog;
    let ptr = arenaAlloc(this.u32, needBytes, alignBytes, alignLog);
    if (ptr === 0 && this.growFor(needBytes + (alignBytes > 8 ? alignBytes + MIN_CHUNK : 0))) {
      ptr = arenaAlloc(this.u32, needBytes, alignBytes, alignLog);
    }
    return ptr;
  }

  private reallocLocked(c: number, sizeBytes: number, needBytes: number): number {
    const u32 = this.u32;
    if (arenaResizeInPlace(u32, c, needBytes)) return c + 8;
    const down = arenaResizeIntoPrevious(u32, this.u8, c, needBytes);
    if (down !== 0) return down;
    const oldUsable = (u32[c >>> 2] & SIZE_MASK) - CHUNK_OVERHEAD;
    const ptr = this.allocLocked(needBytes, tagAlignLog(u32[(c + 4) >>> 2]));
    if (ptr === 0) return 0;
    this.u8.copyWithin(ptr, c + 8, c + 8 + Math.min(oldUsable, sizeBytes));
    arenaFree(u32, c);
    return ptr;
  }

  /**
   * Grows the buffer so that a free chunk of `chunkBytes` exists at the end of
   * the arena. Returns false, changing nothing, when `maxBytes` does not allow it.
   */
  private growFor(chunkBytes: number): boolean {
    const u32 = this.u32;
    const oldBytes = u32[H_HEAP_BYTES];
    const maxBytes = u32[H_MAX_BYTES];
    const missing = chunkBytes - arenaTailFreeBytes(u32);
    if (oldBytes + missing > maxBytes) return false;
    let newBytes = Math.max(oldBytes + missing, Math.min(oldBytes * 2, maxBytes));
    newBytes = Math.min(Math.ceil(newBytes / GROW_STEP_BYTES) * GROW_STEP_BYTES, maxBytes);
    try {
      if (this.buffer.byteLength < newBytes) this.buffer.grow(newBytes);
    } catch {
      return false; // the platform refused the memory: report out of memory
    }
    arenaExtend(u32, newBytes);
    return true;
  }

  /** Validates `ptr` as the start of a live block and returns its chunk offset. */
  private chunkOf(operation: string, ptr: number): number {
    if (typeof ptr !== "number") throw new InvalidPointerError(operation, ptr, "is not a number");
    if (!Number.isInteger(ptr)) throw new InvalidPointerError(operation, ptr, "is not an integer");
    const u32 = this.u32;
    const end = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
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
      const sizeBytes = h & SIZE_MASK;
      if (
        (h & 6) === 0 && sizeBytes >= MIN_CHUNK && c + sizeBytes <= end &&
        u32[(c + sizeBytes - 4) >>> 2] === h && isUsedTag(c, tag)
      ) {
        return c;
      }
    } else if (tag === freeTag(c)) {
      throw new DoubleFreeError(operation, ptr);
    }
    throw new InvalidPointerError(operation, ptr, "is not the start of a live block");
  }

  private usableSizeUnchecked(ptr: number): number {
    return (this.u32[(ptr - 8) >>> 2] & SIZE_MASK) - CHUNK_OVERHEAD;
  }
}

function roundUp8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** The chunk size that holds `sizeBytes` of payload. */
function chunkBytesFor(sizeBytes: number): number {
  const n = Math.ceil((sizeBytes + CHUNK_OVERHEAD) / 8) * 8;
  return n < MIN_CHUNK ? MIN_CHUNK : n;
}

function checkByteCount(name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(`Cannot create heap: ${name} must be a number: ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`Cannot create heap: ${name} must be a non-negative integer: ${value}`);
  }
  return value;
}

function checkSize(operation: string, sizeBytes: unknown): void {
  if (typeof sizeBytes !== "number") {
    throw new TypeError(`Cannot ${operation}: size must be a number: ${typeof sizeBytes}`);
  }
  if (!Number.isInteger(sizeBytes) || sizeBytes < 0 || sizeBytes > 0xffffffff) {
    throw new RangeError(`Cannot ${operation}: size must be an integer in [0, 2^32): ${sizeBytes}`);
  }
}

/** Validates an alignment and returns its log2 (at least 3: every block is 8-aligned). */
function checkAlign(alignBytes: unknown): number {
  if (typeof alignBytes !== "number") {
    throw new TypeError(`Cannot allocate: alignment must be a number: ${typeof alignBytes}`);
  }
  if (
    !Number.isInteger(alignBytes) || alignBytes < 1 || alignBytes > MAX_ALIGN ||
    (alignBytes & (alignBytes - 1)) !== 0
  ) {
    throw new RangeError(
      `Cannot allocate: alignment must be a power of two in [1, ${MAX_ALIGN}]: ${alignBytes}`,
    );
  }
  return alignBytes <= 8 ? 3 : 31 - Math.clz32(alignBytes);
}

/** Throws `HeapFormatError` unless `buffer` holds a heap of this format. Never writes. */
function validateHeader(buffer: unknown): void {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new HeapFormatError("buffer", buffer, "is not a SharedArrayBuffer");
  }
  if (!buffer.growable) throw new HeapFormatError("buffer", buffer, "is not growable");
  if (buffer.byteLength < MIN_HEAP_BYTES) {
    throw new HeapFormatError("byteLength", buffer.byteLength, "is too small for a heap");
  }
  const u32 = new Uint32Array(buffer, 0, HEADER_BYTES / 4);
  if (u32[H_MAGIC] !== MAGIC) {
    throw new HeapFormatError("magic", u32[H_MAGIC], "does not mark a typedheap heap");
  }
  if (u32[H_VERSION] !== FORMAT_VERSION) {
    throw new HeapFormatError("version", u32[H_VERSION], `is not format version ${FORMAT_VERSION}`);
  }
  if (u32[H_HEADER_BYTES] !== HEADER_BYTES) {
    throw new HeapFormatError("headerBytes", u32[H_HEADER_BYTES], `is not ${HEADER_BYTES}`);
  }
  const heapBytes = u32[H_HEAP_BYTES];
  const maxBytes = u32[H_MAX_BYTES];
  if (heapBytes < MIN_HEAP_BYTES || heapBytes % 8 !== 0 || heapBytes > buffer.byteLength) {
    throw new HeapFormatError(
      "heapBytes",
      heapBytes,
      `is inconsistent with a buffer of ${buffer.byteLength} bytes`,
    );
  }
  if (maxBytes < heapBytes || maxBytes > buffer.maxByteLength) {
    throw new HeapFormatError(
      "maxBytes",
      maxBytes,
      `is inconsistent with a buffer whose maxByteLength is ${buffer.maxByteLength}`,
    );
  }
}
