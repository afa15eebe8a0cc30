/**
 * The public option, figure and report types of `Heap` (re-exported by
 * `heap.ts` and `mod.ts`).
 *
 * @module
 */

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
  /**
   * This handle's arena cache: freed blocks of about 500 bytes to 32 KiB kept
   * (in the heap, bounded: 256 blocks, 512 KiB and 1/16 of the heap) for
   * this handle to reuse without the heap lock. `true` caches from the first
   * such free, `false` never; by default the cache starts once this handle
   * has waited for the heap lock a few times (other workers use the arena
   * too). A cached block is neither free space nor a live allocation (see
   * {@linkcode HeapStats.cachedBytes}); it goes back to the arena on
   * `detach()`, on `recover()` of the worker, and when memory runs short
   * (another handle's cache at its next use). Never in debug mode.
   *
   * @default {undefined}
   */
  arenaCache?: boolean;
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
  /**
   * Arena chunks the handles' caches hold for reuse without the heap lock
   * (see `AttachOptions.arenaCache`): used chunks of the arena (counted in
   * `usedBytes`, not in `freeBytes`), neither free space nor live allocations.
   */
  cachedChunks: number;
  /** Bytes of those chunks (`cachedChunks`). */
  cachedBytes: number;
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
   * Areas of recovered workers, kept (3,232 bytes each, counted in `usedBytes`)
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
