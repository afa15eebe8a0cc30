/**
 * Shared collections: a hash map, a growable vector and a bounded MPMC queue
 * whose whole state lives in a typedheap heap, so every worker that attached
 * the heap uses them at once. Share one by its `ptr`, like a `Mutex`.
 *
 * @example A queue feeding a map
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedMap, SharedQueue, SharedVec } from "@typedheap/typedheap/collections";
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const queue = SharedQueue.create(heap, { element: u32, capacity: 64 });
 * const counts = SharedMap.create(heap, { key: "u32", value: u32 });
 * const seen = SharedVec.create(heap, { element: u32 });
 * for (const x of [1, 2, 1]) queue.push(x, 1000);
 * queue.close();
 * for (let x = queue.tryPop(); x !== undefined; x = queue.tryPop()) {
 *   counts.update(x, (n) => (n ?? 0) + 1);
 *   seen.push(x);
 * }
 * assert.equal(counts.get(1), 2);
 * assert.equal(seen.length, 3);
 * ```
 *
 * @module
 */

export { CollectionStateError, QueueClosedError } from "./errors.ts";
export { SharedMap } from "./map.ts";
export type { SharedMapCursor, SharedMapOptions } from "./map.ts";
export { SharedQueue } from "./queue.ts";
export type { SharedQueueOptions } from "./queue.ts";
export type {
  CollectionHeap,
  ElementInit,
  ElementType,
  ElementValue,
  MapKey,
  MapKeyKind,
} from "./types.ts";
export { SharedVec } from "./vec.ts";
export type { SharedVecCursor, SharedVecOptions } from "./vec.ts";
