/**
 * `Mutex`: a futex-style lock whose state lives in two heap words, so every
 * worker that attached the heap can lock it.
 *
 * @module
 */

import type { LockHost } from "./_host.ts";
import {
  allocObject,
  checkedWorkerId,
  checkObject,
  checkTimeout,
  freeObject,
  MUTEX_MAGIC,
  wordsView,
} from "./_object.ts";
import { LockStateError } from "./errors.ts";
import {
  forceReleaseWord,
  lockWord,
  lockWordAsync,
  tryLockWord,
  unlockWord,
  wordOwner,
} from "./lock_word.ts";

/** Size of a mutex in the heap: a magic word and the lock word. */
const MUTEX_BYTES = 8;
/** Word offset of the lock word from the mutex pointer. */
const STATE_WORD = 1;

/**
 * A mutual-exclusion lock in the heap, shared by every worker attached to it.
 *
 * The lock word records the holder's worker id (`heap.workerId`), so unlocking
 * from another worker, unlocking while unlocked, and locking twice from the same
 * handle throw `LockStateError` instead of corrupting state or deadlocking.
 * Timeouts default to `Infinity`: pass one where a dead worker must not hang the
 * caller, and `LockTimeoutError` then names the holder.
 *
 * Uncontended, `lock()` and `unlock()` are one `Atomics.compareExchange` each.
 * Contended, `lock()` spins briefly, then sleeps in `Atomics.wait`.
 *
 * The owner is the heap handle (its worker id), not the async task: two async
 * tasks of one thread that must exclude each other need two handles
 * (`Heap.attach(heap.buffer)`), or the second `lockAsync` rejects as a double lock.
 *
 * @example Protecting a counter shared by workers
 * ```ts
 * import { Heap, Mutex } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const mutex = Mutex.create(heap);
 * const counter = heap.alloc(4) >>> 2;
 * {
 *   using _ = mutex.guard();
 *   heap.i32[counter] += 1;
 * }
 * assert.equal(heap.i32[counter], 1);
 * assert.equal(mutex.owner, 0);
 * ```
 */
export class Mutex {
  readonly #host: LockHost;
  /** A fixed-length view of just this mutex's words (see `wordsView`). */
  readonly #i32: Int32Array;
  readonly #ptr: number;
  readonly #ownerId: number;
  /** The lock word's value while this handle holds it without waiters. */
  readonly #locked: number;
  /** Index of the lock word in `#i32`; `-1` after `destroy()` so any later use throws. */
  #index: number;
  #guard: Disposable | undefined;

  private constructor(host: LockHost, ptr: number, ownerId: number) {
    this.#host = host;
    this.#i32 = wordsView(host, ptr, MUTEX_BYTES);
    this.#ptr = ptr;
    this.#ownerId = ownerId;
    this.#locked = ownerId << 1;
    this.#index = STATE_WORD;
    this.#guard = undefined;
  }

  /**
   * Allocates a new, unlocked mutex in the heap.
   *
   * @param host The heap to allocate in; its `workerId` becomes this handle's owner id.
   * @returns A handle to the new mutex.
   *
   * @example Creating a mutex and sharing its pointer
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * assert.ok(mutex.ptr > 0); // send heap.buffer and mutex.ptr to a worker
   * ```
   */
  static create(host: LockHost): Mutex {
    const ownerId = checkedWorkerId(host, "create mutex");
    return new Mutex(host, allocObject(host, MUTEX_MAGIC, MUTEX_BYTES), ownerId);
  }

  /**
   * Opens the mutex at `ptr`, typically one created by another worker.
   *
   * @param host The heap handle of the calling worker; its `workerId` becomes the owner id.
   * @param ptr The pointer returned by `mutex.ptr`.
   * @returns A handle to the mutex.
   * @throws {InvalidPointerError} If `ptr` does not point at a mutex.
   *
   * @example Opening a mutex from a second heap handle
   * ```ts
   * import { Heap, InvalidPointerError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const other = Heap.attach(heap.buffer); // as a worker would
   * const same = Mutex.at(other, mutex.ptr);
   * same.lock();
   * assert.equal(mutex.owner, other.workerId);
   * same.unlock();
   * assert.throws(() => Mutex.at(heap, heap.alloc(8)), InvalidPointerError);
   * ```
   */
  static at(host: LockHost, ptr: number): Mutex {
    const ownerId = checkedWorkerId(host, "open mutex");
    checkObject(host, ptr, MUTEX_MAGIC, "a mutex", MUTEX_BYTES);
    return new Mutex(host, ptr, ownerId);
  }

  /**
   * The mutex's pointer in the heap, to pass to `Mutex.at` in another worker.
   *
   * @returns The byte offset of the mutex.
   *
   * @example Reading the pointer
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * assert.equal(Mutex.at(heap, mutex.ptr).ptr, mutex.ptr);
   * ```
   */
  get ptr(): number {
    return this.#ptr;
  }

  /**
   * The worker id currently holding the mutex, or `0` if it is unlocked. A racy
   * snapshot: useful for diagnostics and recovery, not for deciding to lock.
   *
   * @returns The holder's worker id, or `0`.
   *
   * @example Seeing who holds the mutex
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * mutex.lock();
   * assert.equal(mutex.owner, heap.workerId);
   * mutex.unlock();
   * assert.equal(mutex.owner, 0);
   * ```
   */
  get owner(): number {
    return wordOwner(this.#i32, this.#index);
  }

  /**
   * Acquires the mutex, waiting at most `timeoutMs`.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to `Infinity`.
   * @throws {LockTimeoutError} If another worker still holds the mutex at the deadline.
   * @throws {LockStateError} If this handle's worker already holds it.
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Locking twice is an error, not a deadlock
   * ```ts
   * import { Heap, LockStateError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * mutex.lock();
   * assert.throws(() => mutex.lock(), LockStateError);
   * mutex.unlock();
   * ```
   */
  lock(timeoutMs: number = Infinity): void {
    if (!(timeoutMs >= 0)) checkTimeout("lock mutex", timeoutMs);
    if (Atomics.compareExchange(this.#i32, this.#index, 0, this.#locked) !== 0) {
      lockWord(this.#i32, this.#index, this.#ownerId, timeoutMs);
    }
  }

  /**
   * Acquires the mutex if it is free, without waiting.
   *
   * @returns `true` if the mutex is now held by this worker, `false` if another worker holds it.
   * @throws {LockStateError} If this handle's worker already holds it.
   *
   * @example Trying a held mutex
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const other = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
   * assert.equal(mutex.tryLock(), true);
   * assert.equal(other.tryLock(), false);
   * mutex.unlock();
   * ```
   */
  tryLock(): boolean {
    return tryLockWord(this.#i32, this.#index, this.#ownerId);
  }

  /**
   * Releases the mutex, which this worker must hold, and wakes one waiter.
   *
   * @throws {LockStateError} If the mutex is unlocked or held by another worker.
   *
   * @example Unlocking a mutex held by another worker
   * ```ts
   * import { Heap, LockStateError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const other = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
   * mutex.lock();
   * assert.throws(() => other.unlock(), LockStateError);
   * mutex.unlock();
   * ```
   */
  unlock(): void {
    const locked = this.#locked;
    if (Atomics.compareExchange(this.#i32, this.#index, locked, 0) !== locked) {
      unlockWord(this.#i32, this.#index, this.#ownerId);
    }
  }

  /**
   * Acquires the mutex without blocking the thread, sleeping in `Atomics.waitAsync`.
   * Use it where the thread may not block, such as a browser's main thread.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to `Infinity`.
   * @returns A promise that resolves once the mutex is held, and rejects with
   *   `LockTimeoutError` at the deadline or `LockStateError` if this worker already holds it.
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Waiting for another worker to unlock
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const other = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
   * other.lock();
   * const locked = mutex.lockAsync(1000);
   * other.unlock();
   * await locked;
   * assert.equal(mutex.owner, heap.workerId);
   * mutex.unlock();
   * ```
   */
  lockAsync(timeoutMs: number = Infinity): Promise<void> {
    checkTimeout("lock mutex", timeoutMs);
    return lockWordAsync(this.#i32, this.#index, this.#ownerId, timeoutMs);
  }

  /**
   * Locks the mutex and returns a guard that unlocks it when disposed, so a
   * `using` block cannot forget to unlock, even when it throws.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to `Infinity`.
   * @returns A guard whose `[Symbol.dispose]()` unlocks the mutex.
   * @throws {LockTimeoutError} If another worker still holds the mutex at the deadline.
   * @throws {LockStateError} If this handle's worker already holds it.
   *
   * @example Unlocking when a critical section throws
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * assert.throws(() => {
   *   using _ = mutex.guard();
   *   throw new Error("boom");
   * });
   * assert.equal(mutex.owner, 0);
   * ```
   */
  guard(timeoutMs: number = Infinity): Disposable {
    this.lock(timeoutMs);
    return this.#guard ??= { [Symbol.dispose]: () => this.unlock() };
  }

  /**
   * Locks the mutex like `lockAsync` and resolves to a guard that unlocks it when
   * disposed, for `using` in async code.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to `Infinity`.
   * @returns A promise of a guard whose `[Symbol.dispose]()` unlocks the mutex.
   *
   * @example Guarding an async critical section
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * {
   *   using _ = await mutex.guardAsync();
   *   assert.equal(mutex.owner, heap.workerId);
   * }
   * assert.equal(mutex.owner, 0);
   * ```
   */
  async guardAsync(timeoutMs: number = Infinity): Promise<Disposable> {
    await this.lockAsync(timeoutMs);
    return this.#guard ??= { [Symbol.dispose]: () => this.unlock() };
  }

  /**
   * Releases the mutex on behalf of `deadWorkerId`, a worker that terminated
   * while holding it, and wakes every waiter. Does nothing if that worker no longer
   * holds it. Whatever the dead worker protected may be half updated: check it first.
   *
   * @param deadWorkerId The worker id of the terminated holder (see `LockTimeoutError.ownerId`).
   * @returns `true` if the mutex was held by `deadWorkerId` and is now unlocked, else `false`.
   *
   * @example Recovering from a holder that died
   * ```ts
   * import { Heap, LockTimeoutError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const dead = Heap.attach(heap.buffer);
   * Mutex.at(dead, mutex.ptr).lock(); // ... and the worker is terminated
   * try {
   *   mutex.lock(10);
   * } catch (error) {
   *   assert.ok(error instanceof LockTimeoutError);
   *   assert.equal(mutex.forceRelease(error.ownerId), true);
   * }
   * mutex.lock(10);
   * mutex.unlock();
   * ```
   */
  forceRelease(deadWorkerId: number): boolean {
    return forceReleaseWord(this.#i32, this.#index, deadWorkerId);
  }

  /**
   * Frees the mutex's words. The mutex must be unlocked or held by this worker,
   * and no other worker may use it afterwards (like `free`); this handle throws
   * on any later use.
   *
   * @throws {LockStateError} If another worker holds the mutex.
   *
   * @example Destroying a mutex
   * ```ts
   * import { Heap, InvalidPointerError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const ptr = mutex.ptr;
   * mutex.destroy();
   * assert.throws(() => Mutex.at(heap, ptr), InvalidPointerError);
   * ```
   */
  destroy(): void {
    const index = this.#index;
    if (index < 0) return;
    // Take the lock (if free) so no other worker can acquire it while it is freed.
    const seen = Atomics.compareExchange(this.#i32, index, 0, this.#locked);
    if (seen !== 0 && seen >>> 1 !== this.#ownerId) {
      throw new LockStateError("destroy mutex", seen >>> 1, this.#ownerId);
    }
    Atomics.store(this.#i32, index, 0);
    this.#index = -1;
    freeObject(this.#host, this.#ptr);
  }
}
