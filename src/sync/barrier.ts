/**
 * `Barrier`: a reusable barrier in heap words, where a fixed number of workers
 * wait for each other before each phase of work.
 *
 * @module
 */

import { nextSliceMs, runAsync, runBlocking, type WaitLoop } from "./_blocking.ts";
import type { LockHost } from "./_host.ts";
import {
  allocObject,
  BARRIER_MAGIC,
  checkLive,
  checkObject,
  checkTimeout,
  deadWords,
  defaultTimeoutMs,
  freeObject,
  wordsView,
} from "./_object.ts";
import { InvalidPointerError } from "../errors.ts";
import { LockStateError, LockTimeoutError } from "./errors.ts";

/** Size of a barrier in the heap: magic, parties, state, padding. */
const BARRIER_BYTES = 16;
/** Word offset of the number of parties. */
const PARTIES_WORD = 1;
/**
 * Word offset of the state word: the phase's generation in the high 16 bits and
 * the number of parties that arrived in it in the low 16 bits. One word, so an
 * arrival, a withdrawal and the completion of a phase are each one
 * compare-and-swap that cannot mix up two phases.
 */
const STATE_WORD = 2;
const COUNT_MASK = 0xffff;
const GENERATION_SHIFT = 16;
/** Most parties a barrier can have (the arrival count has 16 bits). */
const MAX_PARTIES = 0xffff;
/**
 * A compare-and-swap on the state word fails only when another party arrived or
 * withdrew meanwhile; this many failures in a row mean the word is not a barrier's.
 */
const CAS_LIMIT = 1 << 20;

/**
 * A reusable barrier in the heap: `parties` workers call `wait()`, and each
 * returns once all of them have arrived; then the next phase begins. A
 * generation number in the state word keeps phases apart, so a fast worker that
 * is already waiting in the next phase can never be counted in (or take the
 * place of a slow worker in) the current one.
 *
 * Every wait is bounded (by the heap's `lockTimeoutMs` unless a timeout is
 * passed). A party whose wait times out **withdraws its arrival** before it throws
 * `LockTimeoutError`: the barrier stays consistent, the other parties keep
 * waiting for one more arrival, and the party may call `wait()` again to rejoin
 * the same phase. If the phase completes at the very moment the wait times out,
 * the wait counts as passed and returns normally. After `destroy()`, every use
 * through any handle throws `InvalidPointerError` and writes nothing.
 *
 * @example Two parties meeting (the second stands in for another worker)
 * ```ts
 * import { Barrier, Heap } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const barrier = Barrier.create(heap, 2);
 * const other = Barrier.at(Heap.attach(heap.buffer), barrier.ptr);
 * const first = other.waitAsync(5000); // arrives first, waits
 * assert.equal(barrier.wait(), true); // arrives last: the phase is complete
 * assert.equal(await first, false);
 * ```
 */
export class Barrier {
  readonly #host: LockHost;
  /** This barrier's words; after `destroy()`, a dead view of its own. */
  #i32: Int32Array;
  readonly #ptr: number;
  readonly #parties: number;
  /** The wait limit when a call passes none: the host's lock timeout. */
  readonly #timeoutMs: number;
  #destroyed: boolean;

  private constructor(host: LockHost, ptr: number, parties: number) {
    this.#host = host;
    this.#i32 = wordsView(host, ptr, BARRIER_BYTES);
    this.#ptr = ptr;
    this.#parties = parties;
    this.#timeoutMs = defaultTimeoutMs(host);
    this.#destroyed = false;
  }

  /**
   * Allocates a new barrier in the heap for `parties` workers.
   *
   * @param host The heap to allocate in.
   * @param parties How many workers meet at the barrier, an integer in `[1, 65535]`.
   * @returns A handle to the new barrier.
   * @throws {RangeError} If `parties` is not an integer in `[1, 65535]`.
   *
   * @example Creating a barrier for four workers
   * ```ts
   * import { Barrier, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * assert.equal(Barrier.create(heap, 4).parties, 4);
   * assert.throws(() => Barrier.create(heap, 0), RangeError);
   * ```
   */
  static create(host: LockHost, parties: number): Barrier {
    if (!Number.isInteger(parties) || parties < 1 || parties > MAX_PARTIES) {
      throw new RangeError(
        `Cannot create barrier: parties must be an integer in [1, ${MAX_PARTIES}]: ${parties}`,
      );
    }
    const ptr = allocObject(host, BARRIER_MAGIC, BARRIER_BYTES);
    // No other worker has the pointer yet, so the order of these stores does not matter.
    Atomics.store(host.i32, (ptr >>> 2) + PARTIES_WORD, parties);
    return new Barrier(host, ptr, parties);
  }

  /**
   * Opens the barrier at `ptr`, typically one created by another worker.
   *
   * @param host The heap handle of the calling worker.
   * @param ptr The pointer returned by `barrier.ptr`.
   * @returns A handle to the barrier.
   * @throws {InvalidPointerError} If `ptr` does not point at a barrier.
   *
   * @example Opening a barrier, and a pointer that is not one
   * ```ts
   * import { Barrier, Heap, InvalidPointerError } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const barrier = Barrier.create(heap, 3);
   * assert.equal(Barrier.at(Heap.attach(heap.buffer), barrier.ptr).parties, 3);
   * assert.throws(() => Barrier.at(heap, heap.alloc(16)), InvalidPointerError);
   * ```
   */
  static at(host: LockHost, ptr: number): Barrier {
    checkObject(host, ptr, BARRIER_MAGIC, "a barrier", BARRIER_BYTES);
    const parties = Atomics.load(host.i32, (ptr >>> 2) + PARTIES_WORD);
    if (parties < 1 || parties > MAX_PARTIES) {
      throw new InvalidPointerError(
        "open a barrier at",
        ptr,
        `holds an impossible party count: ${parties}`,
      );
    }
    return new Barrier(host, ptr, parties);
  }

  /**
   * The barrier's pointer in the heap, to pass to `Barrier.at` in another worker.
   *
   * @returns The byte offset of the barrier.
   *
   * @example Reading the pointer
   * ```ts
   * import { Barrier, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const barrier = Barrier.create(Heap.create(), 2);
   * assert.ok(barrier.ptr > 0);
   * ```
   */
  get ptr(): number {
    return this.#ptr;
  }

  /**
   * How many workers meet at the barrier.
   *
   * @returns The number of parties.
   * @throws {InvalidPointerError} If the barrier was destroyed.
   *
   * @example Reading the number of parties
   * ```ts
   * import { Barrier, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * assert.equal(Barrier.create(Heap.create(), 5).parties, 5);
   * ```
   */
  get parties(): number {
    this.#checkLive("read barrier");
    return this.#parties;
  }

  /**
   * Arrives at the barrier and waits until all parties have arrived in this phase.
   * Where the thread may not block (a browser's main thread) it spins; use
   * `waitAsync` there.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns `true` for the one caller that arrived last (and completed the
   *   phase), `false` for the others.
   * @throws {LockTimeoutError} If the phase did not complete in time; this
   *   caller's arrival was withdrawn, so the barrier is as if it had not called.
   * @throws {InvalidPointerError} If the barrier was destroyed (also while waiting).
   * @throws {RangeError} If `timeoutMs` is negative or NaN.
   *
   * @example A timed-out party withdraws, and may rejoin
   * ```ts
   * import { Barrier, Heap, LockTimeoutError } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const barrier = Barrier.create(heap, 2);
   * assert.throws(() => barrier.wait(5), LockTimeoutError); // nobody else came
   * const other = Barrier.at(Heap.attach(heap.buffer), barrier.ptr);
   * const first = other.waitAsync(5000);
   * assert.equal(barrier.wait(), true); // still two arrivals needed, not one
   * assert.equal(await first, false);
   * ```
   */
  wait(timeoutMs: number = this.#timeoutMs): boolean {
    return runBlocking(this.#waitLoop(timeoutMs));
  }

  /**
   * Like `wait`, but without blocking the thread: sleeps in `Atomics.waitAsync`.
   *
   * @param timeoutMs How long to wait at most, in milliseconds. Defaults to the
   *   heap's `lockTimeoutMs` (10000 when the host gives none).
   * @returns A promise of `true` for the caller that arrived last, `false` for the
   *   others; it rejects as `wait` throws (`RangeError` for a negative or NaN timeout).
   *
   * @example Two async parties of one thread
   * ```ts
   * import { Barrier, Heap } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const barrier = Barrier.create(heap, 2);
   * const results = await Promise.all([barrier.waitAsync(5000), barrier.waitAsync(5000)]);
   * assert.deepEqual(results.sort(), [false, true]);
   * ```
   */
  waitAsync(timeoutMs: number = this.#timeoutMs): Promise<boolean> {
    return runAsync(this.#waitLoop(timeoutMs));
  }

  /**
   * The wait of `wait` and `waitAsync`: arrives, then sleeps on the state word
   * until the phase completes or the deadline passes.
   */
  *#waitLoop(timeoutMs: number): WaitLoop<boolean> {
    checkTimeout("wait on barrier", timeoutMs);
    this.#checkLive("wait on barrier");
    const deadline = performance.now() + timeoutMs;
    const generation = this.#arrive(deadline, timeoutMs);
    if (generation < 0) return true;
    const i32 = this.#i32;
    // Bounded by the deadline: every pass reads the clock once.
    for (;;) {
      const seen = Atomics.load(i32, STATE_WORD);
      const sliceMs = this.#nextSlice(seen, generation, deadline, timeoutMs);
      if (sliceMs === 0) return false;
      yield { i32, index: STATE_WORD, value: seen, sliceMs };
    }
  }

  /**
   * Frees the barrier's words and wakes its waiters (they throw
   * `InvalidPointerError`). No worker may use it afterwards; any later use throws
   * `InvalidPointerError` and writes nothing: through this handle always, through
   * other handles as long as the freed words do not hold a new barrier.
   *
   * @throws {InvalidPointerError} If the barrier was already destroyed.
   *
   * @example Destroying a barrier
   * ```ts
   * import { Barrier, Heap, InvalidPointerError } from "@typedheap/typedheap";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const barrier = Barrier.create(heap, 2);
   * barrier.destroy();
   * assert.throws(() => barrier.wait(), InvalidPointerError);
   * assert.throws(() => Barrier.at(heap, barrier.ptr), InvalidPointerError);
   * ```
   */
  destroy(): void {
    this.#checkLive("destroy barrier");
    this.#destroyed = true;
    this.#i32 = deadWords(BARRIER_BYTES);
    freeObject(this.#host, this.#ptr, BARRIER_BYTES, STATE_WORD);
  }

  /**
   * Counts this caller in the current phase.
   *
   * @returns `-1` if it was the last to arrive (the phase is complete and the
   *   waiters are woken), else the generation of the phase it waits in.
   */
  #arrive(deadline: number, timeoutMs: number): number {
    const i32 = this.#i32;
    const parties = this.#parties;
    for (let attempt = 0; attempt < CAS_LIMIT; attempt++) {
      const seen = Atomics.load(i32, STATE_WORD);
      const count = seen & COUNT_MASK;
      if (count >= parties) throw this.#invalidState(seen);
      if (count + 1 === parties) {
        const next = (((seen >>> GENERATION_SHIFT) + 1) & COUNT_MASK) << GENERATION_SHIFT;
        if (Atomics.compareExchange(i32, STATE_WORD, seen, next) === seen) {
          Atomics.notify(i32, STATE_WORD);
          return -1;
        }
      } else if (Atomics.compareExchange(i32, STATE_WORD, seen, seen + 1) === seen) {
        return seen >>> GENERATION_SHIFT;
      }
      // Another party changed the word; nothing of ours is in it yet.
      this.#checkLive("wait on barrier");
      if (performance.now() >= deadline) throw new LockTimeoutError("barrier", timeoutMs, 0);
    }
    throw this.#invalidState(Atomics.load(i32, STATE_WORD));
  }

  /**
   * One pass of a wait in phase `generation`, the state word having read `seen`.
   *
   * @returns `0` if the phase completed (also at the deadline, if it completed
   *   before the arrival could be withdrawn), else how long to sleep on `seen`.
   * @throws {LockTimeoutError} At the deadline, once the arrival is withdrawn.
   * @throws {InvalidPointerError} If the barrier was destroyed.
   */
  #nextSlice(seen: number, generation: number, deadline: number, timeoutMs: number): number {
    this.#checkLive("wait on barrier");
    if (seen >>> GENERATION_SHIFT !== generation) return 0;
    const sliceMs = nextSliceMs(deadline);
    if (sliceMs <= 0) this.#withdraw(generation, timeoutMs); // returns only if the phase completed
    return sliceMs <= 0 ? 0 : sliceMs;
  }

  /**
   * Takes this caller's arrival back after its wait timed out, unless the phase
   * completed meanwhile.
   *
   * @returns `false` (the phase completed: the wait passed after all).
   * @throws {LockTimeoutError} Once the arrival is withdrawn.
   */
  #withdraw(generation: number, timeoutMs: number): false {
    const i32 = this.#i32;
    for (let attempt = 0; attempt < CAS_LIMIT; attempt++) {
      const seen = Atomics.load(i32, STATE_WORD);
      if (seen >>> GENERATION_SHIFT !== generation) return false;
      if ((seen & COUNT_MASK) === 0) throw this.#invalidState(seen);
      if (Atomics.compareExchange(i32, STATE_WORD, seen, seen - 1) === seen) {
        throw new LockTimeoutError("barrier", timeoutMs, 0);
      }
    }
    throw this.#invalidState(Atomics.load(i32, STATE_WORD));
  }

  #invalidState(seen: number): LockStateError {
    return new LockStateError(
      "wait on barrier",
      0,
      0,
      `the state word 0x${(seen >>> 0).toString(16)} is no state of a barrier of ` +
        `${this.#parties} parties (overwritten?)`,
    );
  }

  #checkLive(operation: string): void {
    checkLive(this.#i32, BARRIER_MAGIC, this.#destroyed, operation, "a barrier", this.#ptr);
  }
}
