/**
 * Typed errors raised by the shared collections.
 *
 * @module
 */

/**
 * A collection was used after `destroy()`, or a pointer does not hold a
 * collection of the expected kind.
 *
 * @example Using a map after destroying it
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { CollectionStateError, SharedMap } from "@typedheap/typedheap/collections";
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const map = SharedMap.create(Heap.create(), { key: "u32", value: u32 });
 * map.destroy();
 * assert.throws(() => map.get(1), CollectionStateError);
 * ```
 */
export class CollectionStateError extends Error {
  /** The pointer of the collection. */
  readonly ptr: number;

  /**
   * Creates the error.
   *
   * @param operation What was attempted (`get from map`).
   * @param ptr The collection's pointer.
   * @param reason Why it failed (`it was destroyed`).
   */
  constructor(operation: string, ptr: number, reason: string) {
    super(`Cannot ${operation}: ${ptr} ${reason}`);
    this.name = "CollectionStateError";
    this.ptr = ptr;
  }
}

/**
 * A push to a closed `SharedQueue`, or a pop from one that is closed and empty.
 *
 * @example Popping from a closed, empty queue
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { QueueClosedError, SharedQueue } from "@typedheap/typedheap/collections";
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const queue = SharedQueue.create(Heap.create(), { element: u32, capacity: 4 });
 * queue.close();
 * assert.throws(() => queue.pop(1000), QueueClosedError);
 * ```
 */
export class QueueClosedError extends Error {
  /** The queue's pointer. */
  readonly ptr: number;

  /**
   * Creates the error.
   *
   * @param operation What was attempted (`push to queue`).
   * @param ptr The queue's pointer.
   */
  constructor(operation: string, ptr: number) {
    super(`Cannot ${operation}: queue ${ptr} is closed`);
    this.name = "QueueClosedError";
    this.ptr = ptr;
  }
}
