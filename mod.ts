/**
 * typedheap: a typed-object memory pool in one `SharedArrayBuffer` — a heap
 * with a general arena allocator, shared by any number of workers.
 *
 * @example Allocate and free a block
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const ptr = heap.alloc(24);
 * heap.f64[ptr >>> 3] = 3.25;
 * assert.equal(heap.f64[ptr >>> 3], 3.25);
 * heap.free(ptr);
 * heap.check();
 * ```
 *
 * @module
 */

export { Heap } from "./src/heap/heap.ts";
export { SlabClass } from "./src/heap/heap.ts";
export type {
  AttachOptions,
  HeapOptions,
  HeapStats,
  RecoverReport,
  RestoreOptions,
  SlabClassStats,
  SlabStats,
  WasmMemory,
} from "./src/heap/heap.ts";
export { RegionKind } from "./src/heap/regions.ts";
export type {
  HeapRegions,
  RegionKindValue,
  SlabAreaRegion,
  SlabPageRegion,
  SlabPageState,
} from "./src/heap/regions.ts";
export * from "./src/sync/mod.ts";
export {
  DoubleFreeError,
  HeapCorruptionError,
  HeapFormatError,
  InvalidPointerError,
  OutOfMemoryError,
  UseAfterFreeError,
  WorkerAliveError,
} from "./src/errors.ts";
