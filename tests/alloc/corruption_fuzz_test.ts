/**
 * Fuzz: a user's memory bugs (writes after free, overflows past a block's
 * end, fake boundary tags inside live blocks) followed by more allocating and
 * freeing, from two handles (so remote-free lists are exercised too). Every
 * case must end clean or with a typed report; never with an allocation that
 * overlaps the header or a live block, a raw TypeError/RangeError, a NaN
 * figure, or a hang (every case is a bounded number of operations).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import process from "node:process";
import {
  DoubleFreeError,
  Heap,
  HeapCorruptionError,
  InvalidPointerError,
  OutOfMemoryError,
  UseAfterFreeError,
} from "../../mod.ts";

/** Bytes of the heap header: no block may start inside it. */
const HEADER_BYTES = 4096;

type Op =
  | { k: "alloc"; size: number; other: boolean }
  | { k: "free"; pick: number; other: boolean }
  | { k: "realloc"; pick: number; size: number }
  | { k: "uaf"; pick: number; off: number; bytes: Uint8Array }
  | { k: "over"; pick: number; bytes: Uint8Array }
  | { k: "fake"; pick: number; off: number; kind: number; word: number };

const size = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.integer({ min: 0, max: 1100 }),
  fc.integer({ min: 1025, max: 6000 }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ k: fc.constant("alloc" as const), size, other: fc.boolean() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constant("free" as const), pick: fc.nat(), other: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("realloc" as const), pick: fc.nat(), size }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("uaf" as const),
      pick: fc.nat(),
      off: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("over" as const),
      pick: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("fake" as const),
      pick: fc.nat(),
      off: fc.nat(),
      kind: fc.integer({ min: 0, max: 3 }),
      word: fc.nat(),
    }),
  },
);

/** How each case ended. */
interface Counts {
  cases: number;
  clean: number;
  corruption: number;
  useAfterFree: number;
  badPointer: number;
  outOfMemory: number;
  corruptions: number;
}

/** Runs one case; returns how it ended. Throws (fails the test) on a broken promise. */
function runCase(ops: Op[], counts: Counts, debug: boolean): void {
  const heap = Heap.create({ initialBytes: 256 * 1024, maxBytes: 8 << 20, debug });
  const other = Heap.attach(heap.buffer);
  /** Live blocks of the model: pointer → requested size. */
  const live = new Map<number, number>();
  /** Blocks freed by the program, whose memory it may still (wrongly) write. */
  const freed: [number, number][] = [];
  let corrupted = false;
  const pickLive = (n: number): number => {
    const keys = [...live.keys()];
    return keys.length === 0 ? 0 : keys[n % keys.length];
  };
  const checkNew = (p: number, bytes: number, what: string): void => {
    assert.equal(typeof p, "number", `${what} returned ${p}`);
    assert.ok(Number.isInteger(p) && p >= HEADER_BYTES, `${what} returned ${p}, in the header`);
    assert.ok(p + bytes <= heap.byteLength, `${what} returned ${p} past the heap end`);
    for (const [q, s] of live) {
      assert.ok(
        p + Math.max(bytes, 1) <= q || q + Math.max(s, 1) <= p,
        `${what} returned ${p} (+${bytes}) overlapping the live block ${q} (+${s})`,
      );
    }
  };
  const write = (at: number, bytes: Uint8Array): void => {
    const u8 = heap.u8;
    for (let i = 0; i < bytes.length && at + i < u8.length; i++) {
      if (at + i >= HEADER_BYTES) u8[at + i] = bytes[i];
    }
    corrupted = true;
    counts.corruptions++;
  };
  try {
    for (const o of ops) {
      switch (o.k) {
        case "alloc": {
          const h = o.other ? other : heap;
          const p = h.alloc(o.size);
          checkNew(p, o.size, `alloc(${o.size})`);
          live.set(p, o.size);
          break;
        }
        case "free": {
          const p = pickLive(o.pick);
          if (p === 0) break;
          (o.other ? other : heap).free(p);
          freed.push([p, live.get(p) ?? 0]);
          if (freed.length > 16) freed.shift();
          live.delete(p);
          break;
        }
        case "realloc": {
          const p = pickLive(o.pick);
          if (p === 0) break;
          const s = live.get(p) ?? 0;
          live.delete(p);
          const q = heap.realloc(p, o.size);
          checkNew(q, o.size, `realloc(${p}, ${o.size})`);
          live.set(q, o.size);
          if (q !== p) freed.push([p, s]);
          break;
        }
        case "uaf": {
          if (freed.length === 0) break;
          const [p, s] = freed[o.pick % freed.length];
          write(p + (o.off % Math.max(s, 8)), o.bytes);
          break;
        }
        case "over": {
          const p = pickLive(o.pick);
          if (p === 0) break;
          write(p + heap.usableSize(p), o.bytes);
          break;
        }
        case "fake": {
          const p = pickLive(o.pick);
          if (p === 0) break;
          const s = heap.usableSize(p);
          if (s < 24) break;
          const at = p + 8 + ((o.off % (s - 16)) & ~7);
          const u32 = heap.u32;
          // A fake header/tag pair at `at`: a copy of a real one, the old
          // unkeyed formats, or a random word; then a free of the interior pointer.
          const real = (p - 8) >>> 2;
          const words = [
            [u32[real], u32[real + 1]],
            [33, ((at - 8) ^ 0x3a5c9e00) & 0x3fffff00 | 0b101],
            [24, ((at - 8) ^ 0x6b1d4700) & 0x3fffff00 | 0b011],
            [o.word >>> 0, (o.word * 7) >>> 0],
          ][o.kind];
          write(at - 8, new Uint8Array(new Uint32Array(words).buffer));
          try {
            heap.free(at);
            assert.fail(`free(${at}) of an interior pointer was accepted`);
          } catch (e) {
            if (!(e instanceof InvalidPointerError) && !(e instanceof DoubleFreeError)) throw e;
          }
          break;
        }
      }
    }
    heap.check();
    const stats = heap.stats();
    for (const [k, v] of Object.entries(stats)) {
      if (typeof v === "number") assert.ok(Number.isFinite(v), `stats().${k} is ${v}`);
    }
    counts.clean++;
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    if (e instanceof HeapCorruptionError) counts.corruption++;
    else if (debug && e instanceof UseAfterFreeError) counts.useAfterFree++;
    else if (corrupted && (e instanceof InvalidPointerError || e instanceof DoubleFreeError)) {
      counts.badPointer++; // a block whose own header the program overwrote
    } else if (e instanceof OutOfMemoryError) counts.outOfMemory++;
    else throw e;
  }
  counts.cases++;
}

describe("corruption fuzz", () => {
  for (const debug of [false, true]) {
    it(`user memory bugs end clean or in a typed report, never in an overlapping block (debug: ${debug})`, () => {
      const counts: Counts = {
        cases: 0,
        clean: 0,
        corruption: 0,
        useAfterFree: 0,
        badPointer: 0,
        outOfMemory: 0,
        corruptions: 0,
      };
      fc.assert(
        fc.property(
          fc.array(op, { minLength: 10, maxLength: 160 }),
          (ops) => runCase(ops, counts, debug),
        ),
        {
          numRuns: Number(process.env.FUZZ_RUNS ?? 2000),
          seed: Number(process.env.FUZZ_SEED ?? 0x5eed10),
        },
      );
      console.log(`corruption fuzz (debug: ${debug}): ${JSON.stringify(counts)}`);
      assert.ok(counts.corruption > 0, "the fuzz reached no corruption report: it tests nothing");
    });
  }
});
