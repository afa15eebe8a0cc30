/**
 * `Condition`: a condition variable in heap words, used with a `Mutex` to wait
 * until shared state changes.
 *
 * @module
 */

import { waitAsync, waitSync } from "./_blocking.ts";
import type { LockHost } from "./_host.ts";
import {
  allocObject,
  checkObject,
  checkTimeout,
  CONDITION_MAGIC,
  freeObject,
  wordsView,
} from "./_object.ts";
import type { Mutex } from "./mutex.ts";

/** Size of a condition in the heap: a magic word and the sequence word. */
const CONDITION_BYTES = 8;
/** Word offset of the sequence word from the condition pointer. */
const SEQUENCE_WORD = 1;
/** Longest single async sleep. */
const WAIT_SLICE_MS = 50;

/**
 * A condition variable in the heap, shared by every worker attached to it.
 *
 * Design: one sequence word. `wait` reads it, unlocks the mutex and sleeps while
 * it is unchanged; `notifyOne`/`notifyAll` increment it and wake sleepers. A
 * notification between the unlock and the sleep changes the word, so it is never
 * lost. As with every condition variable, wake-ups may be spurious: wait in a
 * loop that re-checks the predicate.
 *
 * @example Waiting for a flag set by another worker
 * ```ts
 * import { Condition, Heap, Mutex } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const mutex = Mutex.create(heap);
 * const ready = Condition.create(heap);
 * const flag = heap.alloc(4) >>> 2;
 * setTimeout(() => { // stands in for another worker
 *   heap.i32[flag] = 1;
 *   ready.notifyAll();
 * }, 10);
 * await mutex.lockAsync();
 * while (heap.i32[flag] === 0) await ready.waitAsync(mutex, 1000);
 * mutex.unlock();
 * assert.equal(heap.i32[flag], 1);
 * ```
 */
export class Condition {
  readonly #host: LockHost;
  readonly #i32: Int32Array;
  readonly #ptr: number;
  readonly #index: number;

  private constructor(host: LockHost, ptr: number) {
    this.#host = host;
    this.#i32 = wordsView(host, ptr, CONDITION_BYTES);
    this.#ptr = ptr;
    this.#index = SEQUENCE_WORD;
  }

  /**
   * Allocates a new condition in the heap.
   *
   * @param host The heap to allocate in.
   * @returns A handle to the new condition.
   *
   * @example Creating a condition
   * ```ts
   * import { Condition, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const condition = Condition.create(heap);
   * assert.ok(condition.ptr > 0);
   * ```
   */
  static create(host: LockHost): Condition {
    return new Condition(host, allocObject(host, CONDITION_MAGIC, CONDITION_BYTES));
  }

  /**
   * Opens the condition at `ptr`, typically one created by another worker.
   *
   * @param host The heap handle of the calling worker.
   * @param ptr The pointer returned by `condition.ptr`.
   * @returns A handle to the condition.
   * @throws {InvalidPointerError} If `ptr` does not point at a condition.
   *
   * @example Opening a condition, and a pointer that is not one
   * ```ts
   * import { Condition, Heap, InvalidPointerError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const condition = Condition.create(heap);
   * assert.equal(Condition.at(heap, condition.ptr).ptr, condition.ptr);
   * assert.throws(() => Condition.at(heap, Mutex.create(heap).ptr), InvalidPointerError);
   * ```
   */
  static at(host: LockHost, ptr: number): Condition {
    checkObject(host, ptr, CONDITION_MAGIC, "a condition", CONDITION_BYTES);
    return new Condition(host, ptr);
  }

  /**
   * The condition's pointer in the heap, to pass to `Condition.at` in another worker.
   *
   * @returns The byte offset of the condition.
   *
   * @example Reading the pointer
   * ```ts
   * import { Condition, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const condition = Condition.create(heap);
   * assert.equal(typeof condition.ptr, "number");
   * ```
   */
  get ptr(): number {
    return this.#ptr;
  }

  /**
   * Unlocks `mutex`, sleeps until notified or until `timeoutMs` passes, then
   * locks `mutex` again (waiting without a limit, as `mutex.lock()` does).
   * The caller must hold `mutex`. Wake-ups may be spurious: loop on the predicate.
   *
   * @param mutex The mutex that protects the shared state; held by the caller.
   * @param timeoutMs How long to sleep at most, in milliseconds. Defaults to `Infinity`.
   * @returns `true` if woken by a notification, `false` if the timeout passed.
   * @throws {LockStateError} If the caller does not hold `mutex` (nothing changes then).
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Timing out when nobody notifies
   * ```ts
   * import { Condition, Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const condition = Condition.create(heap);
   * mutex.lock();
   * assert.equal(condition.wait(mutex, 5), false);
   * assert.equal(mutex.owner, heap.workerId); // locked again
   * mutex.unlock();
   * ```
   */
  wait(mutex: Mutex, timeoutMs: number = Infinity): boolean {
    checkTimeout("wait on condition", timeoutMs);
    const sequence = Atomics.load(this.#i32, this.#index);
    mutex.unlock();
    const result = waitSync(this.#i32, this.#index, sequence, timeoutMs);
    mutex.lock();
    return result !== "timed-out";
  }

  /**
   * Like `wait`, but without blocking the thread: sleeps in `Atomics.waitAsync`
   * and locks `mutex` again with `lockAsync`.
   *
   * @param mutex The mutex that protects the shared state; held by the caller.
   * @param timeoutMs How long to sleep at most, in milliseconds. Defaults to `Infinity`.
   * @returns A promise of `true` if woken by a notification, `false` if the timeout passed.
   * @throws {LockStateError} If the caller does not hold `mutex` (nothing changes then).
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Waiting asynchronously for a notification
   * ```ts
   * import { Condition, Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const condition = Condition.create(heap);
   * await mutex.lockAsync();
   * setTimeout(() => condition.notifyOne(), 5);
   * assert.equal(await condition.waitAsync(mutex, 5000), true);
   * mutex.unlock();
   * ```
   */
  async waitAsync(mutex: Mutex, timeoutMs: number = Infinity): Promise<boolean> {
    checkTimeout("wait on condition", timeoutMs);
    const i32 = this.#i32;
    const index = this.#index;
    const sequence = Atomics.load(i32, index);
    mutex.unlock();
    const deadline = performance.now() + timeoutMs;
    let notified = false;
    // Sliced, as async waits must be (see waitAsync); bounded by the deadline.
    for (;;) {
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0) break;
      const sliceMs = remainingMs < WAIT_SLICE_MS ? remainingMs : WAIT_SLICE_MS;
      const result = await waitAsync(i32, index, sequence, sliceMs);
      if (result !== "timed-out" || Atomics.load(i32, index) !== sequence) {
        notified = true;
        break;
      }
    }
    await mutex.lockAsync();
    return notified;
  }

  /**
   * Wakes one worker sleeping in `wait` or `waitAsync`, if there is one. The caller
   * need not hold the mutex, but should have changed the shared state under it.
   *
   * @returns The number of sleepers woken (0 or 1).
   *
   * @example Notifying with nobody waiting
   * ```ts
   * import { Condition, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * assert.equal(Condition.create(heap).notifyOne(), 0);
   * ```
   */
  notifyOne(): number {
    Atomics.add(this.#i32, this.#index, 1);
    return Atomics.notify(this.#i32, this.#index, 1);
  }

  /**
   * Wakes every worker sleeping in `wait` or `waitAsync`.
   *
   * @returns The number of sleepers woken.
   *
   * @example Waking an async waiter
   * ```ts
   * import { Condition, Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const condition = Condition.create(heap);
   * await mutex.lockAsync();
   * const woken = condition.waitAsync(mutex, 5000);
   * assert.equal(condition.notifyAll(), 1);
   * assert.equal(await woken, true);
   * mutex.unlock();
   * ```
   */
  notifyAll(): number {
    Atomics.add(this.#i32, this.#index, 1);
    return Atomics.notify(this.#i32, this.#index);
  }

  /**
   * Frees the condition's words. No worker may wait on it or use it afterwards.
   *
   * @example Destroying a condition
   * ```ts
   * import { Condition, Heap, InvalidPointerError } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const condition = Condition.create(heap);
   * condition.destroy();
   * assert.throws(() => Condition.at(heap, condition.ptr), InvalidPointerError);
   * ```
   */
  destroy(): void {
    freeObject(this.#host, this.#ptr);
  }
}
