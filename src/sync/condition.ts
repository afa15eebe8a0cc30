/**
 * `Condition`: a condition variable in heap words, used with a `Mutex` to wait
 * until shared state changes.
 *
 * @module
 */

import { nextSliceMs, waitAsync, waitSync } from "./_blocking.ts";
import type { LockHost } from "./_host.ts";
import {
  allocObject,
  checkLive,
  checkObject,
  checkTimeout,
  CONDITION_MAGIC,
  deadWords,
  defaultTimeoutMs,
  freeObject,
  wordsView,
} from "./_object.ts";
import { LockTimeoutError } from "./errors.ts";
import type { Mutex } from "./mutex.ts";

/** Size of a condition in the heap: a magic word and the sequence word. */
const CONDITION_BYTES = 8;
/** Word offset of the sequence word from the condition pointer. */
const SEQUENCE_WORD = 1;

/**
 * A condition variable in the heap, shared by every worker attached to it.
 *
 * Design: one sequence word. `wait` reads it, unlocks the mutex and sleeps while
 * it is unchanged; `notifyOne`/`notifyAll` increment it and wake sleepers. A
 * notification between the unlock and the sleep changes the word, so it is never
 * lost. As with every condition variable, wake-ups may be spurious: wait in a
 * loop that re-checks the predicate, or let `waitFor` do it.
 *
 * Every wait is bounded: the sleep by its timeout (the heap's `lockTimeoutMs` by
 * default), and the re-lock of the mutex afterwards by the mutex's own default
 * timeout. After `destroy()`, every use through any handle throws
 * `InvalidPointerError` and writes nothing.
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
  /** This condition's words; after `destroy()`, a dead view of its own. */
  #i32: Int32Array;
  readonly #ptr: number;
  readonly #index: number;
  /** The sleep limit when a call passes none: the host's lock timeout. */
  readonly #timeoutMs: number;
  #destroyed: boolean;

  private constructor(host: LockHost, ptr: number) {
    this.#host = host;
    this.#i32 = wordsView(host, ptr, CONDITION_BYTES);
    this.#ptr = ptr;
    this.#index = SEQUENCE_WORD;
    this.#timeoutMs = defaultTimeoutMs(host);
    this.#destroyed = false;
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
   * locks `mutex` again (waiting at most the mutex's default timeout, the heap's
   * `lockTimeoutMs`). The caller must hold `mutex`. Wake-ups may be spurious:
   * loop on the predicate, or use `waitFor`.
   *
   * If the mutex cannot be locked again in time, `wait` throws and the caller
   * does **not** hold the mutex: it must not touch the shared state nor unlock
   * (a `using` token of the mutex does nothing on dispose then).
   *
   * @param mutex The mutex that protects the shared state; held by the caller.
   * @param timeoutMs How long to sleep at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns `true` if woken by a notification, `false` if the timeout passed.
   * @throws {LockStateError} If the caller does not hold `mutex` (nothing changes
   *   then), or, from the re-lock, if another handle of this thread took it.
   * @throws {LockTimeoutError} If the mutex could not be locked again in time
   *   ("Cannot acquire mutex again after waiting on condition (the caller no
   *   longer holds it): ..."); the caller does not hold the mutex.
   * @throws {InvalidPointerError} If the condition was destroyed.
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
  wait(mutex: Mutex, timeoutMs: number = this.#timeoutMs): boolean {
    checkTimeout("wait on condition", timeoutMs);
    this.#checkLive("wait on condition");
    const i32 = this.#i32;
    const sequence = Atomics.load(i32, this.#index);
    mutex.unlock();
    const result = waitSync(i32, this.#index, sequence, timeoutMs);
    relock(mutex);
    return result !== "timed-out";
  }

  /**
   * Like `wait`, but without blocking the thread: sleeps in `Atomics.waitAsync`
   * and locks `mutex` again with `lockAsync` (bounded the same way).
   *
   * @param mutex The mutex that protects the shared state; held by the caller.
   * @param timeoutMs How long to sleep at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns A promise of `true` if woken by a notification, `false` if the timeout
   *   passed; it rejects as `wait` throws.
   * @throws {LockStateError} If the caller does not hold `mutex` (nothing changes then).
   * @throws {InvalidPointerError} If the condition was destroyed.
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
  async waitAsync(mutex: Mutex, timeoutMs: number = this.#timeoutMs): Promise<boolean> {
    checkTimeout("wait on condition", timeoutMs);
    this.#checkLive("wait on condition");
    const i32 = this.#i32;
    const index = this.#index;
    const sequence = Atomics.load(i32, index);
    mutex.unlock();
    const deadline = performance.now() + timeoutMs;
    let notified = false;
    // Sliced, as async waits must be (see waitAsync); bounded by the deadline.
    for (;;) {
      const sliceMs = nextSliceMs(deadline);
      if (sliceMs <= 0) break;
      const result = await waitAsync(i32, index, sequence, sliceMs);
      if (result !== "timed-out" || Atomics.load(i32, index) !== sequence) {
        notified = true;
        break;
      }
    }
    await relockAsync(mutex);
    return notified;
  }

  /**
   * Waits until `predicate` holds, at most `timeoutMs` in all: checks it with the
   * mutex held, and while it is false waits (as `wait`) and checks again. The
   * TC39 shared-structs proposal's `Condition.waitFor`.
   *
   * @param mutex The mutex that protects the shared state; held by the caller,
   *   and held again when this returns.
   * @param timeoutMs How long to wait at most in all, in milliseconds.
   * @param predicate Reads the shared state (with the mutex held); `true` ends the wait.
   * @returns The predicate's last value: `true` if it held before the deadline, else `false`.
   * @throws {TypeError} If `predicate` is not a function.
   * @throws {LockStateError} If the caller does not hold `mutex` when it has to wait.
   * @throws {LockTimeoutError} If the mutex could not be locked again (see `wait`).
   * @throws {InvalidPointerError} If the condition was destroyed.
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Waiting for a counter to reach a value
   * ```ts
   * import { Condition, Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const changed = Condition.create(heap);
   * const counter = heap.alloc(4) >>> 2;
   * heap.i32[counter] = 0;
   * using _ = mutex.lock();
   * assert.equal(changed.waitFor(mutex, 5, () => heap.i32[counter] === 3), false);
   * heap.i32[counter] = 3; // as another worker would, under the mutex
   * assert.equal(changed.waitFor(mutex, 1000, () => heap.i32[counter] === 3), true);
   * ```
   */
  waitFor(mutex: Mutex, timeoutMs: number, predicate: () => boolean): boolean {
    const loop = this.#waitForLoop(timeoutMs, predicate);
    // Bounded as the loop is, by the deadline.
    for (let step = loop.next();; step = loop.next()) {
      if (step.done) return step.value;
      this.wait(mutex, step.value);
    }
  }

  /**
   * Like `waitFor`, but without blocking the thread (waits as `waitAsync`).
   *
   * @param mutex The mutex that protects the shared state; held by the caller.
   * @param timeoutMs How long to wait at most in all, in milliseconds.
   * @param predicate Reads the shared state (with the mutex held); `true` ends the wait.
   * @returns A promise of the predicate's last value.
   * @throws {TypeError} If `predicate` is not a function.
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Waiting asynchronously for a flag
   * ```ts
   * import { Condition, Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const changed = Condition.create(heap);
   * const flag = heap.alloc(4) >>> 2;
   * heap.i32[flag] = 0;
   * setTimeout(() => { // stands in for another worker
   *   heap.i32[flag] = 1;
   *   changed.notifyAll();
   * }, 5);
   * await mutex.lockAsync();
   * assert.equal(await changed.waitForAsync(mutex, 5000, () => heap.i32[flag] === 1), true);
   * mutex.unlock();
   * ```
   */
  async waitForAsync(mutex: Mutex, timeoutMs: number, predicate: () => boolean): Promise<boolean> {
    const loop = this.#waitForLoop(timeoutMs, predicate);
    // Bounded as in waitFor.
    for (let step = loop.next();; step = loop.next()) {
      if (step.done) return step.value;
      await this.waitAsync(mutex, step.value);
    }
  }

  /**
   * The loop of `waitFor` and `waitForAsync`: yields how long the next wait may
   * take until the predicate holds (returns `true`) or the deadline passes
   * (returns `false`).
   */
  *#waitForLoop(timeoutMs: number, predicate: () => boolean): Generator<number, boolean, void> {
    checkTimeout("wait on condition", timeoutMs);
    checkPredicate(predicate);
    this.#checkLive("wait on condition");
    const deadline = performance.now() + timeoutMs;
    // Bounded by the deadline: every pass reads the clock and waits at most until it.
    for (;;) {
      if (predicate()) return true;
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0) return false;
      yield remainingMs;
    }
  }

  /**
   * Wakes one worker sleeping in `wait` or `waitAsync`, if there is one. The caller
   * need not hold the mutex, but should have changed the shared state under it.
   *
   * @returns The number of sleepers woken (0 or 1).
   * @throws {InvalidPointerError} If the condition was destroyed.
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
    return this.notify(1);
  }

  /**
   * Wakes every worker sleeping in `wait` or `waitAsync`.
   *
   * @returns The number of sleepers woken.
   * @throws {InvalidPointerError} If the condition was destroyed.
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
    return this.notify(Infinity);
  }

  /**
   * Wakes up to `count` workers sleeping in `wait` or `waitAsync` (the TC39
   * shared-structs proposal's `Condition.notify`).
   *
   * @param count How many sleepers to wake at most. Defaults to `Infinity` (all).
   * @returns The number of sleepers woken.
   * @throws {RangeError} If `count` is negative or NaN.
   * @throws {InvalidPointerError} If the condition was destroyed.
   *
   * @example Waking at most two sleepers
   * ```ts
   * import { Condition, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * assert.equal(Condition.create(heap).notify(2), 0);
   * ```
   */
  notify(count: number = Infinity): number {
    if (!(count >= 0)) {
      throw new RangeError(
        `Cannot notify condition: count must be a non-negative number: ${count}`,
      );
    }
    this.#checkLive("notify condition");
    Atomics.add(this.#i32, this.#index, 1);
    return Atomics.notify(this.#i32, this.#index, count);
  }

  /**
   * Frees the condition's words and wakes its sleepers. No worker may wait on it
   * or use it afterwards; any later use throws `InvalidPointerError` and writes
   * nothing: through this handle always, through other handles as long as the
   * freed words do not hold a new condition.
   *
   * @throws {InvalidPointerError} If the condition was already destroyed.
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
   * assert.throws(() => condition.notifyAll(), InvalidPointerError);
   * ```
   */
  destroy(): void {
    this.#checkLive("destroy condition");
    this.#destroyed = true;
    this.#i32 = deadWords(CONDITION_BYTES);
    freeObject(this.#host, this.#ptr, CONDITION_BYTES, SEQUENCE_WORD);
  }

  #checkLive(operation: string): void {
    checkLive(this.#i32, CONDITION_MAGIC, this.#destroyed, operation, "a condition", this.#ptr);
  }
}

function checkPredicate(predicate: unknown): void {
  if (typeof predicate !== "function") {
    throw new TypeError(
      `Cannot wait on condition: predicate must be a function: ${typeof predicate}`,
    );
  }
}

/** The message of a failed re-lock: the caller must know it no longer holds the mutex. */
const RELOCK = "mutex again after waiting on condition (the caller no longer holds it)";

/** Locks `mutex` again after a wait, bounded by its default timeout. */
function relock(mutex: Mutex): void {
  try {
    mutex.lock();
  } catch (error) {
    if (error instanceof LockTimeoutError) {
      throw new LockTimeoutError(RELOCK, error.timeoutMs, error.ownerId);
    }
    throw error;
  }
}

/** `relock` without blocking the thread. */
async function relockAsync(mutex: Mutex): Promise<void> {
  try {
    await mutex.lockAsync();
  } catch (error) {
    if (error instanceof LockTimeoutError) {
      throw new LockTimeoutError(RELOCK, error.timeoutMs, error.ownerId);
    }
    throw error;
  }
}
