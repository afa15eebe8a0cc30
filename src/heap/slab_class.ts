/**
 * `SlabClass`: a handle on one slab size class of a heap (`Heap.slab`).
 *
 * @module
 */

import { CLASS_BYTES, CLASS_COUNT } from "../alloc/slab.ts";
import type { Heap } from "./heap.ts";

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
