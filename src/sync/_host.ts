/**
 * The structural interface the lock primitives need from a heap. `Heap`
 * implements it; tests may use any object of this shape.
 *
 * @module
 */

/**
 * What `Mutex`, `Condition` and `Semaphore` need from the heap they live in.
 *
 * @example A `Heap` is a lock host
 * ```ts
 * import { Heap, type LockHost, Mutex } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const host: LockHost = Heap.create();
 * const mutex = Mutex.create(host);
 * assert.equal(mutex.tryLock(), true);
 * mutex.unlock();
 * ```
 */
export interface LockHost {
  /**
   * An `Int32Array` over the heap buffer from its start (length-tracking, or
   * covering the current length). Lock objects read it when a handle is made and
   * keep fixed-length views of their own words.
   */
  readonly i32: Int32Array;
  /** Per-handle worker id, an integer in `[1, 2^29)`, unique among all handles attached to this heap. */
  readonly workerId: number;
  /**
   * How long a lock object made on this host waits when no timeout is passed, in
   * milliseconds. `Heap` reads it from its header. Absent, `0` or not a positive
   * number means the default of 10000 ms: every wait is bounded.
   */
  readonly lockTimeoutMs?: number;
  /**
   * Allocates `sizeBytes` bytes.
   *
   * @param sizeBytes The size in bytes.
   * @param alignBytes The alignment in bytes (at least 8).
   * @returns The byte offset of the block, 8-aligned.
   */
  alloc(sizeBytes: number, alignBytes?: number): number;
  /**
   * Frees a block returned by `alloc`.
   *
   * @param ptr The byte offset of the block.
   */
  free(ptr: number): void;
}
