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
  checkLive,
  checkObject,
  checkTimeout,
  deadWords,
  defaultTimeoutMs,
  freeObject,
  MUTEX_MAGIC,
  wordsView,
} from "./_object.ts";
import { LockStateError, LockTimeoutError } from "./errors.ts";
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
/** The magic word, as a module-local copy for the hot path. */
const M_MAGIC = 0x4d555458;
if (M_MAGIC !== MUTEX_MAGIC) throw new Error("mutex.ts: M_MAGIC differs from MUTEX_MAGIC");
/**
 * A contended lock waits in `lockWord` calls of at most this long, and checks
 * the magic word between them: a mutex destroyed meanwhile (its words freed and
 * perhaps reused, so the lock word is no longer a lock word) is noticed.
 */
const CHUNK_MS = 100;

/** Whether the handle `mutex` holds it (`false` once it is destroyed); set by `Mutex`. */
let holds: (mutex: Mutex) => boolean;

/**
 * The token a `Mutex` hands out when it is locked (the shape of the TC39 shared
 * structs proposal's `UnlockToken`): it unlocks the mutex, and works with `using`.
 *
 * A handle has one token, returned by every `lock`: it stands for "this handle
 * holds the mutex", not for one particular acquisition. Unlocking through it when
 * the handle does not hold the mutex does nothing, so disposing it after the
 * mutex was unlocked by hand (or was not re-acquired after a failed
 * `Condition.wait`) never throws.
 *
 * `using` itself has a cost: compiled to a disposal stack, it added about 0.15 µs
 * per lock (`bench/sync_bench.ts`, Deno 2.9; `token.unlock()` adds 0.01 µs); in hot loops call
 * `lock()` and `unlock()` directly.
 *
 * @example Locking with `using`
 * ```ts
 * import { Heap, Mutex } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const mutex = Mutex.create(heap);
 * {
 *   using token = mutex.lock();
 *   assert.equal(token.locked, true);
 * }
 * assert.equal(mutex.owner, 0);
 * ```
 */
export interface MutexToken extends Disposable {
  /** The mutex this token unlocks. */
  readonly mutex: Mutex;
  /** Whether the handle holds the mutex now (`false` once unlocked or destroyed). */
  readonly locked: boolean;
  /**
   * Unlocks the mutex if the handle holds it.
   *
   * @returns `true` if it was held and is now unlocked, `false` if it was not held.
   */
  unlock(): boolean;
}

/**
 * A mutual-exclusion lock in the heap, shared by every worker attached to it.
 *
 * The lock word records the holder's worker id (`heap.workerId`), so unlocking
 * from another worker, unlocking while unlocked, locking twice from the same
 * handle, and waiting for another handle of the same thread (which can never
 * release while this thread blocks) throw `LockStateError` instead of corrupting
 * state or deadlocking. Every wait is bounded: the timeout defaults to the heap's
 * `lockTimeoutMs` (10000 ms when the host gives none), and `LockTimeoutError`
 * then names the holder. After `destroy()`, every use of the mutex, through any
 * handle, throws `InvalidPointerError` and writes nothing.
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
 *   using _ = mutex.lock();
 *   heap.i32[counter] += 1;
 * }
 * assert.equal(heap.i32[counter], 1);
 * assert.equal(mutex.owner, 0);
 * ```
 */
export class Mutex {
  readonly #host: LockHost;
  /**
   * A fixed-length view of just this mutex's words (see `wordsView`); after
   * `destroy()`, a dead view of its own, so this handle never writes the freed block.
   */
  #i32: Int32Array;
  readonly #ptr: number;
  readonly #ownerId: number;
  /** The lock word's value while this handle holds it without waiters. */
  readonly #locked: number;
  /** The wait limit when a call passes none: the host's lock timeout. */
  readonly #timeoutMs: number;
  readonly #token: MutexToken;
  readonly #lockedPromise: Promise<MutexToken>;
  #destroyed: boolean;

  private constructor(host: LockHost, ptr: number, ownerId: number) {
    this.#host = host;
    this.#i32 = wordsView(host, ptr, MUTEX_BYTES);
    this.#ptr = ptr;
    this.#ownerId = ownerId;
    this.#locked = ownerId << 1;
    this.#timeoutMs = defaultTimeoutMs(host);
    this.#destroyed = false;
    this.#token = new Token(this);
    this.#lockedPromise = Promise.resolve(this.#token);
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
   * @throws {InvalidPointerError} If the mutex was destroyed.
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
    this.#checkLive("read owner of mutex");
    return wordOwner(this.#i32, STATE_WORD);
  }

  /**
   * Acquires the mutex, waiting at most `timeoutMs`, and returns this handle's
   * token, which unlocks it (also through `using`).
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns The handle's token (see {@linkcode MutexToken}); ignoring it and
   *   calling `unlock()` is fine too.
   * @throws {LockTimeoutError} If another worker still holds the mutex at the deadline.
   * @throws {LockStateError} If this handle's worker already holds it, or another heap
   *   handle of this same thread does (it could never release while this thread waits).
   * @throws {InvalidPointerError} If the mutex was destroyed.
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Locking twice is an error, not a deadlock
   * ```ts
   * import { Heap, LockStateError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const token = mutex.lock();
   * assert.throws(() => mutex.lock(), LockStateError);
   * // So is waiting for another handle of this thread: it could never unlock.
   * const other = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
   * assert.throws(() => other.lock(), LockStateError);
   * token.unlock();
   * ```
   */
  lock(timeoutMs?: number): MutexToken {
    const i32 = this.#i32;
    if (
      i32[0] !== M_MAGIC || (timeoutMs !== undefined && !(timeoutMs >= 0)) ||
      Atomics.compareExchange(i32, STATE_WORD, 0, this.#locked) !== 0
    ) {
      this.#lockSlow(timeoutMs ?? this.#timeoutMs);
    }
    return this.#token;
  }

  /**
   * Acquires the mutex if it becomes free within `timeoutMs` (at once by
   * default), the TC39 shared-structs proposal's `lockIfAvailable`.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to `0`: do not wait.
   * @returns The handle's token if the mutex is now held by this handle, else `null`.
   * @throws {LockStateError} If this handle's worker already holds it, or, when
   *   `timeoutMs` is above 0, another heap handle of this same thread does.
   * @throws {InvalidPointerError} If the mutex was destroyed.
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Taking a mutex only if it is free
   * ```ts
   * import { Heap, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const other = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
   * const token = mutex.lockIfAvailable();
   * assert.ok(token !== null);
   * assert.equal(other.lockIfAvailable(), null);
   * token.unlock();
   * assert.ok(other.lockIfAvailable(10) !== null);
   * other.unlock();
   * ```
   */
  lockIfAvailable(timeoutMs: number = 0): MutexToken | null {
    if (!(timeoutMs >= 0)) checkTimeout("lock mutex", timeoutMs);
    const i32 = this.#i32;
    if (i32[0] === M_MAGIC && Atomics.compareExchange(i32, STATE_WORD, 0, this.#locked) === 0) {
      return this.#token;
    }
    this.#checkLive("lock mutex");
    if (timeoutMs === 0) return tryLockWord(i32, STATE_WORD, this.#ownerId) ? this.#token : null;
    try {
      this.#lockSlow(timeoutMs);
    } catch (error) {
      if (error instanceof LockTimeoutError) return null;
      throw error;
    }
    return this.#token;
  }

  /**
   * Acquires the mutex if it is free, without waiting.
   *
   * @returns `true` if the mutex is now held by this worker, `false` if another worker holds it.
   * @throws {LockStateError} If this handle's worker already holds it.
   * @throws {InvalidPointerError} If the mutex was destroyed.
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
    const i32 = this.#i32;
    if (i32[0] !== M_MAGIC) this.#checkLive("lock mutex");
    return tryLockWord(i32, STATE_WORD, this.#ownerId);
  }

  /**
   * Releases the mutex, which this worker must hold, and wakes one waiter.
   *
   * @throws {LockStateError} If the mutex is unlocked or held by another worker.
   * @throws {InvalidPointerError} If the mutex was destroyed.
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
    if (Atomics.compareExchange(this.#i32, STATE_WORD, locked, 0) !== locked) {
      this.#checkLive("unlock mutex");
      unlockWord(this.#i32, STATE_WORD, this.#ownerId);
    }
  }

  /**
   * Acquires the mutex without blocking the thread, sleeping in `Atomics.waitAsync`.
   * Use it where the thread may not block, such as a browser's main thread.
   *
   * The owner is the heap handle, not the async task: a holder that is another
   * handle of this thread is waited for (it may release while this task awaits).
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns A promise of the handle's token once the mutex is held; it rejects with
   *   `LockTimeoutError` at the deadline, `LockStateError` if this worker already
   *   holds it, or `InvalidPointerError` if the mutex was destroyed.
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
   * const token = await locked;
   * assert.equal(mutex.owner, heap.workerId);
   * token.unlock();
   * ```
   */
  lockAsync(timeoutMs: number = this.#timeoutMs): Promise<MutexToken> {
    checkTimeout("lock mutex", timeoutMs);
    const i32 = this.#i32;
    if (i32[0] === M_MAGIC && Atomics.compareExchange(i32, STATE_WORD, 0, this.#locked) === 0) {
      return this.#lockedPromise;
    }
    return this.#lockAsyncSlow(timeoutMs);
  }

  /**
   * Locks the mutex and returns a guard that unlocks it when disposed, so a
   * `using` block cannot forget to unlock, even when it throws. The guard is the
   * handle's token: `guard(t)` is `lock(t)`, kept for existing code.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns The handle's token, whose `[Symbol.dispose]()` unlocks the mutex.
   * @throws {LockTimeoutError} If another worker still holds the mutex at the deadline.
   * @throws {LockStateError} As `lock` does.
   * @throws {InvalidPointerError} If the mutex was destroyed.
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
  guard(timeoutMs?: number): MutexToken {
    return this.lock(timeoutMs);
  }

  /**
   * Locks the mutex like `lockAsync` and resolves to a guard that unlocks it when
   * disposed, for `using` in async code. The guard is the handle's token.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns A promise of the handle's token, whose `[Symbol.dispose]()` unlocks the mutex.
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
  guardAsync(timeoutMs: number = this.#timeoutMs): Promise<MutexToken> {
    return this.lockAsync(timeoutMs);
  }

  /**
   * Releases the mutex on behalf of `deadWorkerId`, a worker that terminated
   * while holding it, and wakes every waiter. Does nothing if that worker no longer
   * holds it. Whatever the dead worker protected may be half updated: check it first.
   *
   * @param deadWorkerId The worker id of the terminated holder (see `LockTimeoutError.ownerId`).
   * @returns `true` if the mutex was held by `deadWorkerId` and is now unlocked, else `false`.
   * @throws {InvalidPointerError} If the mutex was destroyed.
   *
   * @example Recovering from a holder that died
   * ```ts
   * import { Heap, LockStateError, LockTimeoutError, Mutex } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const mutex = Mutex.create(heap);
   * const dead = Heap.attach(heap.buffer);
   * Mutex.at(dead, mutex.ptr).lock(); // ... and the worker is terminated
   * try {
   *   mutex.lock(10);
   * } catch (error) {
   *   // A holder in another worker times out; here it is a handle of this
   *   // thread, which is reported at once. Both errors name it.
   *   assert.ok(error instanceof LockTimeoutError || error instanceof LockStateError);
   *   assert.equal(mutex.forceRelease(error.ownerId), true);
   * }
   * mutex.lock(10);
   * mutex.unlock();
   * ```
   */
  forceRelease(deadWorkerId: number): boolean {
    this.#checkLive("force-release mutex");
    return forceReleaseWord(this.#i32, STATE_WORD, deadWorkerId);
  }

  /**
   * Frees the mutex's words. The mutex must be unlocked or held by this worker,
   * and no other worker may use it afterwards (like `free`). Any later use throws
   * `InvalidPointerError` and writes nothing: through this handle always, through
   * other handles as long as the freed words do not hold a new mutex.
   *
   * @throws {LockStateError} If another worker holds the mutex.
   * @throws {InvalidPointerError} If the mutex was already destroyed.
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
   * assert.throws(() => mutex.lock(), InvalidPointerError);
   * ```
   */
  destroy(): void {
    this.#checkLive("destroy mutex");
    // Take the lock (if free) so no other worker can acquire it while it is freed.
    const seen = Atomics.compareExchange(this.#i32, STATE_WORD, 0, this.#locked);
    if (seen !== 0 && seen >>> 1 !== this.#ownerId) {
      throw new LockStateError("destroy mutex", seen >>> 1, this.#ownerId);
    }
    this.#destroyed = true;
    this.#i32 = deadWords(MUTEX_BYTES);
    freeObject(this.#host, this.#ptr, MUTEX_BYTES, STATE_WORD);
  }

  static {
    holds = (mutex: Mutex): boolean =>
      Atomics.load(mutex.#i32, STATE_WORD) >>> 1 === mutex.#ownerId;
  }

  #checkLive(operation: string): void {
    checkLive(this.#i32, M_MAGIC, this.#destroyed, operation, "a mutex", this.#ptr);
  }

  #lockSlow(timeoutMs: number): void {
    checkTimeout("lock mutex", timeoutMs);
    this.#checkLive("lock mutex");
    // The first chunk goes without reading the clock: under contention the lock
    // is usually taken in lockWord's spin, and this path stays as short as before.
    let chunkMs = timeoutMs < CHUNK_MS ? timeoutMs : CHUNK_MS;
    let deadline = -1;
    // Bounded by the deadline: every pass waits at most CHUNK_MS, or what is left.
    for (;;) {
      try {
        lockWord(this.#i32, STATE_WORD, this.#ownerId, chunkMs);
        return;
      } catch (error) {
        this.#checkLive("lock mutex"); // destroyed while waiting
        if (!(error instanceof LockTimeoutError)) throw error;
        // The first chunk ran its whole length, so about chunkMs have passed.
        if (deadline < 0) deadline = performance.now() + (timeoutMs - chunkMs);
        const remainingMs = deadline - performance.now();
        if (remainingMs <= 0) throw new LockTimeoutError("lock", timeoutMs, error.ownerId);
        chunkMs = remainingMs < CHUNK_MS ? remainingMs : CHUNK_MS;
      }
    }
  }

  async #lockAsyncSlow(timeoutMs: number): Promise<MutexToken> {
    this.#checkLive("lock mutex");
    let chunkMs = timeoutMs < CHUNK_MS ? timeoutMs : CHUNK_MS;
    let deadline = -1;
    // Bounded by the deadline, as in #lockSlow.
    for (;;) {
      try {
        await lockWordAsync(this.#i32, STATE_WORD, this.#ownerId, chunkMs);
        return this.#token;
      } catch (error) {
        this.#checkLive("lock mutex");
        if (!(error instanceof LockTimeoutError)) throw error;
        if (deadline < 0) deadline = performance.now() + (timeoutMs - chunkMs);
        const remainingMs = deadline - performance.now();
        if (remainingMs <= 0) throw new LockTimeoutError("lock", timeoutMs, error.ownerId);
        chunkMs = remainingMs < CHUNK_MS ? remainingMs : CHUNK_MS;
      }
    }
  }
}

/** The token of one `Mutex` handle. */
class Token implements MutexToken {
  readonly mutex: Mutex;

  constructor(mutex: Mutex) {
    this.mutex = mutex;
  }

  get locked(): boolean {
    return holds(this.mutex);
  }

  unlock(): boolean {
    if (!holds(this.mutex)) return false;
    this.mutex.unlock();
    return true;
  }

  [Symbol.dispose](): void {
    if (holds(this.mutex)) this.mutex.unlock();
  }
}
