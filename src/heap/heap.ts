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
  arenaRebuild,
  arenaResizeInPlace,
  arenaResizeIntoPrevious,
  arenaTailFreeBytes,
  freeTag,
  internalTag,
  isUsedTag,
  tagAlignLog,
} from "../alloc/arena.ts";
import {
  A_ALLOCS_HI,
  A_ALLOCS_LO,
  A_BEAT,
  A_BUSY,
  A_CACHE,
  A_CLASSES,
  A_MAGIC,
  A_NEXT,
  A_WORKER,
  AREA_BYTES,
  areaMagic,
  CACHE_ENTRY_KEY,
  CACHE_SLOTS,
  CACHE_SPILL,
  CACHE_STRIDE,
  cachedSlots,
  cacheEntryMask,
  checkPage,
  CLASS_BYTES,
  CLASS_COUNT,
  CLASS_OF_ALIGN8,
  classOf,
  collectRemote,
  E_ACTIVE,
  E_FULL,
  E_PAGES,
  E_SPARE,
  flushCache,
  FREE_SLOT_KEY,
  freeSlotTag,
  H_SLAB_AREA_COUNT,
  H_SLAB_AREAS,
  H_SLAB_INTERNAL,
  H_SLAB_ORPHANS,
  H_SLAB_PAGES,
  H_SLAB_RETIRED_HI,
  H_SLAB_RETIRED_LO,
  H_SLAB_TOMBSTONES,
  initPage,
  isFreeSlotOf,
  MAX_PAGE_SLOTS,
  P_AREA,
  P_BUMP,
  P_CAPACITY,
  P_CLASS,
  P_FREE,
  P_MAGIC2,
  P_NEXT,
  P_NEXT_CHECK,
  P_OWNER,
  P_PREV,
  P_PREV_CHECK,
  P_REMOTE,
  P_SLOT,
  P_STATE,
  P_USED,
  PAGE_ALIGN_LOG,
  PAGE_BYTES,
  PAGE_HEADER_BYTES,
  PAGE_MAGIC2_KEY,
  PAGE_MAGIC_KEY,
  PAGE_USABLE_BYTES,
  pageLinkCheck,
  pageMagic,
  pageMagic2,
  pageSlotsEnd,
  pushPage,
  pushPageSecond,
  SLAB_MAX_ALIGN,
  SLAB_MAX_BYTES,
  SLOT_INV,
  slotLink,
  slotLinkMask,
  slotProblem,
  spillCache,
  STATE_ACTIVE,
  STATE_FULL,
  STATE_ORPHAN,
  STATE_SPARE,
  tombstoneMagic,
  unlinkPage,
} from "../alloc/slab.ts";
import { registerLocalWorker } from "../sync/_local.ts";
import {
  DoubleFreeError,
  HeapCorruptionError,
  HeapFormatError,
  InvalidPointerError,
  OutOfMemoryError,
  UseAfterFreeError,
  WorkerAliveError,
} from "../errors.ts";
import {
  ARENA_START,
  CHUNK_OVERHEAD,
  EPILOGUE_BYTES,
  FIXED_OVERHEAD_BYTES,
  FORMAT_VERSION,
  H_BASE_OFFSET,
  H_DEBUG,
  H_DEFERRED,
  H_FREE_BYTES,
  H_FREE_CHUNKS,
  H_HEADER_BYTES,
  H_HEAP_BYTES,
  H_HWM,
  H_KEY,
  H_LAST_WORKER,
  H_LIVE,
  H_LOCK,
  H_LOCK_BEAT,
  H_LOCK_TIMEOUT_MS,
  H_MAGIC,
  H_MAX_BYTES,
  H_OP,
  H_ROOTS,
  H_TOTAL_HI,
  H_TOTAL_LO,
  H_TRIP_HWM,
  H_USED_BYTES,
  H_VERSION,
  HEADER_BYTES,
  LOCK_CUT_OWNER,
  MAGIC,
  MAX_ALIGN,
  MAX_HEAP_BYTES,
  MIN_CHUNK,
  MIN_HEAP_BYTES,
  newHeapKey,
  ROOT_SLOTS,
  SIZE_MASK,
  USED_BIT,
} from "./layout.ts";
import { checkLockTimeoutMs } from "./_options.ts";
import { type HeapRegions, walkRegions } from "./regions.ts";
import {
  rootDelete,
  rootGet,
  rootList,
  rootNameBytes,
  rootPointer,
  rootSet,
  rootsProblem,
} from "./roots.ts";
import { restoreBuffer, restoreMemory, type RestoreOptions, snapshotEnd } from "./snapshot.ts";
import {
  attachMemory,
  checkBaseOffset,
  createInMemory,
  currentMemoryBuffer,
  growMemory,
  isWasmMemory,
  memoryGrew,
} from "./_backing.ts";

export type { RestoreOptions } from "./snapshot.ts";
import { forceReleaseWord, lockWord, unlockWord, wordOwner } from "../sync/lock_word.ts";
import { LockStateError } from "../sync/errors.ts";
import { canBlock } from "../sync/_blocking.ts";

/**
 * Options for {@linkcode Heap.create}.
 *
 * @example A heap that starts small and may grow to 64 MiB
 * ```ts
 * import { Heap, type HeapOptions } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const options: HeapOptions = { initialBytes: 64 * 1024, maxBytes: 64 << 20, lockTimeoutMs: 2000 };
 * const heap = Heap.create(options);
 * assert.equal(heap.byteLength, 64 * 1024);
 * heap.alloc(1 << 20); // grows
 * assert.ok(heap.byteLength > 1 << 20);
 * ```
 */
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
   * `LockTimeoutError` naming the worker that holds it: an integer in
   * `[1, 2^32)` (every wait is bounded, so `0` is rejected).
   *
   * @default {10000}
   */
  lockTimeoutMs?: number;
  /**
   * Debug mode, kept in the heap's header so every handle that attaches sees
   * it: a redzone of canary bytes after every block (checked by `free`,
   * `realloc`, `usableSize` and `check()`; `usableSize` reports the requested
   * size), and freed blocks poisoned and held in a bounded quarantine (per
   * handle) before reuse, so a write after free is reported as
   * `UseAfterFreeError` when the block leaves the quarantine or at `check()`.
   * Costs memory (8 bytes more per block, the quarantine) and time.
   *
   * @default {false}
   */
  debug?: boolean;
  /**
   * A shared `WebAssembly.Memory` to hold the heap instead of a new
   * `SharedArrayBuffer`. Pointers are then plain wasm addresses, so wasm code
   * reads and writes records in place; the heap grows by growing the memory.
   * With a memory, `initialBytes` defaults to the memory's bytes above
   * `baseOffset` and must be a multiple of 64 KiB; `maxBytes` defaults to
   * what the memory's maximum allows (or 4 GiB - 64 KiB where the engine
   * cannot tell).
   *
   * @default {undefined}
   */
  memory?: WasmMemory;
  /**
   * Where the heap starts in `memory`, a multiple of 64 KiB (a wasm page):
   * the module's own data below it is never written. Pass the same value to
   * {@linkcode Heap.attach}.
   *
   * @default {0}
   */
  baseOffset?: number;
}

/**
 * A shared `WebAssembly.Memory`, typed by the parts the heap uses so that no
 * DOM or wasm type library is needed to use the package (Node's types lack one).
 *
 * @example A memory for a heap
 * ```ts
 * import { Heap, type WasmMemory } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const memory: WasmMemory = new WebAssembly.Memory({ initial: 2, maximum: 64, shared: true });
 * assert.equal(Heap.create({ memory }).byteLength, 131072);
 * ```
 */
export interface WasmMemory {
  /** The memory's bytes (a `SharedArrayBuffer` for a shared memory). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /**
   * Grows the memory by `deltaPages` pages of 64 KiB.
   *
   * @param deltaPages Pages to add.
   * @returns The previous size in pages.
   */
  grow(deltaPages: number): number;
}

/**
 * Options for {@linkcode Heap.attach} with a `WebAssembly.Memory`.
 *
 * @example Attaching a heap at an offset
 * ```ts
 * import { Heap, type AttachOptions } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const memory = new WebAssembly.Memory({ initial: 4, maximum: 64, shared: true });
 * const heap = Heap.create({ memory, baseOffset: 65536 });
 * const options: AttachOptions = { baseOffset: 65536 };
 * const p = heap.alloc(8);
 * assert.equal(Heap.attach(memory, options).usableSize(p), 8);
 * ```
 */
export interface AttachOptions {
  /**
   * Where the heap starts in the memory: the `baseOffset` it was created with.
   *
   * @default {0}
   */
  baseOffset?: number;
}

/**
 * Figures returned by {@linkcode Heap.stats}. All sizes are in bytes.
 *
 * @example The arena's bytes add up
 * ```ts
 * import { Heap, type HeapStats } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(5000);
 * const s: HeapStats = heap.stats();
 * assert.equal(s.usedBytes + s.freeBytes + s.overheadBytes, s.heapBytes);
 * assert.equal(s.liveAllocations, 1);
 * ```
 */
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
  /** The slab layer: its pages are used chunks of the arena (counted in `usedBytes`). */
  slab: SlabStats;
}

/**
 * What {@linkcode Heap.recover} did.
 *
 * @example Recovering a worker that held no lock
 * ```ts
 * import { Heap, type RecoverReport } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create({ lockTimeoutMs: 50 });
 * const gone = Heap.attach(heap.buffer);
 * gone.alloc(24); // it owns a slab page, then dies
 * const report: RecoverReport = heap.recover(gone.workerId);
 * assert.deepEqual(report, { lockReleased: false, areas: 1, pages: 1 });
 * ```
 */
export interface RecoverReport {
  /** True when the dead worker held the heap lock and it was released. */
  lockReleased: boolean;
  /** Slab areas of the dead worker that were given up. */
  areas: number;
  /** Slab pages handed over (to the arena when empty, else as orphans). */
  pages: number;
}

/**
 * Figures of the slab layer, in {@linkcode HeapStats.slab}.
 *
 * @example One page for one small block
 * ```ts
 * import { Heap, type SlabStats } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(24);
 * const slab: SlabStats = heap.stats().slab;
 * assert.equal(slab.pages, 1);
 * assert.equal(slab.usedSlots, 1);
 * assert.equal(slab.pageBytes, 16384);
 * ```
 */
export interface SlabStats {
  /** Slab pages taken from the arena. */
  pages: number;
  /** Bytes of one page (pages are aligned to this). */
  pageBytes: number;
  /** Worker areas (one per handle that allocated small blocks and has not detached). */
  areas: number;
  /**
   * Areas of recovered workers, kept (672 bytes each, counted in `usedBytes`)
   * so that a recovered worker that was still running never reads memory
   * handed to others; freed when that handle allocates or detaches again.
   */
  recoveredAreas: number;
  /** Slots in use over all classes. */
  usedSlots: number;
  /** One entry per size class, smallest first. */
  classes: SlabClassStats[];
}

/**
 * Figures of one slab size class.
 *
 * @example The 24-byte class after one allocation
 * ```ts
 * import { Heap, type SlabClassStats } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(24);
 * const c: SlabClassStats | undefined = heap.stats().slab.classes.find((k) => k.slotBytes === 24);
 * assert.equal(c?.usedSlots, 1);
 * assert.equal(c?.freeSlots, 678);
 * ```
 */
export interface SlabClassStats {
  /** Bytes of one slot of this class. */
  slotBytes: number;
  /** Pages of this class. */
  pages: number;
  /** Slots in use (a slot another worker freed counts as free at once, before its owner collects it). */
  usedSlots: number;
  /** Slots free or not yet handed out, on this class's pages. */
  freeSlots: number;
  /** Bytes of this class's pages that no slot can use (the page tail after the last slot). */
  wasteBytes: number;
}

/**
 * One slab size class of a heap, from {@linkcode Heap.slab}: allocates slots
 * of one size from the calling worker's pages without a size lookup.
 *
 * @example Allocating records of one size
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const nodes = heap.slab(40);
 * const a = nodes.alloc();
 * const b = nodes.alloc();
 * assert.notEqual(a, b);
 * nodes.free(a);
 * nodes.free(b);
 * ```
 */
export class SlabClass {
  /** The heap this class allocates from. */
  readonly heap: Heap;
  /** The class index (0 for 8-byte slots). */
  readonly classIndex: number;
  /** Bytes of each slot. */
  readonly slotBytes: number;

  /**
   * Wraps class `classIndex` of `heap`; use {@linkcode Heap.slab} instead.
   *
   * @param heap The heap.
   * @param classIndex The class index.
   */
  constructor(heap: Heap, classIndex: number) {
    if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= CLASS_COUNT) {
      throw new RangeError(
        `Cannot open slab class: index must be in [0, ${CLASS_COUNT}): ${classIndex}`,
      );
    }
    this.heap = heap;
    this.classIndex = classIndex;
    this.slotBytes = CLASS_BYTES[classIndex];
  }

  /**
   * Allocates one slot (contents not cleared).
   *
   * @returns The slot's byte offset.
   * @throws {OutOfMemoryError} When no page and no arena block can be had.
   */
  alloc(): number {
    const ptr = this.heap.allocClass(this.classIndex);
    return ptr !== 0 ? ptr : this.heap.alloc(this.slotBytes);
  }

  /**
   * Frees a block, like {@linkcode Heap.free}.
   *
   * @param ptr The block.
   */
  free(ptr: number): void {
    this.heap.free(ptr);
  }
}

const DEFAULT_INITIAL_BYTES = 1 << 20;
const DEFAULT_MAX_BYTES = 1 << 30;
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** The heap grows in steps that are multiples of this. */
const GROW_STEP_BYTES = 64 * 1024;
const MAX_WORKER_ID = (1 << 29) - 1;
/** Masks a pointer down to the start of its (possible) slab page. */
const PAGE_MASK = -PAGE_BYTES;
const SLAB_MAX_ALIGN_LOG = 31 - Math.clz32(SLAB_MAX_ALIGN);
/** Spins on a contended heap lock before `lockWord` spins its own short while and sleeps. */
const HEAP_LOCK_SPINS = 4000;
/** Compare-exchange attempts on the heap lock word in a take-over or a cut-state release. */
const FORCE_TAKE_LIMIT = 8;
/** A remote free gives up after this many lost compare-exchange races (never seen in practice). */
const REMOTE_PUSH_LIMIT = 1 << 20;

// Hot-path constants as module-local copies: V8 loads an imported binding (and
// checks it is initialised) at every use, which measurably slows alloc/free.
const HP_OWNER = P_OWNER;
const HP_CLASS = P_CLASS;
const HP_SLOT = P_SLOT;
const HP_CAPACITY = P_CAPACITY;
const HP_USED = P_USED;
const HP_FREE = P_FREE;
const HP_BUMP = P_BUMP;
const HA_CLASSES = A_CLASSES;
const HA_CACHE = A_CACHE;
const H_CACHE_SLOTS = CACHE_SLOTS;
const H_CACHE_STRIDE = CACHE_STRIDE;
const HA_ALLOCS_LO = A_ALLOCS_LO;
const HA_ALLOCS_HI = A_ALLOCS_HI;
const H_PAGE_USABLE = PAGE_USABLE_BYTES;
const H_PAGE_HEADER = PAGE_HEADER_BYTES;
const H_SLAB_MAX = SLAB_MAX_BYTES;
const H_CLASS_COUNT = CLASS_COUNT;
const H_CLASS8 = CLASS_OF_ALIGN8;
const H_SLOT_INV = SLOT_INV;
const H_CLASS_BYTES = CLASS_BYTES;
/** Debug mode: the byte freed blocks are filled with. */
const POISON = 0xdd;
/** Four poison bytes as a word. */
const POISON_WORD = 0xdddddddd;
/** Debug mode: most blocks one handle holds in its quarantine. */
const QUARANTINE_BLOCKS = 256;
/** Debug mode: most bytes one handle holds in its quarantine. */
const QUARANTINE_BYTES = 1 << 20;
/** Debug mode: mixed into the requested size stored at the end of each block. */
const DEBUG_SIZE_KEY = 0x5a17e0d3;
const H_PAGE_KEY = PAGE_MAGIC_KEY;
const H_PAGE_KEY2 = PAGE_MAGIC2_KEY;
const HP_MAGIC2 = P_MAGIC2;

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
  /** The buffer viewed; for a heap in a `WebAssembly.Memory`, re-read after the memory grows. */
  private _buffer: SharedArrayBuffer;
  /** The WebAssembly memory holding the heap, or null for a heap in its own buffer. */
  private readonly memory: WasmMemory | null;
  /** Byte offset of the heap in the buffer (the memory's `baseOffset`; 0 in a buffer of its own). */
  private readonly base: number;
  /** Bytes of the buffer when the views were built. */
  private bufferBytes = 0;
  // The public views (from offset 0 of the buffer, so pointers index them);
  // the same arrays as the private ones below when the heap starts at 0.
  private _xu8!: Uint8Array;
  private _xi32!: Int32Array;
  private _xu32!: Uint32Array;
  private _xf64!: Float64Array;
  private _xdv!: DataView;
  // Set by refreshViews (called from the constructor); they start at the heap's header.
  private _u8!: Uint8Array;
  private _i32!: Int32Array;
  private _u32!: Uint32Array;
  private _f64!: Float64Array;
  private _dv!: DataView;
  /** Bytes the views cover; they are rebuilt when the buffer has grown past it. */
  private viewBytes = 0;
  /** This handle's worker id, unique among all handles of this heap; it owns the locks it takes. */
  readonly workerId: number;
  /** This handle's slab area (0 until its first small allocation). A cache of state kept in the buffer. */
  private area = 0;
  private areaWords = 0;
  /**
   * Slab allocations not yet added to the area's counter: a JS field is
   * cheaper on the hot path; it is flushed on every page refill, `stats()` and
   * `detach()`, so other workers' counts lag by at most one page of allocations.
   */
  private pendingAllocs = 0;
  /** The heap's metadata key (`H_KEY`), read once: links and tags are encoded with it. */
  private key = 0;
  /** `key ^ FREE_SLOT_KEY`: the free-slot tag of `ptr` is `((ptr ^ slotKey) & 0x3fffffff) | 1`. */
  private slotKey = 0;
  /** `key ^ CACHE_ENTRY_KEY`: the cache entry at word `e` is the slot XOR `((e << 2) ^ cacheKey) & 0x3fffffff`. */
  private cacheKey = 0;
  /** The slots a full free-slot cache hands back (`spillCache`), reused. */
  private readonly spilled = new Uint32Array(CACHE_SLOTS);
  /** Debug mode (header word `H_DEBUG`): redzones, poison and a quarantine. */
  private debug = false;
  /** Debug mode: blocks this handle freed and holds back from reuse, oldest first. */
  private quarantine: number[] = [];
  /** Debug mode: usable bytes of each quarantined block. */
  private quarantined = new Map<number, number>();
  private quarantineBytes = 0;

  private constructor(
    buffer: SharedArrayBuffer,
    memory: WasmMemory | null = null,
    base: number = 0,
  ) {
    this._buffer = buffer;
    this.memory = memory;
    this.base = base;
    this.refreshViews();
    this.key = this._u32[H_KEY];
    this.slotKey = this.key ^ FREE_SLOT_KEY;
    this.cacheKey = this.key ^ CACHE_ENTRY_KEY;
    this.debug = this._u32[H_DEBUG] === 1;
    // Take the next id with a bounded compare-exchange loop, checking the
    // header's word before writing it (a corrupt word never yields id 0, a
    // negative or an out-of-range id).
    const i32 = this._i32;
    let id = 0;
    for (let attempt = 0; attempt < 1 << 20 && id === 0; attempt++) {
      const last = Atomics.load(i32, H_LAST_WORKER);
      if (last < 0 || last > MAX_WORKER_ID) {
        throw new HeapFormatError("lastWorkerId", last >>> 0, `is outside [0, ${MAX_WORKER_ID}]`);
      }
      if (last === MAX_WORKER_ID) {
        throw new RangeError(`Cannot attach heap: worker ids are exhausted: ${last}`);
      }
      if (Atomics.compareExchange(i32, H_LAST_WORKER, last, last + 1) === last) id = last + 1;
    }
    if (id === 0) throw new RangeError("Cannot attach heap: the worker id word stayed contended");
    this.workerId = id;
    registerLocalWorker(buffer, id); // lockWord refuses to wait for a handle of this thread
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
    return this._u32[H_LOCK_TIMEOUT_MS];
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
    if (this.viewsStale()) this.refreshViews();
    return this._xu8;
  }

  /** Int32 view over the whole heap (usable with `Atomics`); see {@linkcode Heap.u8} on freshness. */
  get i32(): Int32Array {
    if (this.viewsStale()) this.refreshViews();
    return this._xi32;
  }

  /** Uint32 view over the whole heap; see {@linkcode Heap.u8} on freshness. */
  get u32(): Uint32Array {
    if (this.viewsStale()) this.refreshViews();
    return this._xu32;
  }

  /** Float64 view over the whole heap; see {@linkcode Heap.u8} on freshness. */
  get f64(): Float64Array {
    if (this.viewsStale()) this.refreshViews();
    return this._xf64;
  }

  /** DataView over the whole heap (pass `true` for little-endian); see {@linkcode Heap.u8} on freshness. */
  get dv(): DataView {
    if (this.viewsStale()) this.refreshViews();
    return this._xdv;
  }

  /**
   * The shared buffer that holds the whole heap; send it to a worker and
   * {@linkcode Heap.attach} it there. For a heap in a `WebAssembly.Memory`,
   * the memory's buffer (send the memory itself to workers).
   */
  get buffer(): SharedArrayBuffer {
    if (this.viewsStale()) this.refreshViews();
    return this._buffer;
  }

  /** True when the buffer grew (in any worker) since the views were built. */
  private viewsStale(): boolean {
    return this.memory === null
      ? this._buffer.byteLength !== this.viewBytes
      : memoryGrew(this.memory, this._buffer, this.bufferBytes);
  }

  /** Rebuilds the views over the buffer's current length (after any worker grew it). */
  private refreshViews(): void {
    if (this.memory !== null) this._buffer = currentMemoryBuffer(this.memory, this._buffer);
    const buffer = this._buffer;
    const total = buffer.byteLength;
    const base = this.base;
    const n = total - base;
    this._u8 = new Uint8Array(buffer, base, n);
    this._i32 = new Int32Array(buffer, base, n >>> 2);
    this._u32 = new Uint32Array(buffer, base, n >>> 2);
    this._f64 = new Float64Array(buffer, base, n >>> 3);
    this._dv = new DataView(buffer, base, n);
    if (base === 0) {
      this._xu8 = this._u8;
      this._xi32 = this._i32;
      this._xu32 = this._u32;
      this._xf64 = this._f64;
      this._xdv = this._dv;
    } else {
      this._xu8 = new Uint8Array(buffer, 0, total);
      this._xi32 = new Int32Array(buffer, 0, total >>> 2);
      this._xu32 = new Uint32Array(buffer, 0, total >>> 2);
      this._xf64 = new Float64Array(buffer, 0, total >>> 3);
      this._xdv = new DataView(buffer, 0, total);
    }
    this.viewBytes = n;
    this.bufferBytes = total;
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
    if (options.memory !== undefined) {
      const heap = Heap.createInMemory(options.memory, options);
      if (options.debug === true) {
        heap._u32[H_DEBUG] = 1;
        heap.debug = true;
      }
      return heap;
    }
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
    checkLockTimeoutMs("create heap", lockTimeoutMs);
    const buffer = new SharedArrayBuffer(initialBytes, { maxByteLength: maxBytes });
    const u32 = new Uint32Array(buffer);
    u32[H_MAGIC] = MAGIC;
    u32[H_VERSION] = FORMAT_VERSION;
    u32[H_HEADER_BYTES] = HEADER_BYTES;
    u32[H_MAX_BYTES] = maxBytes;
    u32[H_LOCK_TIMEOUT_MS] = lockTimeoutMs;
    u32[H_KEY] = newHeapKey();
    u32[H_DEBUG] = options.debug === true ? 1 : 0;
    arenaInit(u32, initialBytes);
    return new Heap(buffer);
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
    if (isWasmMemory(buffer)) {
      const base = checkBaseOffset("attach", options.baseOffset ?? 0);
      return new Heap(attachMemory(buffer, base), buffer, base);
    }
    validateHeader(buffer);
    return new Heap(buffer);
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
    const op = heap._u32[H_OP];
    if (op !== 0) Atomics.compareExchange(heap._i32, H_LOCK, 0, cutWord(op));
    heap.lock();
    try {
      const u32 = heap._u32;
      for (let n = u32[H_SLAB_AREA_COUNT]; u32[H_SLAB_AREAS] !== 0 && n > 0; n--) {
        heap.abandonAreaLocked(u32[H_SLAB_AREAS], false); // the old process is gone: no tombstones
      }
      heap.sweepOrphansLocked();
      heap.checkLocked();
    } finally {
      heap.unlock();
    }
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
    this.lock();
    try {
      return this._u8.slice(0, snapshotEnd(this._u32));
    } finally {
      this.unlock();
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
    this.lock();
    try {
      const value = rootPointer(ptr, this._u32[H_HEAP_BYTES] + this.base);
      if (value === 0) {
        rootDelete(this._u32, this._u8, bytes);
      } else if (!rootSet(this._u32, this._u8, bytes, value)) {
        throw new RangeError(`Cannot set root: the table of ${ROOT_SLOTS} roots is full: ${name}`);
      }
    } finally {
      this.unlock();
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
    this.lock();
    try {
      return rootGet(this._u32, this._u8, bytes);
    } finally {
      this.unlock();
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
    this.lock();
    try {
      return rootDelete(this._u32, this._u8, bytes);
    } finally {
      this.unlock();
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
    this.lock();
    try {
      return rootList(this._u32, this._u8);
    } finally {
      this.unlock();
    }
  }

  /** The current size of the heap in bytes (grows when the heap grows, in every worker). */
  get byteLength(): number {
    return this.memory === null ? this._buffer.byteLength : Atomics.load(this._u32, H_HEAP_BYTES);
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
    if (ptr === 0) throw new OutOfMemoryError(sizeBytes, alignBytes, this._u32[H_HEAP_BYTES]);
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
    if (this.debug) return this.debugTryAlloc(sizeBytes, alignBytes);
    // Fast path: a small request with the default alignment goes straight to
    // this worker's slab pages (no lock, no atomics).
    if (
      alignBytes === 8 && typeof sizeBytes === "number" && (sizeBytes >>> 0) === sizeBytes &&
      sizeBytes <= H_SLAB_MAX
    ) {
      const ptr = this.allocSlot(H_CLASS8[(sizeBytes + 7) >>> 3]);
      if (ptr !== 0) return ptr + this.base;
    }
    const ptr = this.tryAllocChecked(sizeBytes, alignBytes);
    return ptr === 0 ? 0 : ptr + this.base;
  }

  /** `tryAlloc` for everything but the fast path: validates, then slab or arena. */
  private tryAllocChecked(sizeBytes: number, alignBytes: number): number {
    checkSize("allocate", sizeBytes);
    const alignLog = checkAlign(alignBytes);
    if (sizeBytes <= SLAB_MAX_BYTES && alignLog <= SLAB_MAX_ALIGN_LOG) {
      const cls = classOf(sizeBytes, alignLog);
      if (cls < CLASS_COUNT) {
        const ptr = this.allocSlot(cls);
        if (ptr !== 0) return ptr;
      }
    }
    const needBytes = chunkBytesFor(sizeBytes);
    if (needBytes > MAX_HEAP_BYTES) return 0;
    this.lock();
    let ptr = 0;
    try {
      ptr = this.allocLocked(needBytes, alignLog);
    } catch (e) {
      // Cut short (no call stands between the catch and the mark): the
      // release leaves the lock word saying so, and the next operation reports it.
      this._u32[H_OP] = this.workerId;
      this.unlock();
      throw e;
    }
    if (ptr !== 0 && this.areaWords !== 0) this._u32[this.areaWords + A_BEAT]++; // a heartbeat
    this.unlockClean();
    return ptr;
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
    if (typeof classIndex !== "number") {
      throw new TypeError(
        `Cannot allocate from slab class: index must be a number: ${typeof classIndex}`,
      );
    }
    if ((classIndex >>> 0) !== classIndex || classIndex >= H_CLASS_COUNT) {
      throw new RangeError(
        `Cannot allocate from slab class: index must be an integer in [0, ${CLASS_COUNT}): ${classIndex}`,
      );
    }
    const ptr = this.allocSlot(classIndex);
    return ptr === 0 ? 0 : ptr + this.base;
  }

  /**
   * A pointer a user passed in, as an offset from the heap's start (the same
   * number unless the heap sits at a `baseOffset` in a WebAssembly.Memory).
   * The heap's own first byte (never a block) maps to -1, not to null.
   */
  private toRel(ptr: number): number {
    return typeof ptr === "number" && ptr !== 0 ? ptr - this.base || -1 : ptr;
  }

  /** `allocClass` without the index check: the hot path for `alloc` and `SlabClass`. */
  private allocSlot(classIndex: number): number {
    // The slot this worker freed last in this class (the free-slot cache, see
    // slab.ts), else the current page.
    const aw = this.areaWords;
    if (aw !== 0) {
      const u32 = this._u32;
      const c = aw + HA_CACHE + classIndex * H_CACHE_STRIDE;
      const n = u32[c];
      if (n !== 0 && n <= H_CACHE_SLOTS) {
        const e = c + n;
        const slot = (u32[e] ^ (((e << 2) ^ this.cacheKey) & 0x3fffffff)) >>> 0;
        // Only a slot carrying its free tag (keyed by its address) is taken.
        if (u32[(slot + 4) >>> 2] !== (((slot ^ this.slotKey) & 0x3fffffff) | 1)) {
          return this.badCacheEntry(e, slot);
        }
        u32[e] = 0;
        u32[c] = n - 1;
        u32[(slot + 4) >>> 2] = 0;
        this.pendingAllocs++;
        return slot;
      }
    }
    return this.allocFromPage(classIndex);
  }

  /** `allocSlot` when the free-slot cache is empty: the current page's free list. */
  private allocFromPage(classIndex: number): number {
    // Kept under V8's inlining limit (460 bytes of bytecode): the bump path is a call.
    const aw = this.areaWords;
    if (aw !== 0) {
      const u32 = this._u32;
      const page = u32[aw + HA_CLASSES + (classIndex << 2)];
      const h = page >>> 2;
      const slot = u32[h + HP_FREE];
      // The page's magic (keyed by its address) first: a write that ran into
      // the page header overwrote it before any other field.
      if (slot !== 0 && u32[h] === ((page ^ H_PAGE_KEY) & 0x3fffffff)) {
        // The head came from a decoded link: check it before use, a slot
        // past the header and below bump whose second word is its free tag.
        // That also puts it on the slot grid without a division: the tag is
        // keyed by the heap key and the slot's own address, so only the
        // allocator writes it (a stray write matches with chance 2^-30), and
        // the allocator writes it only at slots of the page's grid. Tags of
        // an earlier use of the same page (another class, another grid) are
        // gone: initPage zeroes the slot space of every new page. The
        // page's class is compared too: a class head overwritten with
        // another real page's address must not hand out that page's slots
        // (of another size) for this class.
        if (
          slot < page + H_PAGE_HEADER || slot >= u32[h + HP_BUMP] ||
          u32[h + HP_CLASS] !== classIndex ||
          u32[(slot + 4) >>> 2] !== (((slot ^ this.slotKey) & 0x3fffffff) | 1)
        ) {
          return this.badSlotLink(page, slot);
        }
        u32[h + HP_FREE] = (u32[slot >>> 2] ^ ((slot ^ this.key) & 0x3fffffff)) >>> 0;
        u32[(slot + 4) >>> 2] = 0;
        u32[h + HP_USED]++;
        this.pendingAllocs++;
        return slot;
      }
    }
    return this.allocBump(classIndex);
  }

  /** `allocSlot` when the current page's free list is empty: the next never-used slot, else a refill. */
  private allocBump(classIndex: number): number {
    const aw = this.areaWords;
    if (aw !== 0) {
      const u32 = this._u32;
      const page = u32[aw + HA_CLASSES + (classIndex << 2)];
      const h = page >>> 2;
      if (page !== 0 && u32[h] === ((page ^ H_PAGE_KEY) & 0x3fffffff) && u32[h + HP_FREE] === 0) {
        const slot = u32[h + HP_BUMP];
        const size = u32[h + HP_SLOT];
        const off = slot - page - H_PAGE_HEADER;
        if (
          slot + size <= page + H_PAGE_USABLE && u32[h + HP_USED] < u32[h + HP_CAPACITY] &&
          off >= 0 && size === H_CLASS_BYTES[classIndex] &&
          Math.round(off * H_SLOT_INV[classIndex]) * size === off
        ) {
          u32[h + HP_BUMP] = slot + size;
          u32[(slot + 4) >>> 2] = 0;
          u32[h + HP_USED]++;
          this.pendingAllocs++;
          return slot;
        }
      }
    }
    return this.allocClassSlow(classIndex);
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
    const ptr = abs - this.base;
    const base = this.slabPageOf(ptr);
    const usable = this.debug
      ? sizeBytes
      : base !== 0
      ? this._u32[(base >>> 2) + P_SLOT]
      : this.usableSizeUnchecked(ptr);
    this._u8.fill(0, ptr, ptr + usable);
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
    if (this.debug) this.debugFree(ptr);
    else this.freeRaw(ptr);
  }

  /** `free` without debug mode's quarantine. */
  private freeRaw(ptr: number): void {
    if (this.base !== 0) ptr = this.toRel(ptr);
    if (typeof ptr === "number" && (ptr >>> 0) === ptr) {
      if (ptr === 0) return;
      if (ptr >= this.viewBytes) this.refreshViews(); // a pointer from a worker that grew the heap
      const u32 = this._u32;
      const base = (ptr & PAGE_MASK) >>> 0;
      const h = base >>> 2;
      // A slab page: two magic words keyed by its address, in one cache line
      // (a copy of a page elsewhere does not match; a released page's are cleared).
      if (
        u32[h] === ((base ^ H_PAGE_KEY) & 0x3fffffff) &&
        u32[h + HP_MAGIC2] === ((base ^ H_PAGE_KEY2) & 0x3fffffff)
      ) {
        const tag = ((ptr ^ this.slotKey) & 0x3fffffff) | 1;
        const cls = u32[h + HP_CLASS];
        const off = ptr - base - H_PAGE_HEADER;
        if (
          u32[h + HP_OWNER] === this.workerId && cls < H_CLASS_COUNT && off >= 0 &&
          ptr < u32[h + HP_BUMP] && u32[(ptr + 4) >>> 2] !== tag &&
          Math.round(off * H_SLOT_INV[cls]) * u32[h + HP_SLOT] === off
        ) {
          // A live slot of one of this worker's pages: onto the free-slot
          // cache (see slab.ts), no lock, no atomics, no write to the page.
          const c = this.areaWords + HA_CACHE + cls * H_CACHE_STRIDE;
          const n = u32[c];
          if (n < H_CACHE_SLOTS && this.areaWords !== 0) {
            const e = c + n + 1;
            u32[e] = ptr ^ (((e << 2) ^ this.cacheKey) & 0x3fffffff);
            u32[(ptr + 4) >>> 2] = tag;
            u32[c] = n + 1;
            return;
          }
        }
        this.freeSlot("free", base, ptr); // a full cache, another worker's page, or an error to name
        return;
      }
    }
    this.lock();
    let c = 0;
    try {
      c = this.chunkOf("free", ptr);
      arenaFree(this._u32, c);
    } catch (e) {
      // Bad input (c still 0) changed nothing; else the free was cut short: marked as in tryAlloc.
      if (c !== 0) this._u32[H_OP] = this.workerId;
      this.unlock();
      throw e;
    }
    if (this.areaWords !== 0) this._u32[this.areaWords + A_BEAT]++; // a heartbeat
    this.unlockClean();
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
    if (this.debug) return this.debugRealloc(ptr, sizeBytes);
    if (ptr === 0) return this.alloc(sizeBytes);
    if (this.base !== 0) ptr = this.toRel(ptr);
    checkSize("reallocate", sizeBytes);
    const base = this.slabPageOf(ptr);
    if (base !== 0) return this.reallocSlot(base, ptr, sizeBytes);
    const needBytes = chunkBytesFor(sizeBytes);
    let result = 0;
    let alignBytes = 8;
    let c = 0;
    this.lock();
    try {
      this.drainDeferredIfAnyLocked();
      c = this.chunkOf("reallocate", ptr);
      alignBytes = 1 << tagAlignLog(this._u32[(c + 4) >>> 2]);
      this.begin();
      if (needBytes <= MAX_HEAP_BYTES) result = this.reallocLocked(c, needBytes);
      if (result !== 0) this.end();
      else this._u32[H_OP] = 0;
    } finally {
      this.unlock();
    }
    if (result === 0) throw new OutOfMemoryError(sizeBytes, alignBytes, this._u32[H_HEAP_BYTES]);
    if (result > 0) return result + this.base;
    // Moved: copy outside the lock (both blocks are ours until the old one is
    // freed), so other workers are not held up by a long copy.
    const moved = -result;
    const oldUsable = ((this._u32[c >>> 2] & SIZE_MASK) >>> 0) - CHUNK_OVERHEAD;
    if (moved >= this.viewBytes) this.refreshViews();
    this._u8.copyWithin(moved, c + 8, c + 8 + Math.min(oldUsable, sizeBytes));
    try {
      this.lock();
    } catch {
      // The heap lock is busy past the timeout (or the heap was found damaged):
      // the new block is ready, so queue the old one for a later operation to free
      // instead of leaking either block.
      this.deferFree(c);
      return moved;
    }
    try {
      this.begin();
      arenaFree(this._u32, c);
      this.end();
    } finally {
      this.unlock();
    }
    return moved + this.base;
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
    if (this.base !== 0) ptr = this.toRel(ptr);
    if (this.debug) return this.checkRedzone(ptr, this.liveUsable("get the size of", ptr));
    const base = this.slabPageOf(ptr);
    if (base !== 0) {
      this.checkSlot("get the size of", base, ptr);
      return this._u32[(base >>> 2) + P_SLOT];
    }
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
    this.flushAllocCount();
    this.lock();
    try {
      this.drainDeferredIfAnyLocked();
      const u32 = this._u32;
      const largest = arenaLargestFree(u32);
      const classes = this.slabStatsLocked();
      let usedSlots = 0;
      let slabAllocs = u32[H_SLAB_RETIRED_HI] * 2 ** 32 + u32[H_SLAB_RETIRED_LO];
      for (const c of classes) usedSlots += c.usedSlots;
      let area = u32[H_SLAB_AREAS];
      for (let n = this.maxAreas(); area !== 0 && n > 0; n--) {
        this.checkArea(area);
        slabAllocs += u32[(area >>> 2) + A_ALLOCS_HI] * 2 ** 32 + u32[(area >>> 2) + A_ALLOCS_LO];
        area = u32[(area >>> 2) + A_NEXT];
      }
      const internal = u32[H_SLAB_PAGES] + u32[H_SLAB_AREA_COUNT] + u32[H_SLAB_TOMBSTONES];
      return {
        heapBytes: u32[H_HEAP_BYTES],
        maxBytes: u32[H_MAX_BYTES],
        usedBytes: u32[H_USED_BYTES],
        freeBytes: u32[H_FREE_BYTES],
        overheadBytes: FIXED_OVERHEAD_BYTES,
        largestFreeBytes: largest === 0 ? 0 : largest - CHUNK_OVERHEAD,
        freeChunks: u32[H_FREE_CHUNKS],
        liveAllocations: u32[H_LIVE] - internal + usedSlots,
        totalAllocations: u32[H_TOTAL_HI] * 2 ** 32 + u32[H_TOTAL_LO] - u32[H_SLAB_INTERNAL] +
          slabAllocs,
        highWaterBytes: u32[H_HWM],
        tripHighWaterBytes: u32[H_TRIP_HWM],
        slab: {
          pages: u32[H_SLAB_PAGES],
          pageBytes: PAGE_BYTES,
          areas: u32[H_SLAB_AREA_COUNT],
          recoveredAreas: u32[H_SLAB_TOMBSTONES],
          usedSlots,
          classes,
        },
      };
    } finally {
      this.unlock();
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
    this.lock();
    try {
      this.drainDeferredIfAnyLocked(); // a block waiting for its free is not a region
      return walkRegions(this._u32);
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
      this._u32[H_TRIP_HWM] = this._u32[H_USED_BYTES];
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
    this.lock();
    try {
      this.drainDeferredIfAnyLocked();
      this.checkLocked();
      if (this.debug) this.debugCheckLocked();
    } finally {
      this.unlock();
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
    while (this.quarantine.length > 0) this.evictOldest();
    this.flushAllocCount();
    if (this.area !== 0 && this._u32[this.areaWords + A_MAGIC] !== areaMagic(this.area)) {
      this.dropOwnArea();
    }
    this.lock();
    try {
      this.begin();
      this.drainDeferredLocked();
      // Forget the area before it is freed: a handle must never reach a freed
      // area, even when this operation is cut short.
      const area = this.area;
      this.area = 0;
      this.areaWords = 0;
      if (area !== 0) this.abandonAreaLocked(area, false);
      this.sweepOrphansLocked();
      this.end();
    } finally {
      this.unlock();
    }
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
   * Its area is kept as a 672-byte tombstone, so a worker that was idle (not
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
      workerId > this._u32[H_LAST_WORKER]
    ) {
      throw new RangeError(`Cannot recover worker: not a worker id of this heap: ${workerId}`);
    }
    if (workerId === this.workerId) {
      this.repairOwn();
      return { lockReleased: false, areas: 0, pages: 0 };
    }
    const holds = wordOwner(this._i32, H_LOCK) === workerId;
    let areas: number[];
    if (holds) {
      areas = this.areasOf(workerId); // its lock keeps the area list still
    } else {
      this.lockRaw();
      try {
        areas = this.areasOf(workerId);
      } finally {
        this.unlock();
      }
    }
    if (!holds && areas.length === 0 && this._u32[H_OP] !== workerId) {
      return { lockReleased: false, areas: 0, pages: 0 }; // nothing of it to recover
    }
    this.watch(workerId, areas);
    // The worker showed no sign of life for lockTimeoutMs: work on its state,
    // under its lock if it died holding it (nobody else may touch the arena).
    if (!holds) this.lockRaw();
    else if (this._u32[H_HEAP_BYTES] > this.viewBytes) this.refreshViews();
    let done = false;
    try {
      const u32 = this._u32;
      const op = u32[H_OP];
      if (op !== 0 && op !== workerId) {
        throw new HeapCorruptionError(
          `an operation of worker ${op} was cut short; heap.recover(${op}) repairs it`,
          H_OP * 4,
        );
      }
      // If the repair fails, the mark names the worker it is about.
      u32[H_OP] = workerId;
      if (op === workerId || holds) arenaRebuild(u32); // throws, changing nothing, if it cannot
      this.drainDeferredLocked();
      // Its pages become orphans (whatever state its lists were left in), its
      // areas tombstones.
      const pages = this.rebuildSlabLocked(workerId, 0, true);
      this.sweepOrphansLocked();
      this.checkLocked(false);
      this._u32[H_OP] = 0;
      done = true;
      return { lockReleased: holds, areas: areas.length, pages };
    } finally {
      // A heap that could not be repaired stays locked by the dead worker (or
      // marked), so nobody works on it.
      if (!holds) this.unlock();
      else if (done) forceReleaseWord(this._i32, H_LOCK, workerId);
    }
  }

  /** `recover(this.workerId)`: repairs what an operation of this handle left when it was cut short. */
  private repairOwn(): void {
    this.lockRaw();
    try {
      const u32 = this._u32;
      const op = u32[H_OP];
      if (op !== 0 && op !== this.workerId) {
        throw new HeapCorruptionError(
          `an operation of worker ${op} was cut short; heap.recover(${op}) repairs it`,
          H_OP * 4,
        );
      }
      u32[H_OP] = this.workerId;
      if (op !== 0) arenaRebuild(u32);
      this.drainDeferredLocked();
      const keep = this.areaWords !== 0 &&
          this._u32[this.areaWords + A_MAGIC] === areaMagic(this.area)
        ? this.area
        : 0;
      this.rebuildSlabLocked(this.workerId, keep, false);
      if (keep !== 0) this._u32[this.areaWords + A_BUSY] = 0;
      this.checkLocked(false);
      this._u32[H_OP] = 0;
    } finally {
      this.unlock();
    }
  }

  /** The slab areas of worker `workerId` (a bounded walk of the area list). */
  private areasOf(workerId: number): number[] {
    const u32 = this._u32;
    const out: number[] = [];
    let area = u32[H_SLAB_AREAS];
    for (let n = this.maxAreas(); area !== 0 && n > 0; n--) {
      this.checkArea(area);
      if (u32[(area >>> 2) + A_WORKER] === workerId) out.push(area);
      area = u32[(area >>> 2) + A_NEXT];
    }
    return out;
  }

  /**
   * Watches worker `workerId` for the heap's `lockTimeoutMs`: if it renews a
   * heartbeat (its areas' beat words; the heap lock's beat while it holds the
   * lock), takes or releases the heap lock, it is alive and `WorkerAliveError`
   * is thrown. Writes nothing.
   */
  private watch(workerId: number, areas: number[]): void {
    const u32 = this._u32;
    const i32 = this._i32;
    const lockWordAt = (): number => Atomics.load(i32, H_LOCK) >>> 1 === workerId ? 1 : 0;
    const holding = lockWordAt();
    const lockBeat = u32[H_LOCK_BEAT];
    const beats = areas.map((a) => u32[(a >>> 2) + A_BEAT]);
    const timeoutMs = u32[H_LOCK_TIMEOUT_MS] || DEFAULT_LOCK_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    const sleeper = canBlock() ? new Int32Array(new SharedArrayBuffer(4)) : null;
    for (let n = 0; n < 1 << 30; n++) {
      if (lockWordAt() !== holding) {
        throw new WorkerAliveError(workerId, "it took or released the heap lock");
      }
      if (holding === 1 && u32[H_LOCK_BEAT] !== lockBeat) {
        throw new WorkerAliveError(workerId, "it renewed the heap lock's heartbeat");
      }
      for (let k = 0; k < areas.length; k++) {
        if (u32[(areas[k] >>> 2) + A_BEAT] !== beats[k]) {
          throw new WorkerAliveError(workerId, "it renewed its slab area's heartbeat");
        }
      }
      const left = deadline - performance.now();
      if (left <= 0) return;
      if (sleeper !== null) Atomics.wait(sleeper, 0, 0, Math.min(left, 5));
    }
  }

  /**
   * Rebuilds the slab's shared lists from a walk of the arena (heap lock
   * held, after the arena walk was verified): the area list and its count,
   * the orphan lists and the page count. Worker `workerId`'s pages go on the
   * active lists of `keepArea` when it is theirs (this handle's own repair),
   * else become orphans; its other areas are given up (as tombstones with
   * `asTombstones`). Pages of other workers are left to them. Returns the
   * number of the worker's pages made orphans.
   */
  private rebuildSlabLocked(workerId: number, keepArea: number, asTombstones: boolean): number {
    const u32 = this._u32;
    const limit = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
    const areas: number[] = [];
    const pages: number[] = [];
    let tombstones = 0;
    for (let c = ARENA_START, n = 1; c < limit; n++) {
      if ((n & 4095) === 0) u32[H_LOCK_BEAT]++;
      const h = u32[c >>> 2];
      const size = (h & SIZE_MASK) >>> 0;
      if (size < MIN_CHUNK) throw new HeapCorruptionError("chunk walk broken", c);
      const p = c + 8;
      if ((h & USED_BIT) !== 0 && u32[(c + 4) >>> 2] === internalTag(this.key, c, 3)) {
        if (u32[p >>> 2] === areaMagic(p)) areas.push(p);
        else if (u32[p >>> 2] === tombstoneMagic(p)) tombstones++;
      } else if (
        (h & USED_BIT) !== 0 && p % PAGE_BYTES === 0 && this.isPage(p) &&
        u32[p >>> 2] === pageMagic(p) && u32[(p >>> 2) + P_MAGIC2] === pageMagic2(p) &&
        u32[(p >>> 2) + P_CLASS] < CLASS_COUNT
      ) {
        pages.push(p);
      }
      c += size;
    }
    u32[H_SLAB_AREAS] = 0;
    for (let k = areas.length - 1; k >= 0; k--) {
      u32[(areas[k] >>> 2) + A_NEXT] = u32[H_SLAB_AREAS];
      u32[H_SLAB_AREAS] = areas[k];
    }
    u32[H_SLAB_AREA_COUNT] = areas.length;
    u32[H_SLAB_PAGES] = pages.length;
    u32[H_SLAB_TOMBSTONES] = tombstones;
    const mine = areas.filter((a) => u32[(a >>> 2) + A_WORKER] === workerId);
    const workerOf = new Map(areas.map((a) => [a, u32[(a >>> 2) + A_WORKER]]));
    for (const a of mine) flushCache(u32, this.key, a); // before the pages are relisted
    for (const a of mine) {
      for (let cls = 0; cls < CLASS_COUNT; cls++) {
        u32.fill(0, (a >>> 2) + A_CLASSES + (cls << 2), (a >>> 2) + A_CLASSES + (cls << 2) + 4);
      }
    }
    for (let cls = 0; cls < CLASS_COUNT; cls++) u32[H_SLAB_ORPHANS + cls] = 0;
    let orphaned = 0;
    for (const p of pages) {
      const h = p >>> 2;
      const cls = u32[h + P_CLASS];
      const area = u32[h + P_AREA];
      const owner = u32[h + P_OWNER];
      if (owner === workerId && area === keepArea && keepArea !== 0) {
        // The handle's current area keeps its pages, all on the active lists.
        const entry = (area >>> 2) + A_CLASSES + (cls << 2);
        u32[h + P_STATE] = STATE_ACTIVE;
        pushPage(u32, entry + E_ACTIVE, p);
        u32[entry + E_PAGES]++;
      } else if (owner === workerId || owner === 0 || workerOf.get(area) !== owner) {
        // The worker's other pages, orphans, and pages whose area is gone.
        if (owner === workerId) orphaned++;
        u32[h + P_OWNER] = 0;
        u32[h + P_AREA] = 0;
        u32[h + P_STATE] = STATE_ORPHAN;
        pushPage(u32, H_SLAB_ORPHANS + cls, p);
      }
    }
    // The worker's other areas hold no pages now: give them up (kept as
    // tombstones when another handle recovers the worker: it may still read them).
    for (const a of mine) {
      if (a !== keepArea) this.abandonAreaLocked(a, asTombstones);
    }
    return orphaned;
  }

  // ---- internals (the heap lock is held) ----

  /**
   * Takes the heap lock (bounded by the heap's lock timeout). Throws
   * `HeapCorruptionError`, not holding the lock, when an operation was cut
   * short: its release left the lock word in the cut state (see `H_OP`), so
   * the compare-exchange fails and `lockContended` reports it; the
   * uncontended path tests nothing else.
   */
  private lock(): void {
    const i32 = this._i32;
    if (Atomics.compareExchange(i32, H_LOCK, 0, this.workerId << 1) !== 0) this.lockContended();
    if (this._u32[H_HEAP_BYTES] > this.viewBytes) this.refreshViews();
  }

  /**
   * Takes the heap lock, without looking at the heap's marks: a lock word in
   * the cut state is taken over (for `recover()`, which repairs the heap).
   */
  private lockRaw(): void {
    const i32 = this._i32;
    const mine = this.workerId << 1;
    // The word leaves the cut state only by a take-over like this one, so
    // the loop ends within a few passes; the bound is for safety.
    for (let attempt = 0; attempt < FORCE_TAKE_LIMIT; attempt++) {
      const seen = Atomics.load(i32, H_LOCK);
      if (isCutWord(seen)) {
        if (Atomics.compareExchange(i32, H_LOCK, seen, mine) === seen) break;
      } else if (seen !== 0 && seen >>> 1 === this.workerId) {
        break; // ours: an unlock was cut short
      } else {
        try {
          this.lockContended(); // takes a free word, or waits for the holder
          break;
        } catch (e) {
          // The holder's release left the cut state: take it over above.
          if (!(e instanceof HeapCorruptionError) || !isCutWord(Atomics.load(i32, H_LOCK))) throw e;
        }
      }
    }
    if (wordOwner(i32, H_LOCK) !== this.workerId) {
      throw new LockStateError("acquire lock", wordOwner(i32, H_LOCK), this.workerId);
    }
    if (this._u32[H_HEAP_BYTES] > this.viewBytes) this.refreshViews();
  }

  /**
   * Marks the start of an operation that writes (heap lock held): the mark
   * stays if the operation is cut short.
   */
  private begin(): void {
    this._u32[H_OP] = this.workerId;
  }

  /**
   * Ends an operation that changed the heap (heap lock held): clears its mark
   * and renews this handle's heartbeats, which `recover()` watches. (A failed
   * operation only clears the mark: bad input changes no byte.)
   */
  private end(): void {
    const u32 = this._u32;
    u32[H_OP] = 0;
    if (this.areaWords !== 0) u32[this.areaWords + A_BEAT]++;
  }

  /** The error for a heap whose lock word or mark says worker `op`'s operation was cut short. */
  private cutError(op: number): HeapCorruptionError {
    return new HeapCorruptionError(
      `an operation of worker ${op} was cut short; heap.recover(${op}) repairs it`,
      H_OP * 4,
    );
  }

  /**
   * Frees the blocks whose free was deferred, if any (heap lock held). Runs
   * on the less frequent paths (`realloc`, an allocation about to grow the
   * heap, `stats`, `check`, `detach`, `recover`), not on every lock.
   */
  private drainDeferredIfAnyLocked(): void {
    const u32 = this._u32;
    if (u32[H_DEFERRED] === 0) return;
    const op = u32[H_OP];
    u32[H_OP] = this.workerId;
    this.drainDeferredLocked(); // throws with the mark set if the list is broken
    this._u32[H_OP] = op;
  }

  /**
   * Takes the heap lock if it is free (for a free that must not wait);
   * returns false when it is busy or an operation's mark is set.
   */
  private tryLock(): boolean {
    const seen = Atomics.compareExchange(this._i32, H_LOCK, 0, this.workerId << 1);
    if (seen !== 0 && seen >>> 1 !== this.workerId) return false; // busy, or in the cut state
    if (this._u32[H_HEAP_BYTES] > this.viewBytes) this.refreshViews();
    const u32 = this._u32;
    if (u32[H_OP] !== 0) {
      this.unlock();
      return false;
    }
    return true;
  }

  /**
   * The heap lock is held for a few hundred nanoseconds at a time, much less
   * than a sleep and wake-up cost, so a contended heap lock spins longer than
   * a general mutex before `lockWord` puts the thread to sleep.
   */
  private lockContended(): void {
    const i32 = this._i32;
    const mine = this.workerId << 1;
    for (let spin = 0; spin < HEAP_LOCK_SPINS; spin++) {
      const seen = Atomics.load(i32, H_LOCK);
      if (seen === 0) {
        if (Atomics.compareExchange(i32, H_LOCK, 0, mine) === 0) return;
      } else if (seen >>> 1 === this.workerId) {
        // No heap operation takes the lock inside another, so this handle
        // holding it means an unlock was cut short (an exception thrown at the
        // call): the lock is ours to reuse, unless a cut-short write left its mark.
        if (this._u32[H_OP] !== 0) {
          const op = this._u32[H_OP];
          this.unlock(); // leaves the word in the cut state
          throw this.cutError(op);
        }
        return;
      } else if (isCutWord(seen)) {
        throw this.cutError((seen >>> 1) - LOCK_CUT_OWNER);
      }
    }
    try {
      lockWord(i32, H_LOCK, this.workerId, this._u32[H_LOCK_TIMEOUT_MS] || DEFAULT_LOCK_TIMEOUT_MS);
    } catch (e) {
      // lockWord reads the cut state as no lock state: name it for what it is.
      const seen = Atomics.load(i32, H_LOCK);
      if (e instanceof LockStateError && isCutWord(seen)) {
        throw this.cutError((seen >>> 1) - LOCK_CUT_OWNER);
      }
      throw e;
    }
  }

  /**
   * Queues the used arena chunk `c` to be freed by a later operation (see
   * `drainDeferredIfAnyLocked`; lock-free push). The chunk is re-tagged internal first, so the
   * old pointer is no longer accepted by `free` or `realloc`.
   */
  private deferFree(c: number): void {
    const i32 = this._i32;
    const u32 = this._u32;
    u32[(c + 4) >>> 2] = internalTag(this.key, c, tagAlignLog(u32[(c + 4) >>> 2]));
    for (let attempt = 0; attempt < REMOTE_PUSH_LIMIT; attempt++) {
      const head = Atomics.load(i32, H_DEFERRED);
      i32[(c + 8) >>> 2] = head;
      if (Atomics.compareExchange(i32, H_DEFERRED, head, c | 0) === head) return;
    }
  }

  /** Frees every chunk on the deferred list (heap lock held). */
  private drainDeferredLocked(): void {
    const u32 = this._u32;
    let c = Atomics.exchange(this._i32, H_DEFERRED, 0) >>> 0;
    for (let n = Math.floor(u32[H_HEAP_BYTES] / MIN_CHUNK); c !== 0; n--) {
      const h = u32[c >>> 2];
      if (
        n === 0 || c < ARENA_START || c % 8 !== 0 || c >= u32[H_HEAP_BYTES] || (h & USED_BIT) === 0
      ) {
        throw new HeapCorruptionError("deferred-free list is broken", c);
      }
      const next = u32[(c + 8) >>> 2];
      arenaFree(u32, c);
      c = next;
    }
  }

  /**
   * Releases the heap lock; if an operation's mark is set (it was cut short,
   * or a repair failed), leaves the word in the cut state instead, waking
   * every waiter so that each reports it.
   */
  private unlock(): void {
    const op = this._u32[H_OP];
    if (op === 0) {
      unlockWord(this._i32, H_LOCK, this.workerId);
      return;
    }
    const i32 = this._i32;
    const cut = cutWord(op);
    // With the owner fixed the word can only gain the waiters bit, so this
    // settles within two passes; the bound is for safety.
    for (let attempt = 0; attempt < FORCE_TAKE_LIMIT; attempt++) {
      const seen = Atomics.load(i32, H_LOCK);
      if (seen >>> 1 !== this.workerId) break; // not ours: unlockWord names the mistake
      if (Atomics.compareExchange(i32, H_LOCK, seen, cut) === seen) {
        if ((seen & 1) !== 0) Atomics.notify(i32, H_LOCK);
        return;
      }
    }
    unlockWord(i32, H_LOCK, this.workerId);
  }

  /** Releases the heap lock after an operation that completed (no mark to look at). */
  private unlockClean(): void {
    unlockWord(this._i32, H_LOCK, this.workerId);
  }

  /** Checks the header and the arena; with `slab`, also every slab page (needs quiet workers). */
  private checkLocked(slab = true): void {
    const u32 = this._u32;
    const heapBytes = u32[H_HEAP_BYTES];
    if (u32[H_MAGIC] !== MAGIC) throw new HeapCorruptionError("magic number overwritten", 0);
    if (u32[H_VERSION] !== FORMAT_VERSION) throw new HeapCorruptionError("version overwritten", 4);
    if (u32[H_BASE_OFFSET] !== this.base) {
      throw new HeapCorruptionError(`base offset ${u32[H_BASE_OFFSET]} is not ${this.base}`, 0);
    }
    if (
      heapBytes > this._buffer.byteLength - this.base || heapBytes % 8 !== 0 ||
      heapBytes > u32[H_MAX_BYTES]
    ) {
      throw new HeapCorruptionError(`heap size ${heapBytes} is inconsistent`, H_HEAP_BYTES * 4);
    }
    const problem = headerWordsProblem(u32);
    if (problem !== null) {
      throw new HeapCorruptionError(
        `header ${problem.field} ${problem.reason}: ${problem.value}`,
        0,
      );
    }
    if (this.workerId > u32[H_LAST_WORKER]) {
      throw new HeapCorruptionError(
        `last worker id ${u32[H_LAST_WORKER]} is below this handle's id ${this.workerId}`,
        H_LAST_WORKER * 4,
      );
    }
    const used = arenaCheck(u32);
    if (used !== u32[H_LIVE]) {
      throw new HeapCorruptionError(
        `live counter ${u32[H_LIVE]} != ${used} used chunks`,
        H_LIVE * 4,
      );
    }
    const roots = rootsProblem(u32, heapBytes);
    if (roots !== "") throw new HeapCorruptionError(roots, H_ROOTS * 4);
    if (slab) this.checkSlabLocked();
  }

  /** Allocates an arena chunk of `needBytes` (heap lock held), growing the heap if needed; 0 if impossible. */
  private allocLocked(needBytes: number, alignLog: number): number {
    const alignBytes = 1 << alignLog;
    let ptr = arenaAlloc(this._u32, needBytes, alignBytes, alignLog);
    if (ptr === 0 && this._u32[H_DEFERRED] !== 0) {
      this.drainDeferredIfAnyLocked();
      ptr = arenaAlloc(this._u32, needBytes, alignBytes, alignLog);
    }
    if (ptr === 0 && this.growFor(needBytes + (alignBytes > 8 ? alignBytes + MIN_CHUNK : 0))) {
      ptr = arenaAlloc(this._u32, needBytes, alignBytes, alignLog);
    }
    return ptr;
  }

  /**
   * Resizes the arena chunk `c` (heap lock held): in place or into its free
   * neighbours (returns the payload), or allocates a new block and returns
   * its payload negated (the caller copies the data and frees `c`); 0 if out of memory.
   */
  private reallocLocked(c: number, needBytes: number): number {
    const u32 = this._u32;
    if (arenaResizeInPlace(u32, c, needBytes)) return c + 8;
    const down = arenaResizeIntoPrevious(u32, this._u8, c, needBytes);
    if (down !== 0) return down;
    const ptr = this.allocLocked(needBytes, tagAlignLog(u32[(c + 4) >>> 2]));
    return ptr === 0 ? 0 : -ptr; // negative: moved, the caller copies and frees the old block
  }

  /**
   * Grows the buffer so that a free chunk of `chunkBytes` exists at the end of
   * the arena. Returns false, changing nothing, when `maxBytes` does not allow it.
   */
  private growFor(chunkBytes: number): boolean {
    const u32 = this._u32;
    const oldBytes = u32[H_HEAP_BYTES];
    const maxBytes = u32[H_MAX_BYTES];
    // At least one step: the tail may already be big enough by size and yet
    // not fit an aligned request at its start.
    const missing = Math.max(chunkBytes - arenaTailFreeBytes(u32), 8);
    if (oldBytes + missing > maxBytes) return false;
    let newBytes = Math.max(oldBytes + missing, Math.min(oldBytes * 2, maxBytes));
    newBytes = Math.min(Math.ceil(newBytes / GROW_STEP_BYTES) * GROW_STEP_BYTES, maxBytes);
    if (newBytes <= oldBytes) return false;
    try {
      if (this.memory !== null) growMemory(this.memory, this._buffer, this.base + newBytes);
      else if (this._buffer.byteLength < newBytes) this._buffer.grow(newBytes);
    } catch {
      return false; // the platform refused the memory: report out of memory
    }
    this.refreshViews();
    arenaExtend(this._u32, newBytes);
    return true;
  }

  /** Validates `ptr` as the start of a live block and returns its chunk offset. */
  private chunkOf(operation: string, ptr: number): number {
    if (typeof ptr !== "number") throw new InvalidPointerError(operation, ptr, "is not a number");
    if (!Number.isInteger(ptr)) throw new InvalidPointerError(operation, ptr, "is not an integer");
    const u32 = this._u32;
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
      const sizeBytes = (h & SIZE_MASK) >>> 0;
      if (
        (h & 6) === 0 && sizeBytes >= MIN_CHUNK && c + sizeBytes <= end &&
        u32[(c + sizeBytes - 4) >>> 2] === h && isUsedTag(this.key, c, tag)
      ) {
        return c;
      }
    } else if (tag === freeTag(this.key, c, h)) {
      throw new DoubleFreeError(operation, ptr);
    }
    throw new InvalidPointerError(operation, ptr, "is not the start of a live block");
  }

  // ---- slab internals ----

  /** True when `base` (whose first word matched a page magic) is a slab page chunk of the arena. */
  private isPage(base: number): boolean {
    return base >= ARENA_START + 8 &&
      this._u32[(base - 4) >>> 2] === internalTag(this.key, base - 8, PAGE_ALIGN_LOG);
  }

  /** The slab page that `ptr` points into, or 0 when it is not a slab pointer. */
  private slabPageOf(ptr: number): number {
    if (typeof ptr !== "number" || (ptr >>> 0) !== ptr) return 0;
    if (ptr >= this.viewBytes) this.refreshViews(); // a pointer from a worker that grew the heap
    const base = (ptr & PAGE_MASK) >>> 0;
    const u32 = this._u32;
    return u32[base >>> 2] === pageMagic(base) && u32[(base >>> 2) + P_MAGIC2] === pageMagic2(base)
      ? base
      : 0;
  }

  /** Throws unless `ptr` is a live slot of the page at `base`. */
  private checkSlot(operation: string, base: number, ptr: number): void {
    const problem = slotProblem(this._u32, this.key, base, ptr);
    if (problem === "") return;
    if (problem === "double") throw new DoubleFreeError(operation, ptr);
    throw new InvalidPointerError(operation, ptr, problem);
  }

  /** Frees a slot: locally (no atomics) on this worker's pages, else onto the page's remote list. */
  private freeSlot(operation: string, base: number, ptr: number): void {
    this.validateSlot(operation, base, ptr);
    this.releaseSlot(operation, base, ptr);
  }

  /** Throws unless `ptr` is a live slot of the page at `base` (whose magic words matched). */
  private validateSlot(operation: string, base: number, ptr: number): void {
    const u32 = this._u32;
    const h = base >>> 2;
    // Inline validation (the common case); slotProblem names what is wrong.
    const cls = u32[h + P_CLASS];
    const off = ptr - base - PAGE_HEADER_BYTES;
    if (
      cls >= CLASS_COUNT || off < 0 || ptr >= u32[h + P_BUMP] ||
      u32[(ptr + 4) >>> 2] === (((ptr ^ this.slotKey) & 0x3fffffff) | 1) ||
      Math.round(off * SLOT_INV[cls]) * u32[h + P_SLOT] !== off
    ) {
      this.checkSlot(operation, base, ptr);
    }
  }

  /** Frees the live slot `ptr` of the page at `base`, validated by `validateSlot`. */
  private releaseSlot(operation: string, base: number, ptr: number): void {
    const u32 = this._u32;
    const h = base >>> 2;
    const tag = freeSlotTag(this.key, ptr);
    const cls = u32[h + P_CLASS];
    if (u32[h + P_OWNER] === this.workerId && this.areaWords !== 0) {
      // Onto the free-slot cache; a full one first hands its oldest slots to their pages.
      const c = this.areaWords + A_CACHE + cls * CACHE_STRIDE;
      const spill = u32[c] >= CACHE_SLOTS;
      if (spill) spillCache(u32, this.key, this.area, cls, this.spilled);
      const e = c + u32[c] + 1;
      u32[e] = ptr ^ cacheEntryMask(this.key, e);
      u32[(ptr + 4) >>> 2] = tag;
      u32[c]++;
      if (spill) {
        for (let k = 0; k < CACHE_SPILL; k++) {
          const slot = this.spilled[k];
          this.freeLocal((slot & PAGE_MASK) >>> 0, slot);
        }
      }
      return;
    }
    // Another worker's page: claim the slot's tag atomically, so two workers
    // freeing the same slot at once cannot both push it, then push it onto the
    // page's remote-free list.
    const i32 = this._i32;
    if (Atomics.exchange(i32, (ptr + 4) >>> 2, tag) === tag) {
      throw new DoubleFreeError(operation, ptr);
    }
    for (let attempt = 0; attempt < REMOTE_PUSH_LIMIT; attempt++) {
      const head = Atomics.load(i32, h + P_REMOTE);
      i32[ptr >>> 2] = head ^ slotLinkMask(this.key, ptr);
      if (Atomics.compareExchange(i32, h + P_REMOTE, head, ptr | 0) === head) return;
    }
    throw new Error(
      `Cannot free pointer: ${ptr}: remote-free list of page ${base} stayed contended`,
    );
  }

  /** Pushes the slot `ptr` (tagged free) onto the free list of `base`, one of this worker's pages. */
  private freeLocal(base: number, ptr: number): void {
    const u32 = this._u32;
    const h = base >>> 2;
    u32[ptr >>> 2] = u32[h + P_FREE] ^ slotLinkMask(this.key, ptr);
    u32[h + P_FREE] = ptr;
    const used = u32[h + P_USED] - 1;
    u32[h + P_USED] = used;
    if (used === 0 || u32[h + P_STATE] !== STATE_ACTIVE) this.pageChanged(base);
  }

  /** The owner's slow path after a local free: a full page has room again, or a page is empty. */
  private pageChanged(base: number): void {
    const aw = this.areaWords;
    const u32 = this._u32;
    // While a rebuild of this area is pending, leave the lists alone.
    if (u32[aw + A_BUSY] !== 0 || u32[aw + A_MAGIC] !== areaMagic(this.area)) return;
    u32[aw + A_BUSY] = 1; // cleared when the lists are whole again
    u32[aw + A_BEAT]++; // a heartbeat for recover()
    this.pageChangedBusy(base);
    this._u32[aw + A_BUSY] = 0;
  }

  /** `pageChanged` with this area marked busy. */
  private pageChangedBusy(base: number): void {
    const u32 = this._u32;
    const h = base >>> 2;
    const entry = this.areaWords + A_CLASSES + (u32[h + P_CLASS] << 2);
    if (u32[h + P_STATE] === STATE_FULL) {
      unlinkPage(u32, entry + E_FULL, base);
      u32[h + P_STATE] = STATE_ACTIVE;
      pushPageSecond(u32, entry + E_ACTIVE, base);
    }
    if (u32[h + P_USED] !== 0 || u32[entry + E_ACTIVE] === base) return;
    // An empty page that is not the one in use: keep one spare, give the rest back.
    if (u32[entry + E_SPARE] === 0) {
      unlinkPage(u32, entry + E_ACTIVE, base);
      u32[h + P_STATE] = STATE_SPARE;
      u32[entry + E_SPARE] = base;
      return;
    }
    // Giving a page back needs the heap lock. A free must not wait for it (nor
    // fail after changing state), so when the lock is busy the empty page
    // simply stays in the list and is reused or given back later.
    if (!this.tryLock()) return;
    try {
      const v = this._u32;
      this.begin();
      unlinkPage(v, entry + E_ACTIVE, base);
      v[entry + E_PAGES]--;
      this.releasePageLocked(base);
      this.end();
    } finally {
      this.unlock();
    }
  }

  /** Gives an empty page back to the arena (heap lock held). */
  private releasePageLocked(base: number): void {
    const u32 = this._u32;
    u32[base >>> 2] = 0; // no stale magic may route a later pointer here
    u32[(base >>> 2) + P_MAGIC2] = 0;
    u32[H_SLAB_PAGES]--;
    arenaFree(u32, base - 8);
  }

  /** Adds the pending slab allocation count to this handle's area words. */
  private flushAllocCount(): void {
    const aw = this.areaWords;
    if (aw === 0 || this.pendingAllocs === 0) return;
    const u32 = this._u32;
    const total = u32[aw + HA_ALLOCS_LO] + this.pendingAllocs;
    u32[aw + HA_ALLOCS_LO] = total;
    if (total >= 2 ** 32) u32[aw + HA_ALLOCS_HI] += Math.floor(total / 2 ** 32);
    this.pendingAllocs = 0;
  }

  /** Refills this worker's pages of a class: remote frees, full pages, the spare, orphans, then a new page. */
  private allocClassSlow(classIndex: number): number {
    if (this.areaWords !== 0 && this._u32[this.areaWords + A_MAGIC] !== areaMagic(this.area)) {
      this.dropOwnArea(); // recovered while it was still running: start afresh
    }
    if (this.areaWords === 0 && !this.createArea()) return 0;
    this.flushAllocCount();
    const aw = this.areaWords;
    const u32 = this._u32;
    if (u32[aw + A_BUSY] !== 0) this.recover(this.workerId); // a cut-short slow path: rebuild the lists
    this._u32[aw + A_BUSY] = 1;
    const ptr = this.refillFromOwnPages(classIndex);
    this._u32[aw + A_BUSY] = 0;
    if (ptr !== 0) {
      this._u32[aw + A_BEAT]++; // a heartbeat for recover()
      return ptr;
    }
    // 4. Orphaned pages of this class, else a new page: under the heap lock.
    this.lock();
    try {
      this.begin();
      const p = this.refillLocked(classIndex);
      if (p !== 0) this.end();
      else this._u32[H_OP] = 0;
      return p;
    } finally {
      this.unlock();
    }
  }

  /**
   * Steps 1-3 of a refill, on this worker's own lists (no lock): returns a
   * slot, or 0 when a page must come from the orphans or the arena.
   */
  private refillFromOwnPages(classIndex: number): number {
    const u32 = this._u32;
    const entry = this.areaWords + A_CLASSES + (classIndex << 2);
    // 1. Pages in use: collect their remote frees; retire the full ones.
    for (let n = Math.min(u32[entry + E_PAGES], this.maxPages()) + 1; n > 0; n--) {
      const page = u32[entry + E_ACTIVE];
      if (page === 0) break;
      collectRemote(u32, this._i32, this.key, page);
      if (this.pageHasRoom(page)) return this.popSlot(classIndex);
      unlinkPage(u32, entry + E_ACTIVE, page);
      u32[(page >>> 2) + P_STATE] = STATE_FULL;
      pushPage(u32, entry + E_FULL, page);
    }
    // 2. Full pages that other workers freed slots in.
    let page = u32[entry + E_FULL];
    for (let n = Math.min(u32[entry + E_PAGES], this.maxPages()); page !== 0 && n > 0; n--) {
      const next = u32[(page >>> 2) + P_NEXT];
      // A page with no remote frees is skipped on one plain read (no write
      // follows, so an unchecked page costs nothing); collectRemote checks
      // the page before it moves a list. A damaged link reads as garbage
      // here at worst: the walk is bounded, and unlinkPage checks its pages.
      if (u32[(page >>> 2) + P_REMOTE] !== 0 && collectRemote(u32, this._i32, this.key, page) > 0) {
        unlinkPage(u32, entry + E_FULL, page);
        u32[(page >>> 2) + P_STATE] = STATE_ACTIVE;
        pushPage(u32, entry + E_ACTIVE, page);
        return this.popSlot(classIndex);
      }
      page = next;
    }
    // 3. The spare page.
    page = u32[entry + E_SPARE];
    if (page !== 0) {
      u32[entry + E_SPARE] = 0;
      u32[(page >>> 2) + P_STATE] = STATE_ACTIVE;
      pushPage(u32, entry + E_ACTIVE, page);
      return this.popSlot(classIndex);
    }
    return 0;
  }

  /**
   * Step 4 of a refill (heap lock held): adopts orphaned pages of the class
   * (the full ones join this worker's full pages), else takes a new page
   * from the arena. Returns a slot, or 0 when no page can be had.
   */
  private refillLocked(classIndex: number): number {
    const entry = this.areaWords + A_CLASSES + (classIndex << 2);
    let page = 0;
    {
      // lock() and allocLocked() may rebuild the views after growth: re-read them.
      const u32 = this._u32;
      for (let n = Math.min(u32[H_SLAB_PAGES], this.maxPages()); n > 0; n--) {
        page = u32[H_SLAB_ORPHANS + classIndex];
        if (page === 0) break;
        unlinkPage(u32, H_SLAB_ORPHANS + classIndex, page);
        const h = page >>> 2;
        u32[h + P_OWNER] = this.workerId;
        u32[h + P_AREA] = this.area;
        collectRemote(u32, this._i32, this.key, page);
        u32[entry + E_PAGES]++;
        if (this.pageHasRoom(page)) {
          u32[h + P_STATE] = STATE_ACTIVE;
          pushPage(u32, entry + E_ACTIVE, page);
          return this.popSlot(classIndex);
        }
        u32[h + P_STATE] = STATE_FULL;
        pushPage(u32, entry + E_FULL, page);
      }
      const ptr = this.allocLocked(chunkBytesFor(PAGE_USABLE_BYTES), PAGE_ALIGN_LOG);
      if (ptr === 0) return 0;
      const v = this._u32; // fresh after any growth
      v[(ptr - 4) >>> 2] = internalTag(this.key, ptr - 8, PAGE_ALIGN_LOG); // never a user pointer
      page = ptr;
      initPage(v, page, classIndex, this.workerId, this.area);
      v[H_SLAB_PAGES]++;
      v[H_SLAB_INTERNAL]++;
      v[entry + E_PAGES]++;
      pushPage(v, entry + E_ACTIVE, page);
      return this.popSlot(classIndex);
    }
  }

  /** The allocation fast path found that the free-slot cache entry at word `e` names `slot`, not a free slot. */
  private badCacheEntry(e: number, slot: number): never {
    throw new HeapCorruptionError(
      `free-slot cache entry at ${
        e * 4
      } names ${slot}, which is not a free slot (a write past a block?)`,
      e * 4,
    );
  }

  /** The allocation fast path found that the head `slot` of `page`'s free list is not a free slot. */
  private badSlotLink(page: number, slot: number): never {
    throw new HeapCorruptionError(
      `slab page ${page}'s free list reaches ${slot}, which is not a free slot of the page (a write past a block or after free?)`,
      page,
    );
  }

  /**
   * Takes a slot from the current page of `classIndex` after a refill made
   * one available (the allocation fast path, without falling back to the
   * refill: a page whose fields disagree is reported, never retried).
   */
  private popSlot(classIndex: number): number {
    const u32 = this._u32;
    const page = u32[this.areaWords + A_CLASSES + (classIndex << 2)];
    const h = page >>> 2;
    checkPage(u32, page, this.areaWords * 4);
    let slot = u32[h + P_FREE];
    if (slot !== 0) {
      if (!isFreeSlotOf(u32, this.key, page, slot)) this.badSlotLink(page, slot);
      u32[h + P_FREE] = slotLink(u32, this.key, slot);
    } else {
      slot = u32[h + P_BUMP];
      if (
        slot + u32[h + P_SLOT] > page + PAGE_USABLE_BYTES || u32[h + P_USED] >= u32[h + P_CAPACITY]
      ) {
        throw new HeapCorruptionError(
          "slab page has room by its lists but not by its counts",
          page,
        );
      }
      u32[h + P_BUMP] = slot + u32[h + P_SLOT];
    }
    u32[(slot + 4) >>> 2] = 0;
    u32[h + P_USED]++;
    this.pendingAllocs++;
    return slot;
  }

  /** True when the page has a free slot or room to bump. */
  private pageHasRoom(page: number): boolean {
    const u32 = this._u32;
    const h = page >>> 2;
    return u32[h + P_FREE] !== 0 || u32[h + P_BUMP] + u32[h + P_SLOT] <= pageSlotsEnd(u32, page);
  }

  /** Makes this handle's slab area (heap lock taken here). */
  private createArea(): boolean {
    this.lock();
    try {
      this.begin();
      const ok = this.createAreaLocked();
      if (ok) this.end();
      else this._u32[H_OP] = 0;
      return ok;
    } finally {
      this.unlock();
    }
  }

  /** `createArea` with the heap lock held and the operation marked. */
  private createAreaLocked(): boolean {
    {
      const ptr = this.allocLocked(chunkBytesFor(AREA_BYTES), 3);
      if (ptr === 0) return false;
      const u32 = this._u32; // fresh after any growth
      u32[(ptr - 4) >>> 2] = internalTag(this.key, ptr - 8, 3); // never a user pointer
      u32.fill(0, ptr >>> 2, (ptr + AREA_BYTES) >>> 2);
      u32[(ptr >>> 2) + A_MAGIC] = areaMagic(ptr);
      u32[(ptr >>> 2) + A_WORKER] = this.workerId;
      u32[(ptr >>> 2) + A_NEXT] = u32[H_SLAB_AREAS];
      u32[H_SLAB_AREAS] = ptr;
      u32[H_SLAB_AREA_COUNT]++;
      u32[H_SLAB_INTERNAL]++;
      this.area = ptr;
      this.areaWords = ptr >>> 2;
      return true;
    }
  }

  /**
   * Forgets this handle's area after another handle recovered this worker
   * while it still ran: frees the tombstone left in its place (only this
   * handle could still read it), or reports an overwritten area.
   */
  private dropOwnArea(): void {
    const area = this.area;
    this.lock();
    try {
      const u32 = this._u32;
      if (u32[(area >>> 2) + A_MAGIC] !== tombstoneMagic(area)) {
        throw new HeapCorruptionError("this handle's slab area was overwritten", area);
      }
      this.begin();
      this.area = 0;
      this.areaWords = 0;
      u32[(area >>> 2) + A_MAGIC] = 0;
      u32[H_SLAB_TOMBSTONES]--;
      arenaFree(u32, area - 8);
      u32[H_OP] = 0;
    } finally {
      this.unlock();
    }
  }

  /** Resizes a slab slot: in place when the size still suits the slot, else by moving it. */
  private reallocSlot(base: number, ptr: number, sizeBytes: number): number {
    this.validateSlot("reallocate", base, ptr); // once: the old slot is freed below unchecked
    const slot = this._u32[(base >>> 2) + P_SLOT];
    if (sizeBytes <= slot && sizeBytes > slot >>> 1) return ptr + this.base;
    // Keep the alignment the slot had: slots start 64-aligned, so a slot is
    // aligned to the largest power of two (up to 64) dividing its size.
    const alignBytes = Math.min(SLAB_MAX_ALIGN, slot & -slot);
    let moved = 0;
    if (sizeBytes <= SLAB_MAX_BYTES) {
      const cls = classOf(sizeBytes, 31 - Math.clz32(alignBytes));
      if (cls < CLASS_COUNT) moved = this.allocSlot(cls);
    }
    if (moved === 0) moved = this.tryAllocChecked(sizeBytes, alignBytes);
    if (moved === 0) throw new OutOfMemoryError(sizeBytes, alignBytes, this._u32[H_HEAP_BYTES]);
    // Whole words: slots are multiples of 8 bytes and an arena block's usable
    // size is a multiple of 4, so both hold the last partial word. A short
    // loop beats copyWithin's call for the small blocks of the slab.
    const words = (Math.min(slot, sizeBytes) + 3) >>> 2;
    const u32 = this._u32; // fresh after any growth
    if (words <= 32) {
      const from = ptr >>> 2;
      const to = moved >>> 2;
      for (let i = 0; i < words; i++) u32[to + i] = u32[from + i];
    } else {
      u32.copyWithin(moved >>> 2, ptr >>> 2, (ptr >>> 2) + words);
    }
    this.releaseSlot("reallocate", base, ptr);
    return moved + this.base;
  }

  /**
   * Gives the slab pages of the area at `area` up (heap lock held): empty
   * pages go back to the arena, the rest become orphans that any worker adopts.
   * Returns the number of pages handed over.
   */
  private abandonAreaLocked(area: number, tombstone: boolean): number {
    const u32 = this._u32;
    flushCache(u32, this.key, area); // cached slots go back to their pages first
    let pages = 0;
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      const entry = (area >>> 2) + A_CLASSES + (cls << 2);
      for (const head of [entry + E_ACTIVE, entry + E_FULL]) {
        for (
          let n = Math.min(u32[entry + E_PAGES], this.maxPages());
          u32[head] !== 0 && n > 0;
          n--
        ) {
          const page = u32[head];
          unlinkPage(u32, head, page);
          this.orphanPageLocked(page, cls);
          pages++;
        }
      }
      const spare = u32[entry + E_SPARE];
      if (spare !== 0) {
        u32[entry + E_SPARE] = 0;
        this.releasePageLocked(spare);
        pages++;
      }
      u32[entry + E_PAGES] = 0;
    }
    // Unlink and free the area itself.
    let link = H_SLAB_AREAS;
    for (let n = Math.min(u32[H_SLAB_AREA_COUNT], this.maxAreas()); u32[link] !== 0 && n > 0; n--) {
      if (u32[link] === area) {
        u32[link] = u32[(area >>> 2) + A_NEXT];
        u32[H_SLAB_AREA_COUNT]--;
        break;
      }
      link = (u32[link] >>> 2) + A_NEXT;
    }
    const retired = u32[H_SLAB_RETIRED_LO] + u32[(area >>> 2) + A_ALLOCS_LO];
    u32[H_SLAB_RETIRED_HI] += u32[(area >>> 2) + A_ALLOCS_HI] + (retired >= 2 ** 32 ? 1 : 0);
    u32[H_SLAB_RETIRED_LO] = retired;
    if (tombstone) {
      // The worker may still run and read its area (its fast path caches it):
      // keep the chunk, emptied, so it never reads memory handed to others.
      u32[(area >>> 2) + A_MAGIC] = tombstoneMagic(area);
      u32[H_SLAB_TOMBSTONES]++;
      return pages;
    }
    u32[(area >>> 2) + A_MAGIC] = 0;
    arenaFree(u32, area - 8);
    return pages;
  }

  /**
   * Gives back orphan pages whose slots were all freed by other workers since
   * they were orphaned (heap lock held). Returns the number of pages released.
   */
  private sweepOrphansLocked(): number {
    const u32 = this._u32;
    let released = 0;
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      let page = u32[H_SLAB_ORPHANS + cls];
      for (let n = Math.min(u32[H_SLAB_PAGES], this.maxPages()); page !== 0 && n > 0; n--) {
        const next = u32[(page >>> 2) + P_NEXT];
        collectRemote(u32, this._i32, this.key, page);
        if (u32[(page >>> 2) + P_USED] === 0) {
          unlinkPage(u32, H_SLAB_ORPHANS + cls, page);
          this.releasePageLocked(page);
          released++;
        }
        page = next;
      }
    }
    return released;
  }

  /** Makes a page ownerless (heap lock held): back to the arena when empty, else onto the orphan list. */
  private orphanPageLocked(page: number, cls: number): void {
    const u32 = this._u32;
    const h = page >>> 2;
    u32[h + P_OWNER] = 0;
    u32[h + P_AREA] = 0;
    collectRemote(u32, this._i32, this.key, page);
    if (u32[h + P_USED] === 0) {
      this.releasePageLocked(page);
      return;
    }
    u32[h + P_STATE] = STATE_ORPHAN;
    pushPage(u32, H_SLAB_ORPHANS + cls, page);
  }

  /** Figures per slab class (reads other workers' pages without stopping them). */
  private slabStatsLocked(): SlabClassStats[] {
    const u32 = this._u32;
    const out: SlabClassStats[] = CLASS_BYTES.map((slotBytes) => ({
      slotBytes,
      pages: 0,
      usedSlots: 0,
      freeSlots: 0,
      wasteBytes: 0,
    }));
    this.forEachPageLocked((page) => {
      const h = page >>> 2;
      const s = out[u32[h + P_CLASS]];
      // Slots freed by other workers and not yet collected are free already.
      let remote = 0;
      const capacity = u32[h + P_CAPACITY];
      const slotsEnd = page + PAGE_USABLE_BYTES;
      for (let p = u32[h + P_REMOTE]; p !== 0; p = slotLink(u32, this.key, p)) {
        if (p <= page || p >= slotsEnd || ++remote > capacity) {
          throw new HeapCorruptionError(`slab page's remote-free list is broken at ${p}`, page);
        }
      }
      if (u32[h + P_USED] < remote || u32[h + P_USED] > capacity) {
        throw new HeapCorruptionError(`slab page's used count ${u32[h + P_USED]} is wrong`, page);
      }
      s.pages++;
      s.usedSlots += u32[h + P_USED] - remote;
      s.freeSlots += capacity - u32[h + P_USED] + remote;
      s.wasteBytes += PAGE_USABLE_BYTES - u32[h + P_CAPACITY] * u32[h + P_SLOT];
    });
    // Slots in the free-slot caches are free (their pages count them as used).
    let area = u32[H_SLAB_AREAS];
    for (let a = this.maxAreas(); area !== 0 && a > 0; a--) {
      for (let cls = 0; cls < CLASS_COUNT; cls++) {
        const n = Math.min(u32[(area >>> 2) + A_CACHE + cls * CACHE_STRIDE], CACHE_SLOTS);
        const k = Math.min(n, out[cls].usedSlots);
        out[cls].usedSlots -= k;
        out[cls].freeSlots += k;
      }
      area = u32[(area >>> 2) + A_NEXT];
    }
    return out;
  }

  /** Calls `fn` for every slab page: every area's lists, then the orphans. */
  private forEachPageLocked(fn: (page: number, state: number, area: number) => void): void {
    const u32 = this._u32;
    const limit = Math.min(u32[H_SLAB_PAGES], this.maxPages()) + 1;
    let area = u32[H_SLAB_AREAS];
    for (let a = this.maxAreas(); area !== 0; a--) {
      if (a === 0) throw new HeapCorruptionError("slab area list has a cycle", area);
      this.checkArea(area);
      for (let cls = 0; cls < CLASS_COUNT; cls++) {
        const entry = (area >>> 2) + A_CLASSES + (cls << 2);
        for (const [head, state] of [[E_ACTIVE, STATE_ACTIVE], [E_FULL, STATE_FULL]]) {
          let n = 0;
          for (let p = u32[entry + head]; p !== 0; p = u32[(p >>> 2) + P_NEXT]) {
            if (++n > limit) throw new HeapCorruptionError("slab page list has a cycle", p);
            this.checkPageAddress(p);
            fn(p, state, area);
          }
        }
        const spare = u32[entry + E_SPARE];
        if (spare !== 0) {
          this.checkPageAddress(spare);
          fn(spare, STATE_SPARE, area);
        }
      }
      area = u32[(area >>> 2) + A_NEXT];
    }
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      let n = 0;
      for (let p = u32[H_SLAB_ORPHANS + cls]; p !== 0; p = u32[(p >>> 2) + P_NEXT]) {
        if (++n > limit) throw new HeapCorruptionError("orphan page list has a cycle", p);
        this.checkPageAddress(p);
        fn(p, STATE_ORPHAN, 0);
      }
    }
  }

  /**
   * The slots in every area's free-slot cache, by page (heap lock held).
   * Throws `HeapCorruptionError` when an area or a cache is damaged.
   */
  private cachedSlotsByPageLocked(): Map<number, number[]> {
    const u32 = this._u32;
    const out = new Map<number, number[]>();
    let area = u32[H_SLAB_AREAS];
    for (let a = this.maxAreas(); area !== 0; a--) {
      if (a === 0) throw new HeapCorruptionError("slab area list has a cycle", area);
      this.checkArea(area);
      for (let cls = 0; cls < CLASS_COUNT; cls++) {
        for (const slot of cachedSlots(u32, this.key, area, cls)) {
          const page = (slot & PAGE_MASK) >>> 0;
          const list = out.get(page);
          if (list === undefined) out.set(page, [slot]);
          else list.push(slot);
        }
      }
      area = u32[(area >>> 2) + A_NEXT];
    }
    return out;
  }

  /** Most slab pages the heap can hold now: bounds every walk of page lists. */
  private maxPages(): number {
    return Math.floor(this._u32[H_HEAP_BYTES] / PAGE_BYTES) + 1;
  }

  /** Most slab areas the heap can hold now: bounds every walk of the area list. */
  private maxAreas(): number {
    return Math.floor(this._u32[H_HEAP_BYTES] / AREA_BYTES) + 1;
  }

  /** Throws `HeapCorruptionError` unless `area` is a slab area chunk inside the heap. */
  private checkArea(area: number): void {
    const u32 = this._u32;
    if (
      area < ARENA_START + 8 || area % 8 !== 0 || area + AREA_BYTES > u32[H_HEAP_BYTES] ||
      u32[(area >>> 2) + A_MAGIC] !== areaMagic(area) ||
      u32[(area - 4) >>> 2] !== internalTag(this.key, area - 8, 3)
    ) {
      throw new HeapCorruptionError(`slab area list links to ${area}, not an area`, area);
    }
  }

  /** Throws `HeapCorruptionError` unless `page` is a slab page (magic, arena tag, class) inside the heap. */
  private checkPageAddress(page: number): void {
    const u32 = this._u32;
    const h = page >>> 2;
    if (
      page % PAGE_BYTES !== 0 || page < ARENA_START + 8 ||
      page + PAGE_USABLE_BYTES > u32[H_HEAP_BYTES] ||
      u32[h] !== pageMagic(page) || u32[h + P_MAGIC2] !== pageMagic2(page) || !this.isPage(page) ||
      u32[h + P_CLASS] >= CLASS_COUNT || u32[h + P_SLOT] !== CLASS_BYTES[u32[h + P_CLASS]] ||
      u32[h + P_CAPACITY] > MAX_PAGE_SLOTS
    ) {
      throw new HeapCorruptionError(`slab list links to ${page}, not a valid slab page`, page);
    }
  }

  /** Verifies every slab invariant (heap lock held). */
  private checkSlabLocked(): void {
    const u32 = this._u32;
    const end = u32[H_HEAP_BYTES];
    let pages = 0;
    let areas = 0;
    for (let a = u32[H_SLAB_AREAS], n = 0; a !== 0; a = u32[(a >>> 2) + A_NEXT]) {
      if (++n > u32[H_SLAB_AREA_COUNT] || n > this.maxAreas()) {
        throw new HeapCorruptionError("slab area list is longer than its count", a);
      }
      if (
        a < ARENA_START + 8 || a >= end || a % 8 !== 0 ||
        u32[(a >>> 2) + A_MAGIC] !== areaMagic(a) ||
        u32[(a - 4) >>> 2] !== internalTag(this.key, a - 8, 3)
      ) {
        throw new HeapCorruptionError("slab area magic is wrong", a);
      }
      const worker = u32[(a >>> 2) + A_WORKER];
      if (worker < 1 || worker > u32[H_LAST_WORKER]) {
        throw new HeapCorruptionError(`slab area names worker ${worker}, not a handed-out id`, a);
      }
      areas++;
    }
    if (areas !== u32[H_SLAB_AREA_COUNT]) {
      throw new HeapCorruptionError("slab area count is wrong", H_SLAB_AREA_COUNT * 4);
    }
    const seen = new Set<number>();
    const pagesPerEntry = new Map<number, number>();
    const cached = this.cachedSlotsByPageLocked();
    this.forEachPageLocked((page, state, area) => {
      const fail = (what: string): never => {
        throw new HeapCorruptionError(`slab page ${what}`, page);
      };
      if (seen.has(page)) fail("is on two lists");
      seen.add(page);
      if ((++pages & 63) === 0) u32[H_LOCK_BEAT]++; // a long walk shows its holder is alive
      const h = page >>> 2;
      if (page % PAGE_BYTES !== 0 || page >= end) fail("is not page-aligned inside the heap");
      if (
        u32[h] !== pageMagic(page) || u32[h + P_MAGIC2] !== pageMagic2(page) || !this.isPage(page)
      ) {
        fail("magic or arena tag is wrong");
      }
      const cls = u32[h + P_CLASS];
      if (cls >= CLASS_COUNT || u32[h + P_SLOT] !== CLASS_BYTES[cls]) fail("class is wrong");
      if (
        u32[h + P_CAPACITY] !==
          Math.floor((PAGE_USABLE_BYTES - PAGE_HEADER_BYTES) / u32[h + P_SLOT])
      ) {
        fail("capacity is wrong");
      }
      if (u32[h + P_STATE] !== state) {
        fail(`state ${u32[h + P_STATE]} disagrees with its list (${state})`);
      }
      const next = u32[h + P_NEXT];
      if (
        u32[h + P_NEXT_CHECK] !== pageLinkCheck(this.key, page, next) ||
        u32[h + P_PREV_CHECK] !== pageLinkCheck(this.key, page, u32[h + P_PREV])
      ) {
        fail("link disagrees with its check word");
      }
      if (next !== 0 && u32[(next >>> 2) + P_PREV] !== page) {
        fail(`next page ${next} does not link back`);
      }
      const owner = area === 0 ? 0 : u32[(area >>> 2) + A_WORKER];
      if (u32[h + P_OWNER] !== owner || u32[h + P_AREA] !== area) {
        fail("owner disagrees with its list");
      }
      if (area !== 0) {
        const key = (area >>> 2) + A_CLASSES + (cls << 2);
        pagesPerEntry.set(key, (pagesPerEntry.get(key) ?? 0) + 1);
      }
      const slotsEnd = pageSlotsEnd(u32, page);
      const bump = u32[h + P_BUMP];
      const slot = u32[h + P_SLOT];
      if (
        bump < page + PAGE_HEADER_BYTES || bump > slotsEnd ||
        (bump - page - PAGE_HEADER_BYTES) % slot !== 0
      ) {
        fail("bump pointer is wrong");
      }
      const handedOut = (bump - page - PAGE_HEADER_BYTES) / slot;
      const free = new Set<number>();
      for (const listHead of [u32[h + P_FREE], u32[h + P_REMOTE]]) {
        for (let p = listHead; p !== 0; p = slotLink(u32, this.key, p)) {
          if (free.has(p)) fail(`lists slot ${p} twice`);
          if (
            p < page + PAGE_HEADER_BYTES || p >= bump || (p - page - PAGE_HEADER_BYTES) % slot !== 0
          ) {
            fail(`free list holds ${p}, which is not a handed-out slot`);
          }
          if (u32[(p + 4) >>> 2] !== freeSlotTag(this.key, p)) fail(`free slot ${p} lost its tag`);
          free.add(p);
        }
      }
      // Cached slots count as used in their page and are on no free list.
      for (const p of cached.get(page) ?? []) {
        if (free.has(p)) fail(`free slot ${p} is both cached and on a free list`);
      }
      cached.delete(page);
      const remote = state === STATE_ACTIVE || state === STATE_FULL || state === STATE_ORPHAN;
      const usedExpected = handedOut - free.size;
      // Remote frees not yet collected still count as used until the owner collects them.
      let remoteCount = 0;
      for (
        let p = u32[h + P_REMOTE];
        p !== 0 && remoteCount <= free.size;
        p = slotLink(u32, this.key, p)
      ) {
        remoteCount++;
      }
      if (u32[h + P_USED] !== usedExpected + remoteCount) {
        fail(
          `used count ${u32[h + P_USED]} != ${
            usedExpected + remoteCount
          } slots handed out and not free`,
        );
      }
      if (!remote && u32[h + P_USED] !== 0) fail("is a spare page with used slots");
    });
    for (const page of cached.keys()) {
      throw new HeapCorruptionError("free-slot cache holds a slot of a page on no list", page);
    }
    for (const [key, count] of pagesPerEntry) {
      if (u32[key + E_PAGES] !== count) {
        throw new HeapCorruptionError(`slab page count ${u32[key + E_PAGES]} != ${count}`, key * 4);
      }
    }
    if (pages !== u32[H_SLAB_PAGES]) {
      throw new HeapCorruptionError(
        `slab holds ${u32[H_SLAB_PAGES]} pages but lists ${pages}`,
        H_SLAB_PAGES * 4,
      );
    }
  }

  /** Usable bytes of the arena block at `ptr` (trusted). */
  private usableSizeUnchecked(ptr: number): number {
    return ((this._u32[(ptr - 8) >>> 2] & SIZE_MASK) >>> 0) - CHUNK_OVERHEAD;
  }

  // ---- debug mode: redzones, poison, quarantine ----

  /** The canary byte of the redzone byte at `at` (keyed, so a copied redzone does not match). */
  private canary(at: number): number {
    return Math.imul(at ^ this.key, 0x9e3779b1) >>> 24;
  }

  /** Usable bytes of the live block `ptr` (relative); throws the pointer errors of `free`. */
  private liveUsable(operation: string, ptr: number): number {
    if (this.quarantined.has(ptr)) throw new DoubleFreeError(operation, ptr + this.base);
    const base = this.slabPageOf(ptr);
    if (base !== 0) {
      this.checkSlot(operation, base, ptr);
      return this._u32[(base >>> 2) + P_SLOT];
    }
    this.lock();
    try {
      this.chunkOf(operation, ptr);
      return this.usableSizeUnchecked(ptr);
    } finally {
      this.unlock();
    }
  }

  /**
   * Checks the redzone of the live block `ptr` (relative) of `usableBytes`:
   * the requested size in its last word, canary bytes between. Returns the
   * requested size; throws `HeapCorruptionError` naming the block otherwise.
   */
  private checkRedzone(ptr: number, usableBytes: number): number {
    // An arena chunk may have grown since the block was made (a later aligned
    // allocation gives a gap of 8 or 16 bytes to the used chunk before it, and
    // that can happen again), so the size word is the last word from the end
    // that decodes to a size leaving room for the canary bytes before it.
    const u32 = this._u32;
    for (let end = ptr + usableBytes - 4; end >= ptr + 4; end -= 4) {
      const size = (u32[end >>> 2] ^ this.key ^ DEBUG_SIZE_KEY) >>> 0;
      if (size + 4 > end - ptr) continue;
      const u8 = this._u8;
      for (let a = ptr + size; a < end; a++) {
        if (u8[a] !== this.canary(a)) {
          throw new HeapCorruptionError(
            `block ${ptr + this.base} of ${size} bytes was written past its end (byte ${
              a + this.base
            })`,
            a,
          );
        }
      }
      return size;
    }
    throw new HeapCorruptionError(
      `block ${ptr + this.base} was written past its end: its redzone size word changed`,
      ptr + usableBytes - 4,
    );
  }

  /** `tryAlloc` in debug mode: 8 bytes more, then the redzone. */
  private debugTryAlloc(sizeBytes: number, alignBytes: number): number {
    checkSize("allocate", sizeBytes);
    checkAlign(alignBytes);
    if (sizeBytes > 0xffffffff - 8) return 0;
    const ptr = this.tryAllocChecked(sizeBytes + 8, alignBytes);
    if (ptr === 0) return 0;
    if (ptr >= this.viewBytes) this.refreshViews();
    const base = this.slabPageOf(ptr);
    const usable = base !== 0 ? this._u32[(base >>> 2) + P_SLOT] : this.usableSizeUnchecked(ptr);
    const end = ptr + usable - 4;
    const u8 = this._u8;
    for (let a = ptr + sizeBytes; a < end; a++) u8[a] = this.canary(a);
    this._u32[end >>> 2] = (sizeBytes ^ this.key ^ DEBUG_SIZE_KEY) >>> 0;
    return ptr + this.base;
  }

  /** `free` in debug mode: check the redzone, poison the block, quarantine it. */
  private debugFree(abs: number): void {
    if (abs === 0) return;
    const ptr = this.base !== 0 ? this.toRel(abs) : abs;
    const usable = this.liveUsable("free", ptr);
    this.checkRedzone(ptr, usable);
    this._u8.fill(POISON, ptr, ptr + usable);
    this.quarantine.push(ptr);
    this.quarantined.set(ptr, usable);
    this.quarantineBytes += usable;
    while (
      this.quarantine.length > QUARANTINE_BLOCKS || this.quarantineBytes > QUARANTINE_BYTES
    ) {
      this.evictOldest();
    }
  }

  /** The first byte of `[ptr, ptr + bytes)` that is not poison, or -1. */
  private firstUnpoisoned(ptr: number, bytes: number): number {
    // Word by word (blocks start 8-aligned and usable sizes are multiples of 4).
    const u32 = this._u32;
    const end = ptr + bytes;
    for (let a = ptr; a < end; a += 4) {
      if (u32[a >>> 2] !== POISON_WORD) {
        const u8 = this._u8;
        for (let b = a; b < a + 4; b++) if (u8[b] !== POISON) return b;
      }
    }
    return -1;
  }

  /** Frees the oldest quarantined block; throws `UseAfterFreeError` if it was written meanwhile. */
  private evictOldest(): void {
    const ptr = this.quarantine.shift() as number;
    const usable = this.quarantined.get(ptr) ?? 0;
    this.quarantined.delete(ptr);
    this.quarantineBytes -= usable;
    const bad = this.firstUnpoisoned(ptr, usable);
    this.freeRaw(ptr + this.base);
    if (bad >= 0) throw new UseAfterFreeError(ptr + this.base, bad + this.base);
  }

  /** `realloc` in debug mode: always moves (a fresh redzone), keeping the alignment. */
  private debugRealloc(abs: number, sizeBytes: number): number {
    if (abs === 0) return this.alloc(sizeBytes);
    const ptr = this.base !== 0 ? this.toRel(abs) : abs;
    checkSize("reallocate", sizeBytes);
    const usable = this.liveUsable("reallocate", ptr);
    const old = this.checkRedzone(ptr, usable);
    const align = this.slabPageOf(ptr) !== 0
      ? Math.min(SLAB_MAX_ALIGN, ptr & -ptr)
      : 1 << tagAlignLog(this._u32[(ptr - 4) >>> 2]);
    const moved = this.alloc(sizeBytes, Math.max(8, align));
    const to = moved - this.base;
    this._u8.copyWithin(to, ptr, ptr + Math.min(old, sizeBytes));
    this.debugFree(abs);
    return moved;
  }

  /** `check()` in debug mode: the quarantine's poison and every live block's redzone. */
  private debugCheckLocked(): void {
    for (const [ptr, usable] of this.quarantined) {
      const bad = this.firstUnpoisoned(ptr, usable);
      if (bad >= 0) throw new UseAfterFreeError(ptr + this.base, bad + this.base);
    }
    const u32 = this._u32;
    const visit = (ptr: number, usable: number): void => {
      // Blocks in another handle's quarantine are all poison.
      if (this.quarantined.has(ptr) || this.firstUnpoisoned(ptr, usable) < 0) return;
      this.checkRedzone(ptr, usable);
    };
    const limit = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
    for (let c = ARENA_START; c < limit;) {
      const h = u32[c >>> 2];
      const size = (h & SIZE_MASK) >>> 0;
      if ((h & USED_BIT) !== 0 && isUsedTag(this.key, c, u32[(c + 4) >>> 2])) {
        visit(c + 8, size - CHUNK_OVERHEAD);
      }
      c += size; // checkLocked has seen every size tile the arena
    }
    this.forEachPageLocked((page) => {
      const h = page >>> 2;
      const slot = u32[h + P_SLOT];
      for (let p = page + PAGE_HEADER_BYTES; p < u32[h + P_BUMP]; p += slot) {
        if (u32[(p + 4) >>> 2] !== freeSlotTag(this.key, p)) visit(p, slot);
      }
    });
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
  if (u32[H_KEY] === 0 || u32[H_KEY] >= 2 ** 30) {
    throw new HeapFormatError("key", u32[H_KEY], "is not a heap key in [1, 2^30)");
  }
  if (u32[H_DEBUG] > 1) throw new HeapFormatError("debug", u32[H_DEBUG], "is not 0 or 1");
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
  const problem = headerWordsProblem(u32);
  if (problem !== null) throw new HeapFormatError(problem.field, problem.value, problem.reason);
}

/** The heap lock word that says an operation of worker `op` was cut short (see `H_OP`). */
function cutWord(op: number): number {
  return (LOCK_CUT_OWNER | (op & (LOCK_CUT_OWNER - 1))) << 1;
}

/** Whether the heap lock word `word` is in the cut state. */
function isCutWord(word: number): boolean {
  return word >>> 1 >= LOCK_CUT_OWNER;
}

/**
 * Checks the header words a handle trusts when it attaches (worker ids, lock
 * timeout, lock owner); returns what is wrong, or null.
 */
function headerWordsProblem(
  u32: Uint32Array,
): { field: string; value: number; reason: string } | null {
  const last = u32[H_LAST_WORKER];
  if (last > MAX_WORKER_ID) {
    return { field: "lastWorkerId", value: last, reason: `is outside [0, ${MAX_WORKER_ID}]` };
  }
  const timeout = u32[H_LOCK_TIMEOUT_MS];
  if (timeout === 0) {
    return { field: "lockTimeoutMs", value: timeout, reason: "is 0 (every wait must be bounded)" };
  }
  let owner = u32[H_LOCK] >>> 1;
  if (owner >= LOCK_CUT_OWNER) owner -= LOCK_CUT_OWNER; // the cut state names the worker
  if (owner > last) {
    return {
      field: "lock",
      value: u32[H_LOCK],
      reason: `names a worker above the last id ${last}`,
    };
  }
  return null;
}
