/**
 * Locks whose state lives in heap words, so every worker that attached the heap
 * can use them: `Mutex` (futex-style, owner-checked, with timeouts, an async
 * variant and `using` tokens), `Condition`, `Semaphore`, `Barrier`, and the word-level
 * functions they are built on (`lockWord` and friends) for locks embedded in
 * your own records.
 *
 * @example Sharing a mutex with a second heap handle
 * ```ts
 * import { Heap, Mutex } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const mutex = Mutex.create(heap);
 * // In a worker: Heap.attach(buffer) with the buffer and pointer received by postMessage.
 * const other = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
 * {
 *   using _ = other.guard(1000);
 *   assert.equal(mutex.tryLock(), false);
 * }
 * assert.equal(mutex.tryLock(), true);
 * mutex.unlock();
 * ```
 *
 * @module
 */

export type { LockHost } from "./_host.ts";
export { Barrier } from "./barrier.ts";
export { Condition } from "./condition.ts";
export { LockStateError, LockTimeoutError } from "./errors.ts";
export {
  forceReleaseWord,
  lockWord,
  lockWordAsync,
  tryLockWord,
  unlockWord,
  wordOwner,
} from "./lock_word.ts";
export { Mutex, type MutexToken } from "./mutex.ts";
export { Semaphore } from "./semaphore.ts";
