/**
 * `Semaphore`: a counting semaphore in heap words.
 *
 * @module
 */

import { nextSliceMs, runAsync, runBlocking, type WaitLoop } from "./_blocking.ts";
import type { LockHost } from "./_host.ts";
import {
  allocObject,
  checkLive,
  checkObject,
  checkTimeout,
  deadWords,
  defaultTimeoutMs,
  freeObject,
  SEMAPHORE_MAGIC,
  wordsView,
} from "./_object.ts";
import { LockTimeoutError } from "./errors.ts";

/** Size of a semaphore in the heap: magic, permit count, sleeper count, padding. */
const SEMAPHORE_BYTES = 16;
/** Word offset of the permit count from the semaphore pointer. */
const COUNT_WORD = 1;
/** Word offset of the number of sleeping acquirers. */
const SLEEPERS_WORD = 2;
/** Largest permit count a semaphore can hold. */
const MAX_PERMITS = 0x7fffffff;
/** Compare-and-swap attempts `tryAcquire` makes before giving up under contention. */
const TRY_LIMIT = 64;

/**
 * A counting semaphore in the heap, shared by every worker attached to it: a
 * number of permits that `acquire` takes one at a time and `release` gives back.
 * It has no owner, so any worker may release. Every wait is bounded (by the
 * heap's `lockTimeoutMs` unless a timeout is passed). After `destroy()`, every
 * use through any handle throws `InvalidPointerError` and writes nothing.
 *
 * @example Limiting concurrent use to two
 * ```ts
 * import { Heap, Semaphore } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const slots = Semaphore.create(heap, 2);
 * slots.acquire();
 * slots.acquire();
 * assert.equal(slots.tryAcquire(), false);
 * slots.release(2);
 * assert.equal(slots.value, 2);
 * ```
 */
export class Semaphore {
  readonly #host: LockHost;
  /** This semaphore's words; after `destroy()`, a dead view of its own. */
  #i32: Int32Array;
  readonly #ptr: number;
  readonly #count: number;
  readonly #sleepers: number;
  /** The wait limit when a call passes none: the host's lock timeout. */
  readonly #timeoutMs: number;
  #destroyed: boolean;

  private constructor(host: LockHost, ptr: number) {
    this.#host = host;
    this.#i32 = wordsView(host, ptr, SEMAPHORE_BYTES);
    this.#ptr = ptr;
    this.#count = COUNT_WORD;
    this.#sleepers = SLEEPERS_WORD;
    this.#timeoutMs = defaultTimeoutMs(host);
    this.#destroyed = false;
  }

  /**
   * Allocates a new semaphore in the heap holding `initial` permits.
   *
   * @param host The heap to allocate in.
   * @param initial The number of permits to start with. Defaults to `0`.
   * @returns A handle to the new semaphore.
   * @throws {RangeError} If `initial` is not an integer in `[0, 2^31)`.
   *
   * @example Creating a semaphore with one permit
   * ```ts
   * import { Heap, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * assert.equal(Semaphore.create(heap, 1).value, 1);
   * assert.throws(() => Semaphore.create(heap, -1), RangeError);
   * ```
   */
  static create(host: LockHost, initial: number = 0): Semaphore {
    if (!Number.isInteger(initial) || initial < 0 || initial > MAX_PERMITS) {
      throw new RangeError(
        `Cannot create semaphore: initial permits must be an integer in [0, 2^31): ${initial}`,
      );
    }
    const semaphore = new Semaphore(host, allocObject(host, SEMAPHORE_MAGIC, SEMAPHORE_BYTES));
    Atomics.store(semaphore.#i32, semaphore.#count, initial);
    return semaphore;
  }

  /**
   * Opens the semaphore at `ptr`, typically one created by another worker.
   *
   * @param host The heap handle of the calling worker.
   * @param ptr The pointer returned by `semaphore.ptr`.
   * @returns A handle to the semaphore.
   * @throws {InvalidPointerError} If `ptr` does not point at a semaphore.
   *
   * @example Opening a semaphore
   * ```ts
   * import { Heap, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap, 3);
   * assert.equal(Semaphore.at(Heap.attach(heap.buffer), semaphore.ptr).value, 3);
   * ```
   */
  static at(host: LockHost, ptr: number): Semaphore {
    checkObject(host, ptr, SEMAPHORE_MAGIC, "a semaphore", SEMAPHORE_BYTES);
    return new Semaphore(host, ptr);
  }

  /**
   * The semaphore's pointer in the heap, to pass to `Semaphore.at` in another worker.
   *
   * @returns The byte offset of the semaphore.
   *
   * @example Reading the pointer
   * ```ts
   * import { Heap, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap);
   * assert.equal(Semaphore.at(heap, semaphore.ptr).ptr, semaphore.ptr);
   * ```
   */
  get ptr(): number {
    return this.#ptr;
  }

  /**
   * The number of permits available now. A racy snapshot, for diagnostics.
   *
   * @returns The current permit count.
   * @throws {InvalidPointerError} If the semaphore was destroyed.
   *
   * @example Counting permits
   * ```ts
   * import { Heap, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap, 2);
   * semaphore.acquire();
   * assert.equal(semaphore.value, 1);
   * ```
   */
  get value(): number {
    this.#checkLive("read semaphore");
    return Atomics.load(this.#i32, this.#count);
  }

  /**
   * Takes one permit, waiting at most `timeoutMs` for one to be released.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @throws {LockTimeoutError} If no permit became available before the deadline.
   * @throws {InvalidPointerError} If the semaphore was destroyed (also while waiting).
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Timing out on an empty semaphore
   * ```ts
   * import { Heap, LockTimeoutError, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap, 0);
   * assert.throws(() => semaphore.acquire(5), LockTimeoutError);
   * ```
   */
  acquire(timeoutMs: number = this.#timeoutMs): void {
    checkTimeout("acquire semaphore", timeoutMs);
    if (this.tryAcquire()) return;
    runBlocking(this.#acquireLoop(timeoutMs));
  }

  /**
   * Takes one permit if one is available, without waiting. Under heavy
   * contention it may give up after a bounded number of attempts.
   *
   * @returns `true` if a permit was taken, else `false`.
   * @throws {InvalidPointerError} If the semaphore was destroyed.
   *
   * @example Taking the last permit
   * ```ts
   * import { Heap, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap, 1);
   * assert.equal(semaphore.tryAcquire(), true);
   * assert.equal(semaphore.tryAcquire(), false);
   * ```
   */
  tryAcquire(): boolean {
    this.#checkLive("acquire semaphore");
    for (let attempt = 0; attempt < TRY_LIMIT; attempt++) {
      const seen = Atomics.load(this.#i32, this.#count);
      if (seen <= 0) return false;
      if (Atomics.compareExchange(this.#i32, this.#count, seen, seen - 1) === seen) return true;
    }
    return false;
  }

  /**
   * Like `acquire`, but without blocking the thread: sleeps in `Atomics.waitAsync`.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns A promise that resolves once a permit is taken, and rejects with
   *   `LockTimeoutError` if none became available before the deadline, or
   *   `InvalidPointerError` if the semaphore was destroyed.
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example Waiting for a release
   * ```ts
   * import { Heap, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap, 0);
   * const acquired = semaphore.acquireAsync(5000);
   * semaphore.release();
   * await acquired;
   * assert.equal(semaphore.value, 0);
   * ```
   */
  async acquireAsync(timeoutMs: number = this.#timeoutMs): Promise<void> {
    checkTimeout("acquire semaphore", timeoutMs);
    if (this.tryAcquire()) return;
    await runAsync(this.#acquireLoop(timeoutMs));
  }

  /**
   * The wait of `acquire` and `acquireAsync` once `tryAcquire` failed: takes a
   * permit when one is there, else sleeps on the count until the deadline.
   */
  *#acquireLoop(timeoutMs: number): WaitLoop<void> {
    const deadline = performance.now() + timeoutMs;
    // Bounded by the deadline: every pass reads the clock once.
    for (;;) {
      this.#checkLive("acquire semaphore");
      const seen = Atomics.load(this.#i32, this.#count);
      if (seen > 0) {
        if (Atomics.compareExchange(this.#i32, this.#count, seen, seen - 1) === seen) return;
        continue;
      }
      const sliceMs = nextSliceMs(deadline);
      if (sliceMs <= 0) throw new LockTimeoutError("semaphore", timeoutMs, 0);
      // `release` adds permits before it reads the sleeper count, and this count
      // is raised before sleeping, so a release is never missed.
      Atomics.add(this.#i32, this.#sleepers, 1);
      try {
        yield { i32: this.#i32, index: this.#count, value: seen, sliceMs };
      } finally {
        Atomics.sub(this.#i32, this.#sleepers, 1);
      }
    }
  }

  /**
   * Gives back `permits` permits and wakes as many sleeping acquirers.
   *
   * @param permits How many permits to release. Defaults to `1`.
   * @throws {RangeError} If `permits` is not a positive integer, or the count would exceed `2^31 - 1`.
   * @throws {InvalidPointerError} If the semaphore was destroyed.
   *
   * @example Releasing permits
   * ```ts
   * import { Heap, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap);
   * semaphore.release(3);
   * assert.equal(semaphore.value, 3);
   * assert.throws(() => semaphore.release(0), RangeError);
   * ```
   */
  release(permits: number = 1): void {
    if (!Number.isInteger(permits) || permits < 1 || permits > MAX_PERMITS) {
      throw new RangeError(
        `Cannot release semaphore: permits must be a positive integer: ${permits}`,
      );
    }
    this.#checkLive("release semaphore");
    const before = Atomics.add(this.#i32, this.#count, permits);
    if (before + permits > MAX_PERMITS) {
      Atomics.sub(this.#i32, this.#count, permits);
      throw new RangeError(
        `Cannot release semaphore: the count would exceed 2^31 - 1: ${before} + ${permits}`,
      );
    }
    if (Atomics.load(this.#i32, this.#sleepers) > 0) {
      Atomics.notify(this.#i32, this.#count, permits);
    }
  }

  /**
   * Frees the semaphore's words and wakes its sleepers (they throw
   * `InvalidPointerError`). No worker may use it afterwards; any later use throws
   * `InvalidPointerError` and writes nothing: through this handle always, through
   * other handles as long as the freed words do not hold a new semaphore.
   *
   * @throws {InvalidPointerError} If the semaphore was already destroyed.
   *
   * @example Destroying a semaphore
   * ```ts
   * import { Heap, InvalidPointerError, Semaphore } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const semaphore = Semaphore.create(heap);
   * semaphore.destroy();
   * assert.throws(() => Semaphore.at(heap, semaphore.ptr), InvalidPointerError);
   * assert.throws(() => semaphore.release(), InvalidPointerError);
   * ```
   */
  destroy(): void {
    this.#checkLive("destroy semaphore");
    this.#destroyed = true;
    this.#i32 = deadWords(SEMAPHORE_BYTES);
    freeObject(this.#host, this.#ptr, SEMAPHORE_BYTES, COUNT_WORD);
  }

  #checkLive(operation: string): void {
    checkLive(this.#i32, SEMAPHORE_MAGIC, this.#destroyed, operation, "a semaphore", this.#ptr);
  }
}
