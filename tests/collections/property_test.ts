// Random operation sequences against a JS Map / Array model; check() after each run.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Heap } from "../../mod.ts";
import { SharedMap, SharedQueue, SharedVec } from "../../src/collections/mod.ts";
import { defineStruct, f64, i32, i64, u32, u8 } from "../../structs/mod.ts";

type MapOp<K> =
  | { kind: "set"; key: K; value: number }
  | { kind: "delete"; key: K }
  | { kind: "get"; key: K }
  | { kind: "clear" };

function mapOps<K>(key: fc.Arbitrary<K>): fc.Arbitrary<MapOp<K>[]> {
  return fc.array(
    fc.oneof(
      {
        weight: 10,
        arbitrary: fc.record({ kind: fc.constant("set" as const), key, value: fc.nat(255) }),
      },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("delete" as const), key }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("get" as const), key }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("clear" as const) }) },
    ),
    { maxLength: 400 },
  );
}

/** Runs ops on a SharedMap and a Map; they must agree on every result and at the end. */
function agree<K extends number | bigint | string>(
  map: SharedMap<never, typeof u8>,
  ops: MapOp<K>[],
): void {
  const m = map as unknown as SharedMap<"u32", typeof u8>;
  const model = new Map<K, number>();
  for (const op of ops) {
    const key = (op as { key: K }).key as never;
    if (typeof key === "string" && !(key as string).isWellFormed()) {
      // A lone surrogate has no UTF-8 form: a typed error, and nothing changes.
      assert.throws(() => m.set(key, 1), TypeError);
      assert.throws(() => m.get(key), TypeError);
      continue;
    }
    if (op.kind === "set") {
      m.set(key, op.value);
      model.set(op.key, op.value);
    } else if (op.kind === "delete") {
      assert.equal(m.delete(key), model.delete(op.key));
    } else if (op.kind === "get") {
      assert.equal(m.get(key), model.get(op.key));
      assert.equal(m.has(key), model.has(op.key));
    } else {
      m.clear();
      model.clear();
    }
    assert.equal(m.size, model.size);
  }
  map.check();
  const entries = [...m.entries()];
  assert.equal(entries.length, model.size);
  for (const [k, v] of entries) assert.equal(model.get(k as K), v);
}

// Small key spaces so that sets, deletes and lookups collide; few segments so tables grow.
const keyArbs = {
  u32: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constant(0xffffffff), fc.nat()),
  i32: fc.oneof(fc.integer({ min: -20, max: 20 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1)),
  u64: fc.oneof(fc.bigInt({ min: 0n, max: 40n }), fc.constant(2n ** 64n - 1n)),
  i64: fc.bigInt({ min: -20n, max: 20n }),
  f64: fc.oneof(
    fc.integer({ min: -10, max: 10 }).map((x) => x / 2),
    fc.constantFrom(-0, NaN, Infinity, -Infinity, 1e300),
  ),
  string: fc.oneof(
    fc.string({ maxLength: 3 }),
    fc.constantFrom("", "é", "日本", "🦀x", "\u0000", "\ud800"),
  ),
} as const;

describe("SharedMap against a Map model", () => {
  for (const [kind, arb] of Object.entries(keyArbs)) {
    it(`${kind} keys`, () => {
      fc.assert(
        fc.property(mapOps(arb as fc.Arbitrary<number | bigint | string>), (ops) => {
          const heap = Heap.create();
          const map = SharedMap.create(heap, { key: kind as never, value: u8, segments: 2 });
          agree(map as never, ops);
          map.destroy();
          heap.check();
          assert.equal(heap.stats().liveAllocations, 0);
        }),
        { numRuns: 150 },
      );
    });
  }

  // 32-bit keys with u32, i32 and f64 values take the inline set and (on x86-64) the lock-free get.
  for (const kind of ["u32", "i32"] as const) {
    for (const value of [u32, i32, f64]) {
      it(`${kind} keys, ${value.name} values (the fast paths)`, () => {
        fc.assert(
          fc.property(mapOps(keyArbs[kind] as fc.Arbitrary<number>), (ops) => {
            const heap = Heap.create();
            const map = SharedMap.create(heap, { key: kind, value, segments: 2 });
            agree(map as never, ops);
            map.destroy();
            heap.check();
            assert.equal(heap.stats().liveAllocations, 0);
          }),
          { numRuns: 100 },
        );
      });
    }
  }

  it("struct values keep their fields through growth and deletions", () => {
    const P = defineStruct("P", { x: f64, n: u32 });
    fc.assert(
      fc.property(mapOps(fc.integer({ min: 0, max: 60 })), (ops) => {
        const heap = Heap.create();
        const map = SharedMap.create(heap, { key: "i32", value: P, segments: 1 });
        const model = new Map<number, number>();
        for (const op of ops) {
          if (op.kind === "set") {
            map.set(op.key, { x: op.value / 4, n: op.value });
            model.set(op.key, op.value);
          } else if (op.kind === "delete") assert.equal(map.delete(op.key), model.delete(op.key));
          else if (op.kind === "get") {
            const want = model.get(op.key);
            assert.deepEqual(
              map.get(op.key)?.toJSON(),
              want === undefined ? undefined : { x: want / 4, n: want },
            );
          } else {
            map.clear();
            model.clear();
          }
        }
        map.check();
        let n = 0;
        for (const c = map.cursor(); c.next();) {
          assert.equal(c.value.n, model.get(c.key));
          n++;
        }
        assert.equal(n, model.size);
        map.destroy();
        assert.equal(heap.stats().liveAllocations, 0);
      }),
      { numRuns: 150 },
    );
  });
});

type VecOp =
  | { kind: "push"; value: number }
  | { kind: "pop" }
  | { kind: "insert"; at: number; value: number }
  | { kind: "remove"; at: number }
  | { kind: "swapRemove"; at: number }
  | { kind: "set"; at: number; value: number };

describe("SharedVec against an Array model", () => {
  it("scalar and record elements", () => {
    const R = defineStruct("R", { v: i64 });
    const value = fc.integer({ min: -1000, max: 1000 });
    const ops = fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.record({ kind: fc.constant("push" as const), value }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("pop" as const) }) },
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), value }),
        },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), at: fc.nat() }) },
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant("swapRemove" as const), at: fc.nat() }),
        },
        {
          weight: 2,
          arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value }),
        },
      ),
      { maxLength: 200 },
    );
    fc.assert(
      fc.property(ops, (ops) => {
        const heap = Heap.create();
        const a = SharedVec.create(heap, { element: f64 });
        const b = SharedVec.create(heap, { element: R });
        const model: number[] = [];
        const bv = (x: { v: bigint } | undefined): number | undefined => {
          if (x === undefined) return undefined;
          const n = Number(x.v);
          R.destroy(heap, x as never);
          return n;
        };
        for (const op of ops) {
          const n = model.length;
          if (op.kind === "push") {
            a.push(op.value);
            b.push({ v: BigInt(op.value) });
            model.push(op.value);
          } else if (op.kind === "pop") {
            const want = model.pop();
            assert.equal(a.pop(), want);
            assert.equal(bv(b.pop()), want);
          } else if (n === 0) {
            assert.throws(() => a.remove(0), RangeError);
          } else if (op.kind === "insert") {
            const at = op.at % (n + 1);
            a.insert(at, op.value);
            b.insert(at, { v: BigInt(op.value) });
            model.splice(at, 0, op.value);
          } else if (op.kind === "remove") {
            const at = op.at % n;
            const want = model.splice(at, 1)[0];
            assert.equal(a.remove(at), want);
            assert.equal(bv(b.remove(at)), want);
          } else if (op.kind === "swapRemove") {
            const at = op.at % n;
            const want = model[at];
            model[at] = model[n - 1];
            model.pop();
            assert.equal(a.swapRemove(at), want);
            assert.equal(bv(b.swapRemove(at)), want);
          } else {
            const at = op.at % n;
            a.set(at, op.value);
            b.set(at, { v: BigInt(op.value) });
            model[at] = op.value;
          }
          assert.equal(a.length, model.length);
        }
        assert.deepEqual([...a], model);
        assert.deepEqual([...b].map((r) => Number(r.v)), model);
        a.check();
        b.check();
        a.destroy();
        b.destroy();
        heap.check();
        assert.equal(heap.stats().liveAllocations, 0);
      }),
      { numRuns: 80 },
    );
  });
});

describe("SharedQueue against an Array model", () => {
  it("tryPush/tryPop keep FIFO order and the capacity bound", () => {
    const ops = fc.array(fc.oneof(fc.nat(1000), fc.constant(-1)), { maxLength: 300 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), ops, (capacity, ops) => {
        const heap = Heap.create();
        const queue = SharedQueue.create(heap, { element: u32, capacity });
        const model: number[] = [];
        for (const op of ops) {
          if (op >= 0) {
            const ok = queue.tryPush(op);
            assert.equal(ok, model.length < queue.capacity);
            if (ok) model.push(op);
          } else {
            assert.equal(queue.tryPop(), model.shift());
          }
          assert.equal(queue.length, model.length);
        }
        queue.check();
        queue.destroy();
        assert.equal(heap.stats().liveAllocations, 0);
      }),
      { numRuns: 100 },
    );
  });
});
