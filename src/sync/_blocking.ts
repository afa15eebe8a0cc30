/**
 * Whether this thread may block in `Atomics.wait` (a browser's main thread may
 * not). Detected once and cached; tests can override it.
 *
 * @module
 */

let cached: boolean | undefined;

/**
 * Reports whether `Atomics.wait` is allowed on this thread.
 *
 * @returns `true` if the thread may block, `false` if locks must spin instead.
 */
export function canBlock(): boolean {
  if (cached === undefined) cached = detect();
  return cached;
}

/**
 * Overrides the detected value, for tests of the spinning fallback.
 *
 * @param value The value to report, or `undefined` to detect again.
 */
export function _setCanBlockForTesting(value: boolean | undefined): void {
  cached = value;
}

function detect(): boolean {
  try {
    // The value differs, so where blocking is allowed this returns "not-equal" at once;
    // where it is not (a browser's main thread) it throws a TypeError.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** In spin-only mode, how many iterations pass between two clock reads (a power of two). */
const SPIN_CLOCK_EVERY = 1024;

/**
 * Longest single sleep of a sliced wait: every wake-up re-checks the state, so a
 * lost wake-up costs latency, never a hang.
 */
export const WAIT_SLICE_MS = 50;

/**
 * The next sleep of a wait sliced until `deadline` (a `performance.now()` time).
 *
 * @returns The time left, at most `WAIT_SLICE_MS`; 0 or less once the deadline has passed.
 */
export function nextSliceMs(deadline: number): number {
  const remainingMs = deadline - performance.now();
  return remainingMs < WAIT_SLICE_MS ? remainingMs : WAIT_SLICE_MS;
}

/** How a wait ended, as `Atomics.wait` reports it. */
export type WaitResult = "ok" | "not-equal" | "timed-out";

/**
 * Sleeps until `i32[index]` is notified, no longer holds `value`, or `timeoutMs`
 * passes. Where the thread may not block, spins until the value changes instead
 * (and reports a change as `"ok"`).
 *
 * @returns How the wait ended.
 */
export function waitSync(
  i32: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): WaitResult {
  if (canBlock()) return Atomics.wait(i32, index, value, timeoutMs);
  const deadline = performance.now() + timeoutMs;
  // Bounded by the deadline: the clock is read every SPIN_CLOCK_EVERY passes.
  for (let spin = 1;; spin++) {
    if (Atomics.load(i32, index) !== value) return "ok";
    if ((spin & (SPIN_CLOCK_EVERY - 1)) === 0 && performance.now() >= deadline) {
      return "timed-out";
    }
  }
}

/** A backstop timer fires this long after an async wait's own timeout. */
const BACKSTOP_MS = 2;

/**
 * Sleeps until `i32[index]` is notified, no longer holds `value`, or `timeoutMs`
 * passes, without blocking the thread. `timeoutMs` must be finite (callers wait
 * in slices).
 *
 * A timer runs alongside the `Atomics.waitAsync` promise: some runtimes (Deno)
 * do not count a pending `waitAsync` as work that keeps the event loop alive, nor
 * wake up for its timeout, so the timer does both and resolves the wait as
 * timed out if the runtime has not by then.
 *
 * @returns How the wait ended.
 */
export function waitAsync(
  i32: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): Promise<WaitResult> {
  if (typeof Atomics.waitAsync !== "function") return pollAsync(i32, index, value, timeoutMs);
  const result = Atomics.waitAsync(i32, index, value, timeoutMs);
  if (!result.async) return Promise.resolve(result.value);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const backstop = new Promise<WaitResult>((resolve) => {
    timer = setTimeout(resolve, timeoutMs + BACKSTOP_MS, "timed-out");
  });
  return Promise.race([result.value, backstop]).finally(() => clearTimeout(timer));
}

/** `waitAsync` for engines without `Atomics.waitAsync`: polls on a 1 ms timer. */
async function pollAsync(
  i32: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): Promise<WaitResult> {
  if (Atomics.load(i32, index) !== value) return "not-equal";
  const deadline = performance.now() + timeoutMs;
  // Bounded by the deadline.
  for (;;) {
    const remainingMs = deadline - performance.now();
    if (remainingMs <= 0) return "timed-out";
    await new Promise<void>((resolve) => setTimeout(resolve, remainingMs < 1 ? remainingMs : 1));
    if (Atomics.load(i32, index) !== value) return "ok";
  }
}

/**
 * One sleep a wait loop asks its driver for: on `i32[index]` while it holds
 * `value`, for at most `sliceMs`.
 */
export interface Sleep {
  readonly i32: Int32Array;
  readonly index: number;
  readonly value: number;
  readonly sliceMs: number;
}

/**
 * A wait loop written once for its blocking and its async form: a generator that
 * yields each sleep it needs, is resumed with how that sleep ended, and returns
 * the wait's result. `runBlocking` and `runAsync` do the sleeping.
 */
export type WaitLoop<T> = Generator<Sleep, T, WaitResult>;

/**
 * Runs `loop`, sleeping in `waitSync` (blocks the thread).
 *
 * @returns What the loop returns; throws what it throws.
 */
export function runBlocking<T>(loop: WaitLoop<T>): T {
  let step = loop.next();
  // Bounded as the loop is: it ends, or throws, at its deadline.
  while (!step.done) {
    const sleep = step.value;
    try {
      step = loop.next(waitSync(sleep.i32, sleep.index, sleep.value, sleep.sliceMs));
    } catch (error) {
      // A failed sleep runs the loop's cleanup (`finally`) and rethrows; an error
      // the loop threw itself comes back at once (it has finished).
      step = loop.throw(error);
    }
  }
  return step.value;
}

/**
 * Runs `loop`, sleeping in `waitAsync` (does not block the thread).
 *
 * @returns A promise of what the loop returns; it rejects with what the loop throws.
 */
export async function runAsync<T>(loop: WaitLoop<T>): Promise<T> {
  let step = loop.next();
  // Bounded as in runBlocking.
  while (!step.done) {
    const sleep = step.value;
    try {
      step = loop.next(await waitAsync(sleep.i32, sleep.index, sleep.value, sleep.sliceMs));
    } catch (error) {
      step = loop.throw(error);
    }
  }
  return step.value;
}
