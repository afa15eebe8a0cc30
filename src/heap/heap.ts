/**
 * The `Heap`: a thin handle over a growable `SharedArrayBuffer` whose bytes
 * hold the header, every allocator's state and every block.
 *
 * This module is the public facade: argument checks and the choice between
 * the slab (`src/alloc/slab_local.ts`: this handle's `SlabAllocator`, which
 * also holds its views and the heap lock) and the arena (`src/alloc/arena.ts`).
 * Areas and recovery are in `src/alloc/slab_area.ts`, the slab's check and
 * figures in `src/alloc/slab_check.ts`, the heap lock in `_lock.ts`, debug
 * mode in `_debug_heap.ts`, header validation in `_header.ts`.
 *
 * @module
 */

import { arenaUsable, chunkBytesFor } from "../alloc/arena.ts";
import { CLASS_COUNT, classOf, P_SLOT, SLAB_MAX_ALIGN, SLAB_MAX_BYTES } from "../alloc/slab.ts";
import { detachArea, recoverWorker, repairOwn, restoredSlab } from "../alloc/slab_area.ts";
import { heapStats } from "../alloc/slab_check.ts";
import { SlabAllocator } from "../alloc/slab_local.ts";
import { CACHE_AFTER_WAITS, CACHE_NEVER, cacheFree, cachePopOwn } from "../alloc/arena_cache.ts";
import { OutOfMemoryError } from "../errors.ts";
import {
  H_DEBUG,
  H_HEAP_BYTES,
  H_LAST_WORKER,
  H_LOCK,
  H_LOCK_TIMEOUT_MS,
  H_OP,
  H_TRIP_HWM,
  H_USED_BYTES,
  HEADER_BYTES,
  MAX_HEAP_BYTES,
  ROOT_SLOTS,
} from "./layout.ts";
import { checkLockTimeoutMs } from "./_options.ts";
import { HeapDebug } from "./_debug_heap.ts";
import {
  checkAlign,
  checkArenaCache,
  checkHeapLocked,
  checkSize,
  validateHeader,
} from "./_header.ts";
import { cutWord, DEFAULT_LOCK_TIMEOUT_MS } from "./_lock.ts";
import { type HeapRegions, walkRegions } from "./regions.ts";
import { rootDelete, rootGet, rootList, rootNameBytes, rootPointer, rootSet } from "./roots.ts";
import { restoreBuffer, restoreMemory, type RestoreOptions, snapshotEnd } from "./snapshot.ts";
import {
  attachMemory,
  checkBaseOffset,
  createInBuffer,
  createInMemory,
  isWasmMemory,
  memoryGrew,
} from "./_backing.ts";
import { SlabClass } from "./slab_class.ts";
import type { AttachOptions, HeapOptions, HeapStats, RecoverReport, WasmMemory } from "./types.ts";

export type { RestoreOptions } from "./snapshot.ts";
export { SlabClass } from "./slab_class.ts";
export type {
  AttachOptions,
  HeapOptions,
  HeapStats,
  RecoverReport,
  SlabClassStats,
  SlabStats,
  WasmMemory,
} from "./types.ts";

const SLAB_MAX_ALIGN_LOG = 31 - Math.clz32(SLAB_MAX_ALIGN);

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
  /** This handle's slab allocator, which also holds its views, worker id, key and the heap lock. */
  private readonly s: SlabAllocator;
  /** This handle's worker id, unique among all handles of this heap; it owns the locks it takes. */
  readonly workerId: number;
  /** Debug mode (header word `H_DEBUG`): redzones, poison and a quarantine. */
  private readonly debug: boolean;
  /** Debug mode's quarantine and checks (empty and unused outside debug mode). */
  private readonly dbg: HeapDebug;
  // The public views, copied from `s` (the getters check them on this object:
  // one more object to load made `heap.f64[p >>> 3] = x` in a loop ~10% slower).
  /** The WebAssembly memory holding the heap, or null. */
  private readonly memory: WasmMemory | null;
  /** The buffer the public views below are over, and its bytes when they were taken. */
  private viewBuffer!: SharedArrayBuffer;
  private viewBufferBytes = 0;
  private xu8!: Uint8Array;
  private xi32!: Int32Array;
  private xu32!: Uint32Array;
  private xf64!: Float64Array;
  private xdv!: DataView;

  private constructor(
    buffer: SharedArrayBuffer,
    memory: WasmMemory | null = null,
    base: number = 0,
  ) {
    const s = new SlabAllocator(buffer, memory, base);
    this.s = s;
    this.workerId = s.workerId;
    this.debug = s.u32[H_DEBUG] === 1;
    if (this.debug) s.cacheWaits = CACHE_NEVER; // freed blocks go to the quarantine, never a cache
    this.memory = memory;
    this.syncViews();
    this.dbg = new HeapDebug(s, {
      allocRaw: (sizeBytes, alignBytes) => this.tryAllocChecked(sizeBytes, alignBytes),
      freeRaw: (ptr) => this.freeRaw(ptr),
      alloc: (sizeBytes, alignBytes) => this.alloc(sizeBytes, alignBytes),
    });
  }

  /**
   * The heap's lock timeout from its header, in milliseconds: how long the heap
   * lock, and a `Mutex`/`Condition`/`Semaphore`/`Barrier` made on this handle
   * without a timeout of its own, wait at most (lock objects treat `0` as 10000).
   *
   * @returns The timeout in milliseconds.
   *
   * @example Reading the lock timeout
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * assert.equal(Heap.create({ lockTimeoutMs: 250 }).lockTimeoutMs, 250);
   * ```
   */
  get lockTimeoutMs(): number {
    return this.s.u32[H_LOCK_TIMEOUT_MS];
  }

  /**
   * Whether the heap is in debug mode (`Heap.create({ debug: true })`, kept in
   * the header): struct records made in it carry a generation word, so a
   * view of a destroyed record throws `UseAfterFreeError`.
   *
   * @returns True in debug mode.
   *
   * @example Reading the mode
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * assert.equal(Heap.create({ debug: true }).debugMode, true);
   * assert.equal(Heap.create().debugMode, false);
   * ```
   */
  get debugMode(): boolean {
    return this.debug;
  }

  /**
   * Byte view over the whole heap. The views are fixed-length views (V8 reads
   * them far faster than length-tracking ones); every get returns views that
   * cover the heap as it is now, rebuilt after any worker grew it. Inside a hot
   * loop, read the view once into a local; read it again after anything that
   * may grow the heap (an allocation, or a pointer received from another worker).
   * For a heap in a `WebAssembly.Memory` the views start at address 0 of the
   * memory, so pointers (wasm addresses) index them directly.
   */
  get u8(): Uint8Array {
    if (this.viewsStale()) this.syncViews();
    return this.xu8;
  }

  /** Int32 view over the whole heap (usable with `Atomics`); see {@linkcode Heap.u8} on freshness. */
  get i32(): Int32Array {
    if (this.viewsStale()) this.syncViews();
    return this.xi32;
  }

  /** Uint32 view over the whole heap; see {@linkcode Heap.u8} on freshness. */
  get u32(): Uint32Array {
    if (this.viewsStale()) this.syncViews();
    return this.xu32;
  }

  /** Float64 view over the whole heap; see {@linkcode Heap.u8} on freshness. */
  get f64(): Float64Array {
    if (this.viewsStale()) this.syncViews();
    return this.xf64;
  }

  /** DataView over the whole heap (pass `true` for little-endian); see {@linkcode Heap.u8} on freshness. */
  get dv(): DataView {
    if (this.viewsStale()) this.syncViews();
    return this.xdv;
  }

  /**
   * The shared buffer that holds the whole heap; send it to a worker and
   * {@linkcode Heap.attach} it there. For a heap in a `WebAssembly.Memory`,
   * the memory's buffer (send the memory itself to workers).
   */
  get buffer(): SharedArrayBuffer {
    if (this.viewsStale()) this.syncViews();
    return this.viewBuffer;
  }

  /** True when the buffer grew (in any worker) since the public views were taken. */
  private viewsStale(): boolean {
    return this.memory === null
      ? this.viewBuffer.byteLength !== this.viewBufferBytes
      : memoryGrew(this.memory, this.viewBuffer, this.viewBufferBytes);
  }

  /** Takes the public views from `s`, rebuilding them first if the heap grew. */
  private syncViews(): void {
    const s = this.s;
    if (s.viewsStale()) s.refreshViews();
    this.viewBuffer = s.buffer;
    this.viewBufferBytes = s.bufferBytes;
    this.xu8 = s.xu8;
    this.xi32 = s.xi32;
    this.xu32 = s.xu32;
    this.xf64 = s.xf64;
    this.xdv = s.xdv;
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
    if (options.debug !== undefined && typeof options.debug !== "boolean") {
      throw new TypeError(`Cannot create heap: debug must be a boolean: ${typeof options.debug}`);
    }
    if (options.memory !== undefined) return Heap.createInMemory(options.memory, options);
    return new Heap(createInBuffer(options));
  }

  /**
   * Opens an existing heap, typically in another worker that received
   * `heap.buffer` by `postMessage`. A buffer that does not hold a heap of this
   * format is rejected with {@linkcode HeapFormatError} and left unwritten.
   *
   * @param buffer The buffer of a heap made by {@linkcode Heap.create}, or the shared
   *   `WebAssembly.Memory` that holds one (see {@linkcode HeapOptions.memory}).
   * @param options Where the heap starts in a memory; see {@linkcode AttachOptions}.
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
  static attach(buffer: SharedArrayBuffer | WasmMemory, options: AttachOptions = {}): Heap {
    const cacheWaits = checkArenaCache(options.arenaCache);
    let heap: Heap;
    if (isWasmMemory(buffer)) {
      const base = checkBaseOffset("attach", options.baseOffset ?? 0);
      heap = new Heap(attachMemory(buffer, base), buffer, base);
    } else {
      validateHeader(buffer);
      heap = new Heap(buffer);
    }
    if (!heap.debug) heap.s.cacheWaits = cacheWaits; // never a cache in debug mode
    return heap;
  }

  /** `create` for a heap in a WebAssembly.Memory (see {@linkcode HeapOptions.memory}). */
  private static createInMemory(memory: WasmMemory, options: HeapOptions): Heap {
    if (!isWasmMemory(memory)) {
      throw new TypeError(
        `Cannot create heap: memory must be a WebAssembly.Memory: ${typeof memory}`,
      );
    }
    const base = checkBaseOffset("create", options.baseOffset ?? 0);
    const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    checkLockTimeoutMs("create heap", lockTimeoutMs);
    const buffer = createInMemory(memory, base, {
      initialBytes: options.initialBytes,
      maxBytes: options.maxBytes,
      lockTimeoutMs,
    });
    if (options.debug === true) new Uint32Array(buffer, base, HEADER_BYTES >>> 2)[H_DEBUG] = 1;
    return new Heap(buffer, memory, base);
  }

  /**
   * Makes a new heap from a {@linkcode Heap.snapshot}, in a new growable
   * buffer (or in `options.memory`): every root and live block is where it
   * was, byte for byte. No page
   * or lock belongs to a worker of the heap the snapshot came from: slab
   * pages with live slots become orphans that any worker adopts, empty ones go
   * back to the arena, the heap lock is free and worker ids start again at 1.
   * Bad bytes are rejected before anything is allocated.
   *
   * @param bytes The snapshot (for example read back from a file).
   * @param options The restored heap's `maxBytes` and lock timeout; see {@linkcode RestoreOptions}.
   * @returns A handle on the restored heap.
   * @throws {HeapFormatError} When `bytes` is truncated, not a heap, or of another format version.
   * @throws {RangeError} When an option is out of range, or `options.memory` cannot grow enough.
   *
   * @example Restoring a saved heap
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const p = heap.alloc(24);
   * heap.f64[p >>> 3] = 2.5;
   * heap.setRoot("answer", p);
   * const copy = Heap.restore(heap.snapshot());
   * const q = copy.getRoot("answer");
   * assert.equal(copy.f64[q >>> 3], 2.5);
   * copy.free(q);
   * copy.check();
   * ```
   */
  static restore(bytes: Uint8Array, options?: RestoreOptions): Heap {
    const heap = options?.memory === undefined
      ? new Heap(restoreBuffer(bytes, options))
      : new Heap(restoreMemory(bytes, options), options.memory, options.baseOffset ?? 0);
    // Restored with the lock free: a mark in the bytes must put the lock word
    // in the cut state, or the lock below would not report it.
    const op = heap.s.u32[H_OP];
    if (op !== 0) Atomics.compareExchange(heap.s.i32, H_LOCK, 0, cutWord(op));
    restoredSlab(heap.s);
    return heap;
  }

  /**
   * A copy of the heap's bytes up to the end of its last used chunk (the free
   * tail is not copied; {@linkcode Heap.restore} makes it again). It is taken
   * under the heap lock, so arena operations of other workers wait for it;
   * but as for {@linkcode Heap.check}, other workers must not allocate or free
   * small blocks, write to blocks, or hold any lock in the heap meanwhile,
   * or the copy may catch a half-done change.
   *
   * @returns The snapshot; write it to a file and pass it to {@linkcode Heap.restore}.
   *
   * @example The free tail is not copied
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create({ initialBytes: 8 << 20 });
   * heap.alloc(100_000);
   * assert.ok(heap.snapshot().length < 200_000);
   * ```
   */
  snapshot(): Uint8Array {
    this.s.lock();
    try {
      return this.s.u8.slice(0, snapshotEnd(this.s.u32));
    } finally {
      this.s.unlock();
    }
  }

  /**
   * Stores a pointer under a name in the heap's roots table, so any worker,
   * or a program that restores a snapshot, finds it with {@linkcode Heap.getRoot}.
   * Setting an existing name replaces its pointer; setting `0` removes it.
   *
   * @param name 1 to 40 UTF-8 bytes.
   * @param ptr A pointer into the heap, or anything with a numeric `ptr` (a struct record view).
   * @throws {TypeError} When `name` is not a string or `ptr` not a number.
   * @throws {RangeError} When `name` is empty or too long, `ptr` is outside the heap, or the table (32 roots) is full.
   *
   * @example Naming a block
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const table = heap.alloc(1024);
   * heap.setRoot("table", table);
   * assert.equal(Heap.attach(heap.buffer).getRoot("table"), table);
   * ```
   */
  setRoot(name: string, ptr: number | { readonly ptr: number }): void {
    const bytes = rootNameBytes("set", name);
    this.s.lock();
    try {
      const value = rootPointer(ptr, this.s.u32[H_HEAP_BYTES] + this.s.base);
      if (value === 0) {
        rootDelete(this.s.u32, this.s.u8, bytes);
      } else if (!rootSet(this.s.u32, this.s.u8, bytes, value)) {
        throw new RangeError(`Cannot set root: the table of ${ROOT_SLOTS} roots is full: ${name}`);
      }
    } finally {
      this.s.unlock();
    }
  }

  /**
   * The pointer stored under `name` by {@linkcode Heap.setRoot}.
   *
   * @param name The root's name.
   * @returns The pointer, or 0 when no root has that name.
   * @throws {TypeError} When `name` is not a string.
   * @throws {RangeError} When `name` is empty or longer than 40 UTF-8 bytes.
   *
   * @example An unset root reads as 0
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * assert.equal(Heap.create().getRoot("missing"), 0);
   * ```
   */
  getRoot(name: string): number {
    const bytes = rootNameBytes("get", name);
    this.s.lock();
    try {
      return rootGet(this.s.u32, this.s.u8, bytes);
    } finally {
      this.s.unlock();
    }
  }

  /**
   * Removes a root (the block it named stays allocated).
   *
   * @param name The root's name.
   * @returns True when the root existed.
   * @throws {TypeError} When `name` is not a string.
   * @throws {RangeError} When `name` is empty or longer than 40 UTF-8 bytes.
   *
   * @example Deleting a root
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * heap.setRoot("a", heap.alloc(8));
   * assert.equal(heap.deleteRoot("a"), true);
   * assert.equal(heap.deleteRoot("a"), false);
   * assert.equal(heap.getRoot("a"), 0);
   * ```
   */
  deleteRoot(name: string): boolean {
    const bytes = rootNameBytes("delete", name);
    this.s.lock();
    try {
      return rootDelete(this.s.u32, this.s.u8, bytes);
    } finally {
      this.s.unlock();
    }
  }

  /**
   * Every root of the heap.
   *
   * @returns An object mapping each root's name to its pointer.
   *
   * @example Listing roots
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const p = heap.alloc(8);
   * heap.setRoot("first", p);
   * assert.deepEqual(heap.roots(), { first: p });
   * ```
   */
  roots(): Record<string, number> {
    this.s.lock();
    try {
      return rootList(this.s.u32, this.s.u8);
    } finally {
      this.s.unlock();
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
    this.s.lock();
    try {
      this.s.u32[H_TRIP_HWM] = this.s.u32[H_USED_BYTES];
    } finally {
      this.s.unlock();
    }
  }

  /**
   * Describes the heap from start to end: the header, every arena chunk
   * (free, a user block, a slab page or a worker's slab area), every slab page
   * (class, owner, used / free / remotely freed slots, state) and every
   * worker's slab area. One pass over the boundary tags under the heap lock:
   * cheap enough to draw a heap map every animation frame.
   *
   * On a thread that may not block (a browser's main thread) the heap lock is
   * taken by spinning, bounded by the heap's lock timeout; workers hold it only
   * for the few hundred nanoseconds of an arena operation. Slab slot counts are
   * read while the pages' owners keep working: they may be a few operations old.
   *
   * @returns The map; see {@linkcode HeapRegions}.
   * @throws {HeapCorruptionError} When a boundary tag, counter or slab header is inconsistent.
   *
   * @example The sums of the map agree with stats()
   * ```ts
   * import { Heap, RegionKind } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * heap.alloc(5000);
   * heap.alloc(24);
   * const map = heap.regions();
   * const stats = heap.stats();
   * assert.equal(map.usedBytes, stats.usedBytes);
   * assert.equal(map.freeBytes, stats.freeBytes);
   * assert.equal(map.blockChunks + map.usedSlots, stats.liveAllocations);
   * assert.equal(map.pages.length, 1);
   * assert.equal(map.chunkKind[map.pages[0].chunkIndex], RegionKind.SlabPage);
   * ```
   */
  regions(): HeapRegions {
    this.s.lock();
    try {
      this.s.drainDeferredIfAnyLocked(); // a block waiting for its free is not a region
      return walkRegions(this.s.u32);
    } finally {
      this.s.unlock();
    }
  }

  /** The current size of the heap in bytes (grows when the heap grows, in every worker). */
  get byteLength(): number {
    const s = this.s;
    return s.memory === null ? s.buffer.byteLength : Atomics.load(s.u32, H_HEAP_BYTES);
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
    if (ptr === 0) throw new OutOfMemoryError(sizeBytes, alignBytes, this.s.u32[H_HEAP_BYTES]);
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
    if (this.debug) return this.dbg.tryAlloc(sizeBytes, alignBytes);
    // Fast path: a small request with the default alignment goes straight to
    // this worker's slab pages (no lock, no atomics).
    const s = this.s;
    const slot = s.allocSmall(sizeBytes, alignBytes);
    if (slot !== 0) return slot + s.base;
    const ptr = this.tryAllocChecked(sizeBytes, alignBytes);
    return ptr === 0 ? 0 : ptr + s.base;
  }

  /** `tryAlloc` for everything but the fast path: validates, then slab or arena. */
  private tryAllocChecked(sizeBytes: number, alignBytes: number): number {
    checkSize("allocate", sizeBytes);
    const alignLog = checkAlign(alignBytes);
    const s = this.s;
    if (sizeBytes <= SLAB_MAX_BYTES && alignLog <= SLAB_MAX_ALIGN_LOG) {
      const cls = classOf(sizeBytes, alignLog);
      if (cls < CLASS_COUNT) {
        const ptr = s.allocSlot(cls);
        if (ptr !== 0) return ptr;
      }
    }
    const needBytes = chunkBytesFor(sizeBytes);
    if (needBytes > MAX_HEAP_BYTES) return 0;
    if (s.cache !== 0) {
      const c = cachePopOwn(s, needBytes, alignLog); // the arena cache: no lock
      if (c !== 0) return c + 8;
    }
    return s.allocArena(needBytes, alignLog);
  }

  /**
   * A handle on the slab size class that serves `sizeBytes`, for code that
   * allocates one record type in bulk: its `alloc()` skips the size lookup.
   * Blocks from it are freed with {@linkcode Heap.free} (or `SlabClass.free`).
   *
   * @param sizeBytes The record size, an integer in [0, 1024].
   * @returns The size class.
   *
   * @example A class for 24-byte records
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const points = heap.slab(24);
   * assert.equal(points.slotBytes, 24);
   * const p = points.alloc();
   * heap.f64[p >>> 3] = 1;
   * points.free(p);
   * ```
   */
  slab(sizeBytes: number): SlabClass {
    checkSize("get a slab class", sizeBytes);
    if (sizeBytes > SLAB_MAX_BYTES) {
      throw new RangeError(
        `Cannot get a slab class: size must be at most ${SLAB_MAX_BYTES} bytes: ${sizeBytes}`,
      );
    }
    return new SlabClass(this, classOf(sizeBytes, 3));
  }

  /**
   * Allocates one slot of slab class `classIndex` (see {@linkcode Heap.slab})
   * from this worker's pages; takes a new page from the arena when they are
   * full. When no page can be had, returns 0 (callers fall back to the arena).
   *
   * @param classIndex A class index in `[0, 40)`, as in `SlabClass.classIndex`.
   * @returns The slot's byte offset, or 0 when no page could be had.
   *
   * @example Allocating from a class index
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const cls = heap.slab(64).classIndex;
   * const p = heap.allocClass(cls);
   * assert.equal(heap.usableSize(p), 64);
   * ```
   */
  allocClass(classIndex: number): number {
    if (this.debug) return 0; // callers fall back to alloc(), which adds a redzone
    const s = this.s;
    const ptr = s.allocClass(classIndex);
    return ptr === 0 ? 0 : ptr + s.base;
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
    const abs = this.alloc(sizeBytes, alignBytes);
    const s = this.s;
    const ptr = abs - s.base;
    const base = s.slabPageOf(ptr);
    const usable = this.debug
      ? sizeBytes
      : base !== 0
      ? s.u32[(base >>> 2) + P_SLOT]
      : arenaUsable(s.u32, ptr);
    s.u8.fill(0, ptr, ptr + usable);
    return abs;
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
    if (this.debug) this.dbg.free(ptr);
    else this.freeRaw(ptr);
  }

  /** `free` without debug mode's quarantine. */
  private freeRaw(ptr: number): void {
    const s = this.s;
    if (s.base !== 0) ptr = s.toRel(ptr);
    if (typeof ptr === "number" && (ptr >>> 0) === ptr) {
      if (ptr === 0 || s.freeSlot("free", ptr, false)) return;
    }
    if (s.cacheWaits >= CACHE_AFTER_WAITS && cacheFree(s, ptr)) return; // the arena cache: no lock
    s.freeArena(ptr);
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
    if (this.debug) return this.dbg.realloc(ptr, sizeBytes);
    if (ptr === 0) return this.alloc(sizeBytes);
    const s = this.s;
    if (s.base !== 0) ptr = s.toRel(ptr);
    checkSize("reallocate", sizeBytes);
    const base = s.slabPageOf(ptr);
    if (base === 0) return s.reallocArena(ptr, sizeBytes);
    const moved = s.reallocSlot(base, ptr, sizeBytes);
    if (moved !== 0) return moved + s.base;
    const slot = s.u32[(base >>> 2) + P_SLOT]; // the alignment it kept, as in reallocSlot
    throw new OutOfMemoryError(
      sizeBytes,
      Math.min(SLAB_MAX_ALIGN, slot & -slot),
      s.u32[H_HEAP_BYTES],
    );
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
   * @example The usable size of a block
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * assert.ok(heap.usableSize(heap.alloc(30)) >= 30);
   * ```
   */
  usableSize(ptr: number): number {
    const s = this.s;
    if (s.base !== 0) ptr = s.toRel(ptr);
    if (this.debug) return this.dbg.checkRedzone(ptr, this.dbg.liveUsable("get the size of", ptr));
    return s.usableOf("get the size of", ptr);
  }

  /**
   * Current figures of the heap, read under the heap lock.
   *
   * @returns A snapshot; see {@linkcode HeapStats}.
   *
   * @example Heap figures
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
    return heapStats(this.s);
  }

  /**
   * Walks the whole heap and verifies every invariant: header fields, chunks
   * tile the arena, both boundary tags of each chunk agree, no two free chunks
   * are adjacent, free lists and bitmap agree, the counters match.
   *
   * @throws {HeapCorruptionError} Naming the first broken invariant.
   *
   * @example Checking the heap
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   *
   * const heap = Heap.create();
   * heap.alloc(10);
   * heap.check(); // throws if anything is inconsistent
   * ```
   */
  check(): void {
    const s = this.s;
    s.lock();
    try {
      s.drainDeferredIfAnyLocked();
      checkHeapLocked(s);
      if (this.debug) this.dbg.checkLocked();
    } finally {
      s.unlock();
    }
  }

  /**
   * Gives this handle's slab pages to the heap before the worker stops using
   * it: empty pages go back to the arena, pages with live slots become orphans
   * that the next worker needing that size class adopts. Live blocks stay
   * valid and can be freed from any worker. Orphan pages whose slots have all
   * been freed since (by any worker) go back to the arena too. The handle
   * stays usable (it makes a new area on its next small allocation).
   *
   * @example Handing a worker's pages over
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const worker = Heap.attach(heap.buffer);
   * const p = worker.alloc(24);
   * worker.detach();
   * heap.free(p); // still a live block
   * heap.detach(); // the orphaned page is empty now: it goes back to the arena
   * assert.equal(heap.stats().slab.pages, 0);
   * heap.check();
   * ```
   */
  detach(): void {
    this.dbg.drain();
    detachArea(this.s);
  }

  /**
   * Recovers the heap after worker `workerId` died (was terminated, or
   * crashed), possibly in the middle of an operation or holding the heap lock.
   *
   * What it needs from the caller: the worker must have stopped, or stop
   * using this heap for good (terminated, crashed, or no longer calling it).
   * `recover` first watches the worker for the heap's `lockTimeoutMs`: if the
   * worker renews a heartbeat in that time (an allocation or free that took
   * the heap lock, a slab refill, or a long operation such as `check()`
   * walking), or takes or releases the heap lock, `WorkerAliveError` is
   * thrown and nothing changes.
   * Only then does it work on the worker's state: the arena is verified and
   * rebuilt from a walk of the chunks if the worker held the lock or was cut
   * short in an operation (`HeapCorruptionError`, and the heap stays locked or
   * marked, if the chunks no longer tile the arena), the slab's lists are
   * rebuilt, and the worker's pages are handed over: empty ones to the arena,
   * the rest as orphans that the next worker needing their size class adopts.
   * Its area is kept as a 3,232-byte tombstone, so a worker that was idle (not
   * dead) and touches the heap again starts a new area instead of reading
   * reused memory. Blocks the worker allocated stay valid until someone frees them.
   *
   * `recover(heap.workerId)` (its own id) repairs what an operation of this
   * handle left when it was cut short by an exception (for example a stack
   * overflow), after which operations report `HeapCorruptionError`.
   *
   * @param workerId The dead worker's id (its `heap.workerId`, `LockTimeoutError.ownerId`,
   *   or the id named by a `HeapCorruptionError` about a cut-short operation).
   * @returns What was recovered.
   * @throws {WorkerAliveError} When the worker showed signs of life while it was watched.
   * @throws {HeapCorruptionError} When the heap is inconsistent beyond repair.
   * @throws {RangeError} When `workerId` is not a worker id of this heap.
   *
   * @example Recovering from a worker that died holding the heap lock
   * ```ts
   * import { Heap, lockWord } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create({ lockTimeoutMs: 50 }); // recover() watches for 50 ms
   * const dead = Heap.attach(heap.buffer);
   * dead.alloc(24);
   * lockWord(dead.i32, 5, dead.workerId, 1000); // it takes the heap lock (word 5), then dies
   * const report = heap.recover(dead.workerId);
   * assert.equal(report.lockReleased, true);
   * assert.equal(report.pages, 1);
   * heap.check();
   * heap.free(heap.alloc(100));
   * ```
   */
  recover(workerId: number): RecoverReport {
    if (
      typeof workerId !== "number" || !Number.isInteger(workerId) || workerId < 1 ||
      workerId > this.s.u32[H_LAST_WORKER]
    ) {
      throw new RangeError(`Cannot recover worker: not a worker id of this heap: ${workerId}`);
    }
    if (workerId === this.workerId) {
      repairOwn(this.s);
      return { lockReleased: false, areas: 0, pages: 0 };
    }
    return recoverWorker(this.s, workerId);
  }
}
