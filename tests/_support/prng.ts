/**
 * The one seeded pseudo-random generator of the tests, benches and scripts:
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 32-bit). Fast,
 * deterministic for a seed, and good enough to generate workloads; not for
 * anything that must be unpredictable.
 *
 * Portable: plain TypeScript, no runtime APIs, so the tests that run under
 * Node against the npm build can import it.
 *
 * @module
 */

const TWO_POW_32 = 2 ** 32;

/**
 * A seeded sfc32 generator. The same seed always gives the same sequence.
 *
 * @example Draws are reproducible
 * ```ts
 * import assert from "node:assert/strict";
 * import { Sfc32 } from "./prng.ts";
 *
 * const a = new Sfc32(42);
 * const b = new Sfc32(42);
 * assert.equal(a.nextU32(), b.nextU32());
 * const k = a.range(10, 20);
 * assert.ok(Number.isInteger(k) && k >= 10 && k < 20);
 * ```
 */
export class Sfc32 {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * @param seed Any number; it is taken as an unsigned 32-bit integer (`seed >>> 0`),
   *   so seeds that agree modulo 2^32 give the same sequence.
   */
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    // The first outputs of a counting generator still show the seed; skip them.
    for (let i = 0; i < 16; i++) this.nextU32();
  }

  /** @returns The next value, an integer uniform in [0, 2^32). */
  nextU32(): number {
    const a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = ((c << 21) | (c >>> 11)) + t | 0;
    return t >>> 0;
  }

  /** @returns The next value as a float uniform in [0, 1) (32 random bits). */
  nextFloat(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /**
   * @param lo Lowest value (an integer).
   * @param hi One past the highest value (an integer above `lo`, `hi - lo ≤ 2^32`).
   * @returns An integer uniform in [lo, hi).
   * @throws {RangeError} When `lo`/`hi` are not integers or `hi - lo` is not in [1, 2^32].
   */
  range(lo: number, hi: number): number {
    const span = hi - lo;
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || span < 1 || span > TWO_POW_32) {
      throw new RangeError(
        `Cannot draw from [${lo}, ${hi}): need integers with 1 ≤ hi - lo ≤ 2^32`,
      );
    }
    return lo + Math.floor(this.nextU32() * span / TWO_POW_32);
  }

  /**
   * @param n The number of choices (an integer in [1, 2^32]).
   * @returns An integer uniform in [0, n): `range(0, n)`.
   */
  below(n: number): number {
    return this.range(0, n);
  }
}
