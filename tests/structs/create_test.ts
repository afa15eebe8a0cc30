// `create` is generated per struct type: one form for structs of scalar
// fields only (init values are read and converted before the record is
// allocated, then every field and padding byte is written once), one for
// the others (zeroed record, then init through the accessors). These tests
// hold both forms to the accessors' behaviour.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import { Wasm } from "../_wasm_api.ts";
import {
  type AnyStructType,
  array,
  bool,
  defineStruct,
  f32,
  f64,
  i16,
  i32,
  i64,
  i8,
  type ScalarType,
  type StructHeap,
  u16,
  u32,
  u64,
  u8,
  utf8,
} from "../../structs/mod.ts";

/** Per scalar type: values it holds, and values it refuses with the error's name. */
const SCALARS: [ScalarType, unknown[], [unknown, string][]][] = [
  [u8, [0, 255, -0], [
    [256, "RangeError"],
    [-1, "RangeError"],
    [1.9, "RangeError"],
    [
      NaN,
      "RangeError",
    ],
    ["7", "TypeError"],
    [null, "TypeError"],
    [true, "TypeError"],
  ]],
  [i8, [127, -128], [[128, "RangeError"], [255, "RangeError"], ["-3", "TypeError"]]],
  [u16, [65535, 0], [[65536, "RangeError"], [-1, "RangeError"], [2.5, "RangeError"]]],
  [i16, [32767, -32768], [[32768, "RangeError"], [1n, "TypeError"]]],
  [u32, [2 ** 32 - 1, 0], [[2 ** 32, "RangeError"], [-1, "RangeError"], ["12", "TypeError"], [
    1n,
    "TypeError",
  ]]],
  [i32, [2 ** 31 - 1, -(2 ** 31)], [[2 ** 31, "RangeError"], [Infinity, "RangeError"]]],
  [f32, [NaN, -0, Infinity, 0.1, 1e39, 1e-46], [["0.5", "TypeError"], [1n, "TypeError"]]],
  [f64, [NaN, -0, -Infinity, 0.1, Number.MIN_VALUE], [[null, "TypeError"], ["2.5", "TypeError"], [
    true,
    "TypeError",
  ]]],
  [bool, [true, false, 0, 1], [[2, "TypeError"], ["", "TypeError"], [null, "TypeError"], [
    {},
    "TypeError",
  ]]],
  [u64, [0n, 2n ** 64n - 1n], [
    [2n ** 64n, "RangeError"],
    [-1n, "RangeError"],
    [
      1,
      "TypeError",
    ],
    ["123", "TypeError"],
    [true, "TypeError"],
  ]],
  [i64, [-(2n ** 63n), 2n ** 63n - 1n, -1n], [[2n ** 63n, "RangeError"], [
    -5,
    "TypeError",
  ], ["-5", "TypeError"]]],
];

/** Both forms of `create` for a struct holding `type` at field `v`, C layout or packed. */
function typesFor(type: ScalarType, packed: boolean): Record<"scalar" | "general", AnyStructType> {
  const name = `${type.name}${packed ? "P" : "C"}`;
  return {
    // only scalars: the pre-converting form
    scalar: defineStruct(`S_${name}`, { pad: u8, v: type, tail: u8 }, { packed }),
    // a string field: the general form
    general: defineStruct(`G_${name}`, { pad: u8, v: type, tail: u8, s: utf8(3) }, { packed }),
  };
}

describe("create with init", () => {
  for (const [type, values, refused] of SCALARS) {
    for (const packed of [false, true]) {
      it(`${type.name}: init stores what the setter stores (${packed ? "packed" : "C layout"})`, () => {
        const heap = Heap.create();
        const { scalar, general } = typesFor(type, packed);
        for (const T of [scalar, general]) {
          const reference = T.create(heap) as unknown as Record<string, unknown>;
          for (const value of values) {
            reference.v = value;
            const rec = T.create(heap, { pad: 0xaa, v: value, tail: 0xbb } as never) as unknown as {
              pad: number;
              v: unknown;
              tail: number;
            };
            assert.ok(Object.is(rec.v, reference.v), `${T.name}: ${String(value)} read ${rec.v}`);
            assert.equal(rec.pad, 0xaa);
            assert.equal(rec.tail, 0xbb);
          }
        }
      });
      it(
        `${type.name}: a value out of its type or range throws the setter's error, naming the field, and changes nothing (${
          packed ? "packed" : "C layout"
        })`,
        () => {
          const heap = Heap.create();
          const { scalar, general } = typesFor(type, packed);
          for (const T of [scalar, general]) {
            const reference = T.create(heap, { pad: 1 }) as unknown as Record<string, unknown>;
            const stored = reference.v;
            const stats = heap.stats();
            for (const [value, name] of refused) {
              const what = `${T.name} ${typeof value} ${String(value)}`;
              assert.throws(() => (reference.v = value), {
                name,
                message: new RegExp(
                  `^Cannot set field "${T.name}\\.v": ${type.name} value must be`,
                ),
              }, what);
              assert.ok(Object.is(reference.v, stored), what);
              assert.throws(() => T.create(heap, { v: value } as never), {
                name,
                message: new RegExp(
                  `^Cannot create ${T.name}: field "v": ${type.name} value must be`,
                ),
              }, what);
            }
            assert.deepEqual(heap.stats(), stats);
            heap.check();
          }
        },
      );
    }
  }

  it("a value the field cannot hold throws and allocates nothing, in both forms", () => {
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    const bad: [ScalarType, unknown, string][] = [
      [f64, 1n, "TypeError"],
      [u32, Symbol("s"), "TypeError"],
      [u64, 1, "TypeError"],
      [i64, 1.5, "TypeError"],
      [u64, "x1", "TypeError"],
      [f64, { valueOf: () => 1 }, "TypeError"],
    ];
    for (const [type, value, error] of bad) {
      for (const T of Object.values(typesFor(type, false))) {
        assert.throws(() => T.create(heap, { v: value } as never), { name: error }, T.name);
      }
    }
    assert.equal(heap.stats().liveAllocations, before);
  });

  it("checks every field of a scalar struct in one pass: the first bad field in order is named", () => {
    // create tests all values together and takes a cold path to find the
    // error; each field must still be checked, whichever the others hold.
    const Mix = defineStruct("Mix", { a: u8, b: f64, c: bool, d: u64, e: i32 });
    const good = { a: 1, b: 0.5, c: true, d: 2n, e: -3 };
    const bad: Record<string, unknown> = { a: 256, b: "1", c: 2, d: 1, e: 1.5 };
    const heap = Heap.create();
    const stats = heap.stats();
    for (const key of Object.keys(good)) {
      assert.throws(() => Mix.create(heap, { ...good, [key]: bad[key] } as never), {
        message: new RegExp(`^Cannot create Mix: field "${key}": `),
      }, key);
      // with every field bad, the first in field order is named
      const all = Object.fromEntries(
        Object.keys(good).map((k) => [k, k < key ? good[k as "a"] : bad[k]]),
      );
      assert.throws(() => Mix.create(heap, all as never), {
        message: new RegExp(`^Cannot create Mix: field "${key}": `),
      }, `from ${key}`);
    }
    // a bad value is reported before an unknown key; keys holding undefined are skipped
    assert.throws(() => Mix.create(heap, { zz: 1, e: "x" } as never), /field "e"/);
    assert.throws(() => Mix.create(heap, { ...good, zz: 1 } as never), /Mix has no field 'zz'/);
    assert.deepEqual(heap.stats(), stats);
    heap.check();
    const rec = Mix.create(heap, { ...good, b: undefined });
    assert.deepEqual(rec.toJSON(), { ...good, b: 0, d: "2" });
  });

  it("checks the whole init before allocating: a failing create leaves the heap as it was", () => {
    // Issue 9, item 10: an 8 KiB heap grew to 64 KiB on a create that threw.
    const Big = defineStruct("Big", {
      samples: array(f64, 4096),
      pos: defineStruct("At", { x: f64, y: f64 }),
      id: u32,
      name: utf8(4),
    });
    const cases: [unknown, string, RegExp][] = [
      [
        { id: "7" },
        "TypeError",
        /^Cannot create Big: field "id": u32 value must be a number: "7"$/,
      ],
      [{ id: NaN }, "RangeError", /field "id": u32 value must be an integer from 0 to 4294967295/],
      [{ pos: { x: "1" } }, "TypeError", /^Cannot create Big: field "pos\.x": f64 value must be/],
      [{ pos: { z: 1 } }, "TypeError", /At has no field 'z'/],
      [{ name: "toolong" }, "RangeError", /field "name": string needs 7 UTF-8 bytes/],
      [{ samples: [1, 2] }, "RangeError", /field "samples": expected 4096 elements, got 2/],
      [{ samples: Array(4096).fill("x") }, "TypeError", /field "samples\[0\]": f64 value/],
      [{ nmae: "x" }, "TypeError", /Big has no field 'nmae'; did you mean 'name'\?/],
    ];
    for (const [init, name, message] of cases) {
      const heap = Heap.create({ initialBytes: 8192, maxBytes: 1 << 20 });
      const bytes = heap.buffer.byteLength;
      const stats = heap.stats();
      assert.throws(() => Big.create(heap, init as never), { name, message });
      assert.equal(heap.buffer.byteLength, bytes, "the heap did not grow");
      assert.deepEqual(heap.stats(), stats);
      heap.check();
    }
  });

  it("zeroes padding and unnamed fields even when the block was used before", () => {
    const heap = Heap.create();
    const shapes: AnyStructType[] = [
      defineStruct("Gaps", { a: u8, b: f64, c: u16, d: u32 }),
      defineStruct("Tail", { a: f64, b: u8 }),
      defineStruct("Odd", { a: u8, b: i16, c: u8 }, { packed: true }),
      // over 64 bytes: zeroed with fill rather than straight-line stores
      defineStruct("Big", Object.fromEntries([..."abcdefghij"].map((k) => [k, f64])), {}),
      defineStruct("BigNested", { a: u8, n: defineStruct("Inner", { x: f64, y: array(f64, 8) }) }),
      defineStruct("Mixed", { a: u8, s: utf8(5), b: u32 }),
    ];
    for (const T of shapes) {
      for (const init of [undefined, { a: 1 }]) {
        // a dirty block of the record's size, freed and handed out again
        const dirty = heap.alloc(T.size, Math.max(T.align, 8));
        heap.u8.fill(0xff, dirty, dirty + T.size);
        heap.free(dirty);
        const rec = T.create(heap, init as never);
        assert.equal(rec.ptr, dirty, `${T.name}: the slot is reused`);
        // the same record in fresh (all-zero) memory
        const fresh = Heap.create();
        const clean = T.create(fresh, init as never);
        assert.deepEqual(
          heap.u8.subarray(rec.ptr, rec.ptr + T.size),
          fresh.u8.subarray(clean.ptr, clean.ptr + T.size),
          T.name,
        );
        T.destroy(heap, rec);
      }
    }
  });

  it("copies a record of the same type, and refuses one from another heap", () => {
    const T = defineStruct("Pair", { a: f64, b: i32 });
    const heap = Heap.create();
    const a = T.create(heap, { a: 1.5, b: -2 });
    const b = T.create(heap, a);
    assert.notEqual(b.ptr, a.ptr);
    assert.deepEqual(b.toJSON(), { a: 1.5, b: -2 });
    const other = Heap.create();
    const before = other.stats().liveAllocations;
    assert.throws(() => T.create(other, a), {
      name: "TypeError",
      message: /^Cannot create Pair: the source record is in another heap/,
    });
    assert.equal(other.stats().liveAllocations, before);
  });

  it("checks keys as for…in sees them: inherited enumerable keys count, undefined values do not", () => {
    const T = defineStruct("Keys", { a: f64, b: f64 });
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    assert.throws(
      () => T.create(heap, Object.create({ c: 1 }, { a: { value: 1, enumerable: true } })),
      {
        name: "TypeError",
        message: "Cannot create Keys: Keys has no field 'c'; did you mean 'a'?",
      },
    );
    assert.equal(heap.stats().liveAllocations, before);
    const inherited = T.create(heap, Object.create({ a: 2 }));
    assert.equal(inherited.a, 2);
    const partial = T.create(heap, { a: undefined, b: 3 });
    assert.deepEqual(partial.toJSON(), { a: 0, b: 3 });
    assert.deepEqual(T.create(heap, Object.create(null)).toJSON(), { a: 0, b: 0 });
  });

  it("creates records past the end of the views after the heap grows", () => {
    const T = defineStruct("Grow", { a: f64, b: u8 });
    const heap = Heap.create({ initialBytes: 1 << 16, maxBytes: 1 << 22 });
    const records = [];
    for (let i = 0; i < 20_000; i++) records.push(T.create(heap, { a: i, b: i & 0xff }));
    assert.ok(heap.buffer.byteLength > 1 << 16);
    for (let i = 0; i < records.length; i += 997) {
      assert.deepEqual(records[i].toJSON(), { a: i, b: i & 0xff });
    }
  });
});

describe("the heap's buffer", () => {
  it("is followed when it is a new object after the heap grows (a fixed-length memory buffer)", () => {
    const T = defineStruct("Replaced", { a: f64, b: u32 });
    const memory = new Wasm.Memory({ initial: 1, maximum: 64, shared: true });
    // A bump allocator in a memory whose buffer is fixed-length and replaced
    // on every growth, as a heap's is where the engine has no resizable view
    // of a memory (Node 20).
    let top = 64;
    const fixed: StructHeap = {
      get buffer(): SharedArrayBuffer {
        return memory.buffer as SharedArrayBuffer;
      },
      alloc(sizeBytes: number, alignBytes: number): number {
        const ptr = (top + alignBytes - 1) & -alignBytes;
        top = ptr + sizeBytes;
        while (top > memory.buffer.byteLength) memory.grow(1);
        return ptr;
      },
      free(): void {},
    };
    const first = fixed.buffer;
    assert.equal(first.growable, false);
    const records = [];
    for (let i = 0; i < 20_000; i++) records.push(T.create(fixed, { a: i, b: i + 1 }));
    assert.notEqual(fixed.buffer, first, "the memory did not grow");
    const last = records[records.length - 1];
    assert.ok(last.ptr + T.size > first.byteLength, "the last record lies in the grown part");
    for (let i = 0; i < records.length; i += 997) {
      assert.deepEqual(records[i].toJSON(), { a: i, b: i + 1 });
      assert.deepEqual(T.at(fixed, records[i].ptr).toJSON(), { a: i, b: i + 1 });
    }
    assert.deepEqual(T.at(fixed, last.ptr).toJSON(), { a: 19_999, b: 20_000 });
  });

  it("of each heap is used when records are made in several heaps in turn", () => {
    const T = defineStruct("Turns", { a: f64 });
    const heaps = [Heap.create(), Heap.create(), Heap.create({ initialBytes: 1 << 16 })];
    const made: { heap: Heap; ptr: number; a: number }[] = [];
    for (let i = 0; i < 3_000; i++) {
      const heap = heaps[i % 3];
      made.push({ heap, ptr: T.create(heap, { a: i }).ptr, a: i });
    }
    for (const { heap, ptr, a } of made) assert.equal(T.at(heap, ptr).a, a);
    for (const { heap, ptr } of made) T.destroy(heap, ptr);
    for (const heap of heaps) {
      assert.equal(heap.stats().liveAllocations, 0);
      heap.check();
    }
  });
});

describe("destroy", () => {
  it("frees by view or pointer and refuses anything else without freeing", () => {
    const T = defineStruct("Gone", { a: f64 });
    const Other = defineStruct("Other", { a: f64 });
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    const a = T.create(heap);
    const b = T.create(heap);
    for (const value of [Other.create(heap), {}, null, undefined, "8", { $t: Other }]) {
      assert.throws(() => T.destroy(heap, value as never), {
        name: "TypeError",
        message: /^Cannot destroy Gone record: value must be a Gone record or pointer: /,
      });
    }
    T.destroy(heap, a);
    T.destroy(heap, b.ptr);
    assert.equal(heap.stats().liveAllocations, before + 1); // the Other record
  });
});
