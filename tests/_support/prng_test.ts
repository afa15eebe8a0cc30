// The shared PRNG: reproducible, in range, and spread evenly enough for workloads.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Sfc32 } from "./prng.ts";

describe("Sfc32", () => {
  it("gives the published sfc32 sequence for a seed (state a, b, c = the fixed constants, d = seed)", () => {
    // Computed independently of prng.ts: the sfc32 recurrence written out with
    // BigInt arithmetic modulo 2^32, after the 16 discarded warm-up draws.
    const M = 0xffffffffn;
    let a = 0x9e3779b9n, b = 0x243f6a88n, c = 0xb7e15162n, d = 12345n;
    const step = (): number => {
      const t = (a + b + d) & M;
      d = (d + 1n) & M;
      a = b ^ (b >> 9n);
      b = (c + (c << 3n)) & M;
      c = (((c << 21n) | (c >> 11n)) + t) & M;
      return Number(t);
    };
    for (let i = 0; i < 16; i++) step();
    const expected = Array.from({ length: 1000 }, step);
    const rng = new Sfc32(12345);
    assert.deepEqual(Array.from({ length: 1000 }, () => rng.nextU32()), expected);
  });

  it("repeats a sequence for the same seed and differs for another", () => {
    const draw = (seed: number): number[] => {
      const rng = new Sfc32(seed);
      return Array.from({ length: 64 }, () => rng.nextU32());
    };
    assert.deepEqual(draw(7), draw(7));
    assert.deepEqual(draw(-1), draw(0xffffffff), "seeds are taken modulo 2^32");
    assert.notDeepEqual(draw(7), draw(8));
  });

  it("nextU32 stays in [0, 2^32) and nextFloat in [0, 1)", () => {
    const rng = new Sfc32(1);
    for (let i = 0; i < 10_000; i++) {
      const u = rng.nextU32();
      assert.ok(Number.isInteger(u) && u >= 0 && u < 2 ** 32, `u32 ${u}`);
      const f = rng.nextFloat();
      assert.ok(f >= 0 && f < 1, `float ${f}`);
    }
  });

  it("range and below hit every value of a small range, roughly evenly, and nothing outside", () => {
    const rng = new Sfc32(99);
    const counts = new Array(10).fill(0);
    const draws = 100_000;
    for (let i = 0; i < draws; i++) counts[rng.range(-3, 7) + 3]++;
    for (const [k, n] of counts.entries()) {
      // Expected 10,000 each; 5 standard deviations is about ±475.
      assert.ok(Math.abs(n - draws / 10) < 500, `value ${k - 3} drawn ${n} times`);
    }
    for (let i = 0; i < 1000; i++) assert.equal(rng.below(1), 0);
    let top = 0;
    for (let i = 0; i < 1000; i++) top = Math.max(top, rng.range(0, 2 ** 32));
    assert.ok(top >= 2 ** 31 && top < 2 ** 32, "the full u32 span is reachable");
  });

  it("rejects an empty, inverted, fractional or too wide range and draws nothing", () => {
    const rng = new Sfc32(5);
    const twin = new Sfc32(5);
    for (const [lo, hi] of [[3, 3], [4, 2], [0, 1.5], [0.5, 3], [0, 2 ** 32 + 1], [0, NaN]]) {
      assert.throws(() => rng.range(lo, hi), RangeError);
    }
    assert.equal(rng.nextU32(), twin.nextU32(), "a refused draw does not advance the state");
  });
});
