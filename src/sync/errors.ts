/**
 * Errors raised by the lock primitives of `src/sync`. Each carries the ids and
 * limits involved so a caller can react without parsing the message.
 *
 * @module
 */

/**
 * A lock, semaphore or condition could not be acquired within its timeout.
 *
 * `ownerId` names the worker that held the lock when the wait gave up (`0` when
 * there is no single owner, as for a semaphore). A worker that died while holding
 * a lock shows up here; see `forceReleaseWord` for recovery.
 *
 * @example Timing out on a mutex held by another worker
 * ```ts
 * import { Heap, type LockHost, LockTimeoutError, Mutex } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const mutex = Mutex.create(heap);
 * // Stands in for the heap handle of another worker (a second handle of this
 * // thread would be reported at once as a deadlock instead).
 * const other: LockHost = {
 *   i32: heap.i32,
 *   workerId: 1000,
 *   alloc: (sizeBytes) => heap.alloc(sizeBytes),
 *   free: (ptr) => heap.free(ptr),
 * };
 * Mutex.at(other, mutex.ptr).lock();
 * assert.throws(
 *   () => mutex.lock(10),
 *   (error) => error instanceof LockTimeoutError && error.ownerId === other.workerId,
 * );
 * ```
 */
export class LockTimeoutError extends Error {
  /** The worker id that held the lock when the wait gave up, or `0` if none was recorded. */
  readonly ownerId: number;
  /** The timeout that expired, in milliseconds. */
  readonly timeoutMs: number;

  /**
   * Creates a lock-timeout error.
   *
   * @param what What could not be acquired, such as `"lock"` or `"semaphore"`.
   * @param timeoutMs The timeout that expired, in milliseconds.
   * @param ownerId The worker id holding the lock, or `0` if there is none to name.
   */
  constructor(what: string, timeoutMs: number, ownerId: number) {
    super(
      `Cannot acquire ${what}: timed out after ${timeoutMs} ms` +
        (ownerId === 0 ? "" : `; held by worker ${ownerId}`),
    );
    this.name = "LockTimeoutError";
    this.ownerId = ownerId;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A lock was used in a way its current state does not allow: unlocked by a worker
 * that does not hold it, unlocked while free, locked again by its holder, or
 * waited for while another heap handle of the same thread holds it (which would
 * otherwise deadlock silently: that handle cannot release while this thread
 * blocks). A lock word that holds no valid state (a destroyed or overwritten
 * lock) is reported here too.
 *
 * @example Unlocking a mutex that is not locked
 * ```ts
 * import { Heap, LockStateError, Mutex } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const mutex = Mutex.create(heap);
 * assert.throws(() => mutex.unlock(), LockStateError);
 * ```
 */
export class LockStateError extends Error {
  /** The worker id that holds the lock, or `0` if it is not locked. */
  readonly ownerId: number;
  /** The worker id that attempted the operation. */
  readonly callerId: number;

  /**
   * Creates a lock-state error.
   *
   * @param operation What was attempted, such as `"unlock"`.
   * @param ownerId The worker id that holds the lock, or `0` if it is not locked.
   * @param callerId The worker id that attempted the operation.
   * @param detail What is wrong, replacing the description derived from the ids.
   */
  constructor(operation: string, ownerId: number, callerId: number, detail?: string) {
    super(`Cannot ${operation}: ${detail ?? describeState(operation, ownerId, callerId)}`);
    this.name = "LockStateError";
    this.ownerId = ownerId;
    this.callerId = callerId;
  }
}

function describeState(operation: string, ownerId: number, callerId: number): string {
  if (ownerId === 0) return `not locked (caller is worker ${callerId})`;
  if (ownerId === callerId) {
    return operation.startsWith("unlock") || operation.startsWith("destroy")
      ? `locked by the caller, worker ${callerId}`
      : `already held by the caller, worker ${callerId}; locking again would deadlock`;
  }
  return `held by worker ${ownerId}, not by the caller, worker ${callerId}`;
}
