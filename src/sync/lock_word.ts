/**
 * Futex-style lock on a single 32-bit word of a shared `Int32Array`. `Mutex`
 * is built on these functions, and the heap calls them directly on the lock word
 * of its header.
 *
 * Word encoding: `0` means unlocked; a locked word holds `ownerId << 1 | waiters`,
 * where `ownerId` is the holder's worker id (in `[1, 2^29)`) and `waiters` is `1`
 * when some worker may be sleeping in `Atomics.wait` on the word. That is the
 * classic 3-state futex (unlocked / locked / locked with waiters) with the owner
 * recorded, so a wrong unlock, a relock by the holder, and a dead holder can all
 * be named in an error.
 *
 * Uncontended, `lockWord` is one `Atomics.compareExchange` and `unlockWord` is
 * one `Atomics.compareExchange`; `Atomics.notify` runs only when the waiters bit
 * was set. For speed pass a fixed-length view (`new Int32Array(buffer, offset,
 * length)`): V8 runs `Atomics` on a length-tracking view of a growable buffer
 * about 3-4x slower.
 *
 * @module
 */

import { canBlock, nextSliceMs, runAsync, runBlocking, type WaitLoop } from "./_blocking.ts";
import { isLocalWorker } from "./_local.ts";
import { LockStateError, LockTimeoutError } from "./errors.ts";

/** Number of compare-and-swap attempts before a contended lock goes to sleep. */
const SPIN_LIMIT = 100;
/** In spin-only mode, how many iterations pass between two clock reads (a power of two). */
const SPIN_CLOCK_EVERY = 1024;
/** A forced release retries at most this often (the waiters bit can change once). */
const FORCE_RELEASE_LIMIT = 4;
/** Locked words hold `ownerId << 1`; an owner id from here up is no lock state. */
const OWNER_LIMIT = 2 ** 29;

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Acquires the lock word at `i32[index]` for `ownerId`, waiting at most `timeoutMs`.
 *
 * Spins briefly, then sleeps in `Atomics.wait` (in slices of at most 50 ms, so a
 * lost wake-up costs latency, never a hang). Where the thread may not block, it
 * spins until the deadline instead.
 *
 * Before it sleeps it checks the holder: if that is another heap handle of this
 * same thread (on the same buffer object), the wait could never end, since that
 * handle cannot release while this thread blocks, so it throws `LockStateError`
 * naming the deadlock at once.
 *
 * @param i32 The shared `Int32Array` that holds the word.
 * @param index The index of the word in `i32`.
 * @param ownerId The caller's worker id, an integer in `[1, 2^29)`.
 * @param timeoutMs How long to wait at most, in milliseconds (`Infinity` for no limit).
 * @throws {LockTimeoutError} If the word is still locked by another worker at the deadline.
 * @throws {LockStateError} If `ownerId` already holds the word, if another heap handle
 *   of this thread holds it (a certain deadlock), or if the word holds no lock state.
 *
 * @example Locking and unlocking a word
 * ```ts
 * import { lockWord, unlockWord, wordOwner } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const i32 = new Int32Array(new SharedArrayBuffer(8));
 * lockWord(i32, 1, 7, 1000);
 * assert.equal(wordOwner(i32, 1), 7);
 * unlockWord(i32, 1, 7);
 * assert.equal(wordOwner(i32, 1), 0);
 * ```
 */
export function lockWord(i32: Int32Array, index: number, ownerId: number, timeoutMs: number): void {
  if (Atomics.compareExchange(i32, index, 0, ownerId << 1) !== 0) {
    lockWordSlow(i32, index, ownerId, timeoutMs);
  }
}

/**
 * Tries to acquire the lock word at `i32[index]` for `ownerId` without waiting.
 *
 * @param i32 The shared `Int32Array` that holds the word.
 * @param index The index of the word in `i32`.
 * @param ownerId The caller's worker id, an integer in `[1, 2^29)`.
 * @returns `true` if the word is now held by `ownerId`, `false` if another worker holds it.
 * @throws {LockStateError} If `ownerId` already holds the word.
 *
 * @example Trying a word that another worker holds
 * ```ts
 * import { tryLockWord } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const i32 = new Int32Array(new SharedArrayBuffer(4));
 * assert.equal(tryLockWord(i32, 0, 1), true);
 * assert.equal(tryLockWord(i32, 0, 2), false);
 * ```
 */
export function tryLockWord(i32: Int32Array, index: number, ownerId: number): boolean {
  const seen = Atomics.compareExchange(i32, index, 0, ownerId << 1);
  if (seen === 0) return true;
  if (seen >>> 1 === ownerId) throw new LockStateError("acquire lock", ownerId, ownerId);
  return false;
}

/**
 * Releases the lock word at `i32[index]`, which `ownerId` must hold, and wakes
 * one sleeping waiter if there is one.
 *
 * @param i32 The shared `Int32Array` that holds the word.
 * @param index The index of the word in `i32`.
 * @param ownerId The caller's worker id.
 * @throws {LockStateError} If the word is not locked, or is held by another worker.
 *
 * @example Unlocking a word one does not hold
 * ```ts
 * import { LockStateError, lockWord, unlockWord } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const i32 = new Int32Array(new SharedArrayBuffer(4));
 * lockWord(i32, 0, 1, 1000);
 * assert.throws(() => unlockWord(i32, 0, 2), LockStateError);
 * unlockWord(i32, 0, 1);
 * ```
 */
export function unlockWord(i32: Int32Array, index: number, ownerId: number): void {
  const locked = ownerId << 1;
  const seen = Atomics.compareExchange(i32, index, locked, 0);
  if (seen !== locked) unlockWordSlow(i32, index, ownerId, seen);
}

/**
 * Acquires the lock word at `i32[index]` for `ownerId` without blocking the
 * thread: sleeps with `Atomics.waitAsync`, so it suits threads that may not block
 * (a browser's main thread) and event loops that must keep running.
 *
 * @param i32 The shared `Int32Array` that holds the word.
 * @param index The index of the word in `i32`.
 * @param ownerId The caller's worker id, an integer in `[1, 2^29)`.
 * @param timeoutMs How long to wait at most, in milliseconds (`Infinity` for no limit).
 * @returns A promise that resolves once the word is held by `ownerId`, and rejects
 *   with `LockTimeoutError` at the deadline or `LockStateError` if `ownerId` already holds it.
 *   A holder that is another handle of this thread is waited for (it can release
 *   while this task awaits).
 *
 * @example Waiting asynchronously for a word
 * ```ts
 * import { lockWord, lockWordAsync, unlockWord, wordOwner } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const i32 = new Int32Array(new SharedArrayBuffer(4));
 * lockWord(i32, 0, 1, 1000);
 * const acquired = lockWordAsync(i32, 0, 2, 1000);
 * unlockWord(i32, 0, 1);
 * await acquired;
 * assert.equal(wordOwner(i32, 0), 2);
 * ```
 */
export function lockWordAsync(
  i32: Int32Array,
  index: number,
  ownerId: number,
  timeoutMs: number,
): Promise<void> {
  if (Atomics.compareExchange(i32, index, 0, ownerId << 1) === 0) return RESOLVED;
  return lockWordAsyncSlow(i32, index, ownerId, timeoutMs);
}

/**
 * Reads which worker holds the lock word at `i32[index]`.
 *
 * @param i32 The shared `Int32Array` that holds the word.
 * @param index The index of the word in `i32`.
 * @returns The holder's worker id, or `0` if the word is unlocked.
 *
 * @example Reading the owner
 * ```ts
 * import { lockWord, wordOwner } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const i32 = new Int32Array(new SharedArrayBuffer(4));
 * assert.equal(wordOwner(i32, 0), 0);
 * lockWord(i32, 0, 5, 1000);
 * assert.equal(wordOwner(i32, 0), 5);
 * ```
 */
export function wordOwner(i32: Int32Array, index: number): number {
  return Atomics.load(i32, index) >>> 1;
}

/**
 * Releases the lock word at `i32[index]` on behalf of `expectedOwner`, a worker
 * that died while holding it, and wakes every waiter. Does nothing if the word is
 * no longer held by `expectedOwner`, so a recovery that races with a late unlock
 * cannot release someone else's lock.
 *
 * Only the lock is released: whatever the dead worker was changing under it may
 * be half done, so check that state (the heap runs `check()`) before releasing.
 *
 * @param i32 The shared `Int32Array` that holds the word.
 * @param index The index of the word in `i32`.
 * @param expectedOwner The worker id of the dead holder.
 * @returns `true` if the word was held by `expectedOwner` and is now unlocked, else `false`.
 * @throws {RangeError} If `expectedOwner` is not a worker id.
 *
 * @example Releasing a lock left behind by a terminated worker
 * ```ts
 * import { forceReleaseWord, lockWord, wordOwner } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const i32 = new Int32Array(new SharedArrayBuffer(4));
 * lockWord(i32, 0, 3, 1000); // worker 3 locks, then dies
 * assert.equal(forceReleaseWord(i32, 0, 4), false);
 * assert.equal(forceReleaseWord(i32, 0, 3), true);
 * assert.equal(wordOwner(i32, 0), 0);
 * ```
 */
export function forceReleaseWord(i32: Int32Array, index: number, expectedOwner: number): boolean {
  if (!Number.isInteger(expectedOwner) || expectedOwner < 1 || expectedOwner >= 2 ** 29) {
    throw new RangeError(
      `Cannot force-release lock: expected owner must be a worker id in [1, 2^29): ${expectedOwner}`,
    );
  }
  // With the owner fixed, the word can only change by gaining the waiters bit, so
  // this settles within two attempts; the bound is for safety.
  for (let attempt = 0; attempt < FORCE_RELEASE_LIMIT; attempt++) {
    const seen = Atomics.load(i32, index);
    if (seen >>> 1 !== expectedOwner) return false;
    if (Atomics.compareExchange(i32, index, seen, 0) === seen) {
      Atomics.notify(i32, index);
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Slow paths: kept out of the exported functions so those stay small enough to inline.

function lockWordSlow(i32: Int32Array, index: number, ownerId: number, timeoutMs: number): void {
  const locked = ownerId << 1;
  let seen = 0;
  for (let spin = 0; spin < SPIN_LIMIT; spin++) {
    seen = Atomics.load(i32, index);
    if (seen === 0) {
      if (Atomics.compareExchange(i32, index, 0, locked) === 0) return;
    } else if (seen >>> 1 === ownerId) {
      throw new LockStateError("acquire lock", ownerId, ownerId);
    }
  }
  // While this thread waits synchronously no other handle of it can run, so a
  // holder that is one never releases; and none can take the word meanwhile,
  // so one check before waiting suffices.
  checkHolder(i32, seen, ownerId);
  if (canBlock()) runBlocking(lockLoop(i32, index, ownerId, timeoutMs));
  else lockWordSpinning(i32, index, ownerId, timeoutMs);
}

/**
 * Throws if a synchronous wait for a word that holds `seen` could never end:
 * the holder is another handle of this thread, or `seen` is no lock state.
 */
function checkHolder(i32: Int32Array, seen: number, ownerId: number): void {
  const holder = seen >>> 1;
  if (holder === 0) return;
  if (holder >= OWNER_LIMIT) throw invalidWord(seen, ownerId);
  if (isLocalWorker(i32.buffer, holder)) {
    throw new LockStateError(
      "acquire lock",
      holder,
      ownerId,
      `held by worker ${holder}, another heap handle of this same thread, which cannot ` +
        `release it while this thread waits; waiting would deadlock (caller is worker ${ownerId})`,
    );
  }
}

/** The error for a word whose value is no lock state (a destroyed or overwritten lock). */
function invalidWord(seen: number, ownerId: number): LockStateError {
  return new LockStateError(
    "acquire lock",
    seen >>> 1,
    ownerId,
    `the word holds 0x${(seen >>> 0).toString(16)}, which is no lock state ` +
      `(a destroyed or overwritten lock)`,
  );
}

/**
 * The sleeping wait of `lockWord` (where the thread may block) and of
 * `lockWordAsync`, after their spin: takes the word or sleeps on it until the deadline.
 */
function* lockLoop(
  i32: Int32Array,
  index: number,
  ownerId: number,
  timeoutMs: number,
): WaitLoop<void> {
  const deadline = performance.now() + timeoutMs;
  let woken = false;
  // Bounded by the deadline: every pass reads the clock once.
  for (;;) {
    const seen = takeOrAnnounce(i32, index, ownerId);
    if (seen === 0) return;
    const sliceMs = sliceOrTimeout(i32, index, seen, deadline, timeoutMs, woken);
    woken = (yield { i32, index, value: seen, sliceMs }) === "ok";
  }
}

/**
 * One pass of a sleeping lock wait (blocking or async): takes the word if it is
 * free, with the waiters bit set, since others may be asleep and our unlock must
 * wake the next one; else sets the waiters bit to announce a sleeper.
 *
 * @returns `0` once the word is taken, else the value to sleep on (never 0: it
 *   has the waiters bit).
 * @throws {LockStateError} If `ownerId` holds the word, or it holds no lock state.
 */
function takeOrAnnounce(i32: Int32Array, index: number, ownerId: number): number {
  let seen = Atomics.load(i32, index);
  if (seen === 0) {
    seen = Atomics.compareExchange(i32, index, 0, (ownerId << 1) | 1);
    if (seen === 0) return 0;
  }
  if (seen >>> 1 === ownerId) throw new LockStateError("acquire lock", ownerId, ownerId);
  if (seen >>> 1 >= OWNER_LIMIT) throw invalidWord(seen, ownerId);
  if ((seen & 1) === 0) {
    // If this fails the word changed, and the wait on `seen | 1` returns
    // "not-equal" at once.
    Atomics.compareExchange(i32, index, seen, seen | 1);
    seen |= 1;
  }
  return seen;
}

/**
 * The next sleep of a lock wait: what is left before `deadline`, at most
 * WAIT_SLICE_MS. At the deadline throws LockTimeoutError naming the holder seen,
 * after passing a wake-up this waiter consumed (`woken`) but cannot use to the
 * next sleeper.
 */
function sliceOrTimeout(
  i32: Int32Array,
  index: number,
  seen: number,
  deadline: number,
  timeoutMs: number,
  woken: boolean,
): number {
  const sliceMs = nextSliceMs(deadline);
  if (sliceMs <= 0) {
    if (woken) Atomics.notify(i32, index, 1);
    throw new LockTimeoutError("lock", timeoutMs, seen >>> 1);
  }
  return sliceMs;
}

function lockWordSpinning(
  i32: Int32Array,
  index: number,
  ownerId: number,
  timeoutMs: number,
): void {
  const locked = ownerId << 1;
  const deadline = performance.now() + timeoutMs;
  // Bounded by the deadline: the clock is read every SPIN_CLOCK_EVERY passes.
  for (let spin = 1;; spin++) {
    const seen = Atomics.load(i32, index);
    if (seen === 0) {
      if (Atomics.compareExchange(i32, index, 0, locked) === 0) return;
    } else if (seen >>> 1 === ownerId) {
      throw new LockStateError("acquire lock", ownerId, ownerId);
    } else if (seen >>> 1 >= OWNER_LIMIT) {
      throw invalidWord(seen, ownerId);
    }
    if ((spin & (SPIN_CLOCK_EVERY - 1)) === 0 && performance.now() >= deadline) {
      if (tryLockWord(i32, index, ownerId)) return;
      throw new LockTimeoutError("lock", timeoutMs, wordOwner(i32, index));
    }
  }
}

async function lockWordAsyncSlow(
  i32: Int32Array,
  index: number,
  ownerId: number,
  timeoutMs: number,
): Promise<void> {
  const locked = ownerId << 1;
  for (let spin = 0; spin < SPIN_LIMIT; spin++) {
    const seen = Atomics.load(i32, index);
    if (seen === 0) {
      if (Atomics.compareExchange(i32, index, 0, locked) === 0) return;
    } else if (seen >>> 1 === ownerId) {
      throw new LockStateError("acquire lock", ownerId, ownerId);
    }
  }
  await runAsync(lockLoop(i32, index, ownerId, timeoutMs));
}

function unlockWordSlow(i32: Int32Array, index: number, ownerId: number, seen: number): void {
  const lockedWaiters = (ownerId << 1) | 1;
  if (seen === lockedWaiters) {
    // Only a forced release can change the word under its holder, hence the swap.
    seen = Atomics.compareExchange(i32, index, lockedWaiters, 0);
    if (seen === lockedWaiters) {
      Atomics.notify(i32, index, 1);
      return;
    }
  }
  throw new LockStateError("unlock", seen >>> 1, ownerId);
}
