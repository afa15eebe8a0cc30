// Bad use of the collections: typed errors, nothing changed, heap.check() passes.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, LockStateError, LockTimeoutError, OutOfMemoryError } from "../../mod.ts";
import {
  CollectionStateError,
  QueueClosedError,
  SharedMap,
  SharedQueue,
  SharedVec,
} from "../../src/collections/mod.ts";
import { defineStruct, f64, u32, u64, u8, utf8 } from "../../structs/mod.ts";

const Named = defineStruct("Named", { n: u32, name: utf8(4) });

describe("SharedMap errors", () => {
  it("rejects keys of the wrong kind and values that do not fit, changing nothing", () => {
    const heap = Heap.create();
    const map = SharedMap.create(heap, { key: "u32", value: u8 });
    map.set(1, 1);
    for (const key of [-1, 1.5, 2 ** 32, "1", 1n, null, NaN]) {
      assert.throws(() => map.set(key as never, 2), TypeError);
      assert.throws(() => map.get(key as never), TypeError);
    }
    assert.throws(() => map.set(2, 256), RangeError);
    assert.throws(() => map.set(2, "x" as never), TypeError);
    assert.throws(() => map.update(2, () => 300), RangeError);
    assert.throws(() =>
      map.update(1, () => {
        throw new Error("boom");
      }), /boom/);
    assert.deepEqual([...map], [[1, 1]]);
    const big = SharedMap.create(heap, { key: "i64", value: u64 });
    assert.throws(() => big.set(2n ** 63n, 0n), TypeError);
    assert.throws(() => big.set(1n, -1n), RangeError);
    assert.equal(big.size, 0);
    map.check();
    big.check();
    heap.check();
  });

  it("a struct value that does not fit leaves the map as it was", () => {
    const heap = Heap.create();
    const map = SharedMap.create(heap, { key: "string", value: Named });
    map.set("a", { n: 1, name: "ok" });
    assert.throws(() => map.set("a", { n: 2, name: "too long" }), RangeError);
    assert.deepEqual(map.get("a")?.toJSON(), { n: 1, name: "ok" });
    assert.throws(() => map.set("b", { n: 2, name: "too long" }), RangeError);
    assert.equal(map.has("b"), false);
    assert.equal(map.size, 1);
    map.check();
    map.destroy();
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });

  it("use after destroy throws in every handle; at() checks the pointer and type", () => {
    const heap = Heap.create();
    const map = SharedMap.create(heap, { key: "u32", value: Named });
    assert.throws(() => SharedMap.at(heap, map.ptr), TypeError); // struct type required
    assert.throws(() => SharedMap.at(heap, map.ptr, defineStruct("X", { a: u8 })), TypeError);
    const other = SharedMap.at(Heap.attach(heap.buffer), map.ptr, Named);
    const plain = SharedMap.create(heap, { key: "u32", value: u32 });
    assert.throws(() => SharedMap.at(heap, plain.ptr, f64), TypeError);
    assert.throws(() => SharedMap.at(heap, plain.ptr + 8), CollectionStateError);
    map.destroy();
    assert.throws(() => other.get(1), CollectionStateError);
    assert.throws(() => map.set(1, {}), CollectionStateError);
    assert.throws(() => map.destroy(), CollectionStateError);
    assert.throws(() => SharedMap.at(heap, map.ptr, Named), CollectionStateError);
    heap.check();
  });

  it("out of memory while growing leaves the map usable and unchanged", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 * 1024 });
    const map = SharedMap.create(heap, { key: "u32", value: u32, segments: 1 });
    const model = new Map<number, number>();
    assert.throws(() => {
      for (let i = 1; i < 100_000; i++) {
        map.set(i, i);
        model.set(i, i);
      }
    }, OutOfMemoryError);
    map.check();
    assert.equal(map.size, model.size);
    for (const [k, v] of model) assert.equal(map.get(k), v);
    map.destroy();
    heap.check();
  });

  it("using the map inside update() throws LockStateError and leaves it usable", () => {
    const heap = Heap.create();
    const map = SharedMap.create(heap, { key: "u32", value: u32, segments: 1 });
    assert.throws(() => map.update(1, () => map.has(2) ? 2 : 1), LockStateError);
    assert.throws(() => map.update(1, () => (map.set(2, 2), 1)), LockStateError);
    assert.throws(() => map.update(0, () => map.get(0) ?? 1), LockStateError); // key 0: locked get
    assert.equal(map.size, 0);
    map.set(1, 5); // the segment lock was released
    assert.equal(map.get(1), 5);
    map.check();
  });

  it("a segment lock held by another handle of this thread throws LockStateError, not a hang", () => {
    const heap = Heap.create();
    const map = SharedMap.create(heap, { key: "u32", value: u32, segments: 1 });
    const other = SharedMap.at<"u32", typeof u32>(Heap.attach(heap.buffer), map.ptr);
    assert.throws(() => map.update(1, () => (other.set(2, 2), 1)), LockStateError);
    assert.throws(() => map.update(1, () => (other.delete(2), 1)), LockStateError);
    other.set(3, 3); // released
    assert.equal(map.get(3), 3);
    map.check();
  });

  it("a segment lock held by a stuck worker times out with LockTimeoutError and changes nothing", () => {
    const heap = Heap.create();
    const map = SharedMap.create(heap, { key: "u32", value: u32, segments: 1, lockTimeoutMs: 30 });
    map.set(1, 1);
    // Segment 0's lock word (header word 16) as a worker 999 of another thread would leave it.
    const lock = new Int32Array(heap.buffer, map.ptr + 16 * 4, 1);
    lock[0] = 999 << 1;
    assert.throws(
      () => map.set(2, 2),
      (e: unknown) => e instanceof LockTimeoutError && e.ownerId === 999,
    );
    assert.throws(() => map.delete(1), LockTimeoutError);
    assert.throws(() => map.has(1), LockTimeoutError);
    lock[0] = 0;
    assert.equal(map.size, 1);
    assert.equal(map.get(2), undefined);
    map.check();
  });

  it("bad options are rejected before allocating", () => {
    const heap = Heap.create();
    assert.throws(() => SharedMap.create(heap, { key: "u16" as never, value: u32 }), TypeError);
    assert.throws(() => SharedMap.create(heap, { key: "u32", value: {} as never }), TypeError);
    assert.throws(
      () => SharedMap.create(heap, { key: "u32", value: u32, segments: 3 }),
      RangeError,
    );
    assert.throws(
      () => SharedMap.create(heap, { key: "u32", value: u32, capacity: -1 }),
      RangeError,
    );
    assert.equal(heap.stats().liveAllocations, 0);
  });
});

describe("SharedVec errors", () => {
  it("bad indices and values change nothing", () => {
    const heap = Heap.create();
    const vec = SharedVec.create(heap, { element: Named });
    vec.push({ n: 1, name: "a" });
    assert.throws(() => vec.push({ name: "too long" }), RangeError);
    assert.throws(() => vec.insert(0, { name: "too long" }), RangeError);
    assert.throws(() => vec.set(0, { name: "too long" }), RangeError);
    assert.throws(() => vec.insert(5, {}), RangeError);
    assert.throws(() => vec.get(1), RangeError);
    assert.throws(() => vec.push(3 as never), TypeError);
    assert.equal(vec.length, 1);
    assert.deepEqual(vec.get(0).toJSON(), { n: 1, name: "a" });
    vec.check();
    vec.destroy();
    assert.throws(() => vec.push({}), CollectionStateError);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });
});

describe("SharedQueue errors and waits", () => {
  it("timeouts are bounded, closed queues reject pushes and drain pops", async () => {
    const heap = Heap.create();
    const queue = SharedQueue.create(heap, { element: u32, capacity: 2 });
    const t0 = performance.now();
    assert.equal(queue.pop(20), undefined);
    assert.ok(performance.now() - t0 >= 15);
    assert.equal(await queue.popAsync(10), undefined);
    queue.push(1, 0);
    queue.push(2, 0);
    assert.equal(queue.push(3, 10), false);
    assert.equal(await queue.pushAsync(3, 10), false);
    assert.throws(() => queue.push(-1, 10), RangeError);
    assert.throws(() => queue.push(1, -1), RangeError);
    queue.close();
    assert.throws(() => queue.tryPush(1), QueueClosedError);
    await assert.rejects(queue.pushAsync(1, 10), QueueClosedError);
    assert.equal(queue.pop(10), 1);
    assert.equal(await queue.popAsync(10), 2);
    assert.throws(() => queue.pop(10), QueueClosedError);
    assert.equal(queue.tryPop(), undefined);
    queue.check();
    queue.destroy();
    assert.throws(() => queue.tryPop(), CollectionStateError);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });

  it("record queues validate before claiming a cell", () => {
    const heap = Heap.create();
    const queue = SharedQueue.create(heap, { element: Named, capacity: 4 });
    assert.throws(() => queue.tryPush({ name: "too long" }), RangeError);
    assert.throws(() => queue.tryPopInto({} as never), TypeError);
    assert.equal(queue.length, 0);
    queue.check();
    assert.equal(queue.tryPush({ n: 5, name: "ab" }), true);
    const popped = queue.tryPop();
    assert.deepEqual(popped?.toJSON(), { n: 5, name: "ab" });
    assert.ok(popped !== undefined);
    Named.destroy(heap, popped);
    queue.destroy();
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });
});

describe("at() messages (one header check shared by the three collections)", () => {
  const Rec = defineStruct("Rec", { a: u32, b: u32 });
  const cases = [
    {
      noun: "vector",
      records: "records",
      at: (h: Heap, p: number, e?: unknown) => SharedVec.at(h, p, e as never),
      create: (h: Heap, e: unknown) => SharedVec.create(h, { element: e as never }),
    },
    {
      noun: "queue",
      records: "records",
      at: (h: Heap, p: number, e?: unknown) => SharedQueue.at(h, p, e as never),
      create: (h: Heap, e: unknown) => SharedQueue.create(h, { element: e as never }),
    },
    {
      noun: "map",
      records: "struct values",
      at: (h: Heap, p: number, e?: unknown) => SharedMap.at(h, p, e as never),
      create: (h: Heap, e: unknown) => SharedMap.create(h, { key: "u32", value: e as never }),
    },
  ];
  for (const c of cases) {
    it(`${c.noun}: every reason at() rejects a pointer or type, word for word`, () => {
      const heap = Heap.create();
      const op = `Cannot open ${c.noun}`;
      const recs = c.create(heap, Rec);
      const nums = c.create(heap, u32);
      const err = (fn: () => unknown, type: ErrorConstructor | typeof CollectionStateError) => {
        try {
          fn();
        } catch (e) {
          assert.ok(e instanceof type, String(e));
          return (e as Error).message;
        }
        assert.fail("no error");
      };
      for (const bad of [0, -64, 1.5, 8, heap.buffer.byteLength + 64]) {
        assert.equal(
          err(() => c.at(heap, bad), CollectionStateError),
          `${op}: ${bad} is not a ${c.noun} pointer`,
        );
      }
      const free = heap.alloc(128, 64);
      new Uint32Array(heap.buffer, free, 1)[0] = 7;
      assert.equal(
        err(() => c.at(heap, free), CollectionStateError),
        `${op}: ${free} does not hold a ${c.noun}`,
      );
      assert.equal(
        err(() => c.at(heap, recs.ptr), TypeError),
        `${op}: the ${c.noun} holds ${c.records} of 8 bytes; pass their struct type: undefined`,
      );
      assert.equal(
        err(() => c.at(heap, recs.ptr, defineStruct("Y", { a: u8 })), TypeError),
        `${op}: the ${c.noun} holds ${c.records} of 8 bytes; pass their struct type: StructType`,
      );
      assert.equal(
        err(() => c.at(heap, nums.ptr, f64), TypeError),
        `${op}: the ${c.noun} holds u32 values: ScalarType`,
      );
      assert.equal(c.at(heap, nums.ptr).ptr, nums.ptr);
      assert.equal(c.at(heap, nums.ptr, u32).ptr, nums.ptr);
      assert.equal(c.at(heap, recs.ptr, Rec).ptr, recs.ptr);
      // A destroyed header keeps a dead magic: the live one with its last letter "1" made "0".
      const words = new Uint32Array(heap.buffer, free, 1);
      words[0] = new Uint32Array(heap.buffer, nums.ptr, 1)[0] - 1;
      assert.equal(
        err(() => c.at(heap, free), CollectionStateError),
        `${op}: ${free} was destroyed`,
      );
      words[0] = 0;
      nums.destroy();
      recs.destroy();
      heap.free(free);
      heap.check();
    });
  }
});
