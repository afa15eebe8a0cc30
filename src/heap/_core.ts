/**
 * One handle's view of a heap: the buffer (or WebAssembly memory), the typed
 * views over it (rebuilt after any worker grows it), the handle's worker id
 * and the heap's metadata key. The heap lock (`_lock.ts`) and the slab
 * allocator (`src/alloc/slab_local.ts`) build on it, in that order, so the
 * fast paths read every field from one object.
 *
 * @module
 */

import { arenaExtend, arenaTailFreeBytes } from "../alloc/arena.ts";
import { FREE_SLOT_KEY, SLOT_CACHE_KEY } from "../alloc/slab.ts";
import { HeapFormatError } from "../errors.ts";
import { registerLocalWorker } from "../sync/_local.ts";
import { currentMemoryBuffer, growMemory, memoryGrew } from "./_backing.ts";
import { MAX_WORKER_ID } from "./_header.ts";
import { H_HEAP_BYTES, H_KEY, H_LAST_WORKER, H_MAX_BYTES } from "./layout.ts";
import type { WasmMemory } from "./types.ts";

/** The heap grows in steps that are multiples of this. */
const GROW_STEP_BYTES = 64 * 1024;

/** A handle's buffer, views and identity (see the module doc). */
export class HeapCore {
  /** The buffer viewed; for a heap in a `WebAssembly.Memory`, re-read after the memory grows. */
  buffer: SharedArrayBuffer;
  /** The WebAssembly memory holding the heap, or null for a heap in its own buffer. */
  readonly memory: WasmMemory | null;
  /** Byte offset of the heap in the buffer (the memory's `baseOffset`; 0 in a buffer of its own). */
  readonly base: number;
  /** Bytes of the buffer when the views were built. */
  bufferBytes = 0;
  // The public views (from offset 0 of the buffer, so pointers index them);
  // the same arrays as the heap-relative ones below when the heap starts at 0.
  xu8!: Uint8Array;
  xi32!: Int32Array;
  xu32!: Uint32Array;
  xf64!: Float64Array;
  xdv!: DataView;
  // Set by refreshViews (called from the constructor); they start at the heap's header.
  u8!: Uint8Array;
  i32!: Int32Array;
  u32!: Uint32Array;
  f64!: Float64Array;
  dv!: DataView;
  /** Bytes the views cover; they are rebuilt when the buffer has grown past it. */
  viewBytes = 0;
  /** This handle's worker id, unique among all handles of this heap; it owns the locks it takes. */
  readonly workerId: number;
  /** The heap's metadata key (`H_KEY`), read once: links and tags are encoded with it. */
  readonly key: number;
  /** `key ^ FREE_SLOT_KEY`: the free-slot tag of `ptr` is `((ptr ^ slotKey) & 0x3fffffff) | 1`. */
  readonly slotKey: number;
  /**
   * `key ^ SLOT_CACHE_KEY`: the free-slot cache entry at word `e` holds its
   * slot XOR `((e << 2) ^ slotCacheKey) & 0x3fffffff` (`slotCacheMask`).
   */
  readonly slotCacheKey: number;
  /** This handle's slab area (0 until its first small allocation). A cache of state kept in the buffer. */
  area = 0;
  /** `area >>> 2`: the area's first word (0 without an area); `end()` renews its heartbeat. */
  areaWords = 0;

  /**
   * Views `buffer` (the heap at byte `base` of it) and takes the next worker id.
   *
   * @param buffer The heap's buffer (already validated).
   * @param memory The WebAssembly memory holding it, or null.
   * @param base The heap's byte offset in the buffer.
   */
  constructor(buffer: SharedArrayBuffer, memory: WasmMemory | null, base: number) {
    this.buffer = buffer;
    this.memory = memory;
    this.base = base;
    this.refreshViews();
    this.key = this.u32[H_KEY];
    this.slotKey = this.key ^ FREE_SLOT_KEY;
    this.slotCacheKey = this.key ^ SLOT_CACHE_KEY;
    // Take the next id with a bounded compare-exchange loop, checking the
    // header's word before writing it (a corrupt word never yields id 0, a
    // negative or an out-of-range id).
    const i32 = this.i32;
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
   * A pointer a user passed in, as an offset from the heap's start (the same
   * number unless the heap sits at a `baseOffset` in a WebAssembly.Memory).
   * The heap's own first byte (never a block) maps to -1, not to null.
   */
  toRel(ptr: number): number {
    return typeof ptr === "number" && ptr !== 0 ? ptr - this.base || -1 : ptr;
  }

  /** True when the buffer grew (in any worker) since the views were built. */
  viewsStale(): boolean {
    return this.memory === null
      ? this.buffer.byteLength !== this.viewBytes
      : memoryGrew(this.memory, this.buffer, this.bufferBytes);
  }

  /** Rebuilds the views over the buffer's current length (after any worker grew it). */
  refreshViews(): void {
    if (this.memory !== null) this.buffer = currentMemoryBuffer(this.memory, this.buffer);
    const buffer = this.buffer;
    const total = buffer.byteLength;
    const base = this.base;
    const n = total - base;
    this.u8 = new Uint8Array(buffer, base, n);
    this.i32 = new Int32Array(buffer, base, n >>> 2);
    this.u32 = new Uint32Array(buffer, base, n >>> 2);
    this.f64 = new Float64Array(buffer, base, n >>> 3);
    this.dv = new DataView(buffer, base, n);
    if (base === 0) {
      this.xu8 = this.u8;
      this.xi32 = this.i32;
      this.xu32 = this.u32;
      this.xf64 = this.f64;
      this.xdv = this.dv;
    } else {
      this.xu8 = new Uint8Array(buffer, 0, total);
      this.xi32 = new Int32Array(buffer, 0, total >>> 2);
      this.xu32 = new Uint32Array(buffer, 0, total >>> 2);
      this.xf64 = new Float64Array(buffer, 0, total >>> 3);
      this.xdv = new DataView(buffer, 0, total);
    }
    this.viewBytes = n;
    this.bufferBytes = total;
  }

  /**
   * Grows the buffer so that a free chunk of `chunkBytes` exists at the end of
   * the arena. Returns false, changing nothing, when `maxBytes` does not allow it.
   */
  growFor(chunkBytes: number): boolean {
    const u32 = this.u32;
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
      if (this.memory !== null) growMemory(this.memory, this.buffer, this.base + newBytes);
      else if (this.buffer.byteLength < newBytes) this.buffer.grow(newBytes);
    } catch {
      return false; // the platform refused the memory: report out of memory
    }
    this.refreshViews();
    arenaExtend(this.u32, newBytes);
    return true;
  }
}
