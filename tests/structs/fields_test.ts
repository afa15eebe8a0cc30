// Round-trips of every field type at its edge values, through both the
// typed-array accessors (C layout) and the DataView accessors (packed layout
// at odd offsets).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import {
  array,
  atomicI32,
  atomicI64,
  atomicU32,
  atomicU64,
  bool,
  defineStruct,
  f32,
  f64,
  i16,
  i32,
  i64,
  i8,
  type ScalarType,
  u16,
  u32,
  u64,
  u8,
  utf8,
} from "../../structs/mod.ts";

const heap = Heap.create({ initialBytes: 1 << 20 });

type Case = [written: unknown, read: unknown];

const SCALAR_CASES: [ScalarType, Case[]][] = [
  [u8, [[0, 0], [255, 255], [-0, 0], [1, 1]]],
  [i8, [[0, 0], [127, 127], [-128, -128], [-1, -1]]],
  [u16, [[0, 0], [65535, 65535], [256, 256]]],
  [i16, [[32767, 32767], [-32768, -32768], [-1, -1]]],
  [u32, [[0, 0], [2 ** 32 - 1, 2 ** 32 - 1], [2 ** 31, 2 ** 31]]],
  [i32, [[2 ** 31 - 1, 2 ** 31 - 1], [-(2 ** 31), -(2 ** 31)], [-1, -1]]],
  [f32, [
    [NaN, NaN],
    [-0, -0],
    [Infinity, Infinity],
    [-Infinity, -Infinity],
    [0.1, Math.fround(0.1)],
    [3.4028234663852886e38, 3.4028234663852886e38],
    [1e39, Infinity],
    [1e-46, 0],
    [1.401298464324817e-45, 1.401298464324817e-45],
  ]],
  [f64, [
    [NaN, NaN],
    [-0, -0],
    [Infinity, Infinity],
    [-Infinity, -Infinity],
    [0.1, 0.1],
    [Number.MAX_VALUE, Number.MAX_VALUE],
    [Number.MIN_VALUE, Number.MIN_VALUE],
    [-Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
  ]],
  [bool, [[true, true], [false, false], [1, true], [0, false]]],
  [u64, [[0n, 0n], [2n ** 64n - 1n, 2n ** 64n - 1n], [2n ** 63n, 2n ** 63n]]],
  [i64, [
    [-(2n ** 63n), -(2n ** 63n)],
    [2n ** 63n - 1n, 2n ** 63n - 1n],
    [-1n, -1n],
  ]],
];

describe("scalar fields", () => {
  for (const [type, cases] of SCALAR_CASES) {
    for (const packed of [false, true]) {
      it(`${type.name} round-trips edge values (${packed ? "packed, DataView" : "C layout"})`, () => {
        const T = defineStruct(`Hold_${type.name}`, { pad: u8, v: type, tail: u8 }, { packed });
        assert.equal(T.offsetOf("v"), packed ? 1 : type.align);
        const rec = T.create(heap, { pad: 0xaa, tail: 0xbb }) as unknown as Record<string, unknown>;
        for (const [written, read] of cases) {
          rec.v = written;
          assert.ok(Object.is(rec.v, read), `${type.name}: wrote ${written}, read ${rec.v}`);
          // neighbours untouched
          assert.equal(rec.pad, 0xaa);
          assert.equal(rec.tail, 0xbb);
        }
      });
    }
  }

  it("stores little-endian bytes at the field's offset", () => {
    const T = defineStruct("Endian", { a: u32, b: f64, c: i16 });
    const rec = T.create(heap, { a: 0x11223344, b: -2.5, c: -2 });
    const dv = new DataView(heap.buffer);
    assert.equal(dv.getUint32(rec.ptr, true), 0x11223344);
    assert.equal(dv.getFloat64(rec.ptr + 8, true), -2.5);
    assert.equal(dv.getInt16(rec.ptr + 16, true), -2);
    T.destroy(heap, rec);
  });

  it("reads zero from a fresh record", () => {
    const T = defineStruct("Zeroes", { a: f64, b: u64, c: bool, d: utf8(4), e: array(i32, 2) });
    const rec = T.create(heap);
    assert.deepEqual(rec.toJSON(), { a: 0, b: "0", c: false, d: "", e: [0, 0] });
  });

  it("rejects numbers for 64-bit fields", () => {
    const T = defineStruct("Big", { v: u64 });
    const rec = T.create(heap);
    assert.throws(() => ((rec as unknown as { v: unknown }).v = 1), TypeError);
  });
});

describe("utf8 fields", () => {
  const T = defineStruct("Text", { before: u8, s: utf8(8), after: u8 });
  const rec = T.create(heap, { before: 1, after: 2 });

  const roundTrips: [string, number][] = [
    ["", 0],
    ["a", 1],
    ["hello", 5],
    ["é", 2], // 2-byte sequence
    ["€uro", 6], // 3-byte sequence
    ["😀", 4], // surrogate pair, 4 bytes
    ["12345678", 8], // ASCII exactly at capacity
    ["éééé", 8], // 2-byte characters exactly at capacity
    ["😀😀", 8], // 4-byte characters exactly at capacity
    ["a€€b", 8], // mixed, exactly at capacity
  ];
  for (const [text, bytes] of roundTrips) {
    it(`round-trips ${JSON.stringify(text)} (${bytes} bytes)`, () => {
      rec.s = text;
      assert.equal(rec.s, text);
      assert.deepEqual(
        Array.from(heap.u8.subarray(rec.ptr + 1, rec.ptr + 1 + bytes)),
        Array.from(new TextEncoder().encode(text)),
      );
      assert.equal(rec.before, 1);
      assert.equal(rec.after, 2);
    });
  }

  it("zero-fills the rest of the field when a shorter string replaces a longer one", () => {
    rec.s = "12345678";
    rec.s = "ab";
    assert.equal(rec.s, "ab");
    assert.deepEqual(Array.from(heap.u8.subarray(rec.ptr + 1, rec.ptr + 9)), [
      97,
      98,
      0,
      0,
      0,
      0,
      0,
      0,
    ]);
  });

  it("never cuts: a string one byte too long throws and leaves the field unchanged", () => {
    rec.s = "keep";
    assert.throws(() => (rec.s = "123456789"), {
      name: "RangeError",
      message:
        'Cannot set field "Text.s": string needs 9 UTF-8 bytes but the field holds 8: "123456789"',
    });
    assert.throws(() => (rec.s = "éééé1"), RangeError); // 9 bytes from 5 characters
    assert.throws(() => (rec.s = "1234567😀"), RangeError); // the pair would be split
    assert.equal(rec.s, "keep");
  });

  it("stores lone surrogates as U+FFFD, like TextEncoder", () => {
    rec.s = "a\ud800b";
    assert.equal(rec.s, "a\ufffdb");
    rec.s = "\udc00";
    assert.equal(rec.s, "\ufffd");
  });

  it("decodes malformed bytes written by other code as U+FFFD", () => {
    heap.u8.set([0x61, 0xff, 0x62, 0, 0, 0, 0, 0], rec.ptr + 1);
    assert.equal(rec.s, "a\ufffdb");
  });

  it("round-trips long ASCII and long multi-byte strings", () => {
    const Long = defineStruct("LongText", { s: utf8(1000) });
    const long = Long.create(heap);
    const ascii = "x".repeat(1000);
    long.s = ascii;
    assert.equal(long.s, ascii);
    const mixed = "ü😀€a".repeat(100); // 2 + 4 + 3 + 1 = 10 bytes each
    long.s = mixed;
    assert.equal(long.s, mixed);
  });
});

describe("array fields", () => {
  const kinds: [ScalarType, ArrayLike<unknown>, string][] = [
    [u8, [1, 255, 0], "Uint8Array"],
    [i8, [-1, 127, -128], "Int8Array"],
    [u16, [1, 65535, 0], "Uint16Array"],
    [i16, [-1, 32767, -32768], "Int16Array"],
    [u32, [1, 2 ** 32 - 1, 0], "Uint32Array"],
    [i32, [-1, 2 ** 31 - 1, -(2 ** 31)], "Int32Array"],
    [f32, [0.5, -0, Infinity], "Float32Array"],
    [f64, [NaN, -0, -Infinity], "Float64Array"],
    [bool, [1, 0, 1], "Uint8Array"],
    [u64, [0n, 2n ** 64n - 1n, 1n], "BigUint64Array"],
    [i64, [-(2n ** 63n), -1n, 2n ** 63n - 1n], "BigInt64Array"],
  ];
  for (const [element, values, arrayName] of kinds) {
    it(`${element.name}[3] reads as a zero-copy ${arrayName}`, () => {
      const T = defineStruct(`Arr_${element.name}`, { pad: u8, xs: array(element, 3) });
      const rec = T.create(heap, { xs: values } as never);
      const xs =
        (rec as unknown as { xs: ArrayLike<unknown> & { constructor: { name: string } } }).xs;
      assert.equal(xs.constructor.name, arrayName);
      assert.equal(xs.length, 3);
      assert.ok(Object.is((xs as unknown as { buffer: unknown }).buffer, heap.buffer));
      assert.equal(
        (xs as unknown as { byteOffset: number }).byteOffset,
        rec.ptr + T.offsetOf("xs"),
      );
      for (let i = 0; i < 3; i++) assert.ok(Object.is(xs[i], values[i]), `${element.name}[${i}]`);
      assert.equal((rec as unknown as { xs: unknown }).xs, xs, "the same view is returned again");
    });
  }

  it("writes through the view land in the heap and show in the record", () => {
    const T = defineStruct("Samples", { n: u32, v: array(f64, 4) });
    const rec = T.create(heap);
    rec.v[2] = 7.5;
    rec.v.set([1, 2], 0);
    assert.equal(heap.f64[(rec.ptr + 8) / 8 + 2], 7.5);
    assert.deepEqual(rec.toJSON(), { n: 0, v: [1, 2, 7.5, 0] });
    assert.throws(() => ((rec as unknown as { v: unknown }).v = new Float64Array(4)), TypeError);
  });

  it("bool arrays read back as booleans in toJSON", () => {
    const T = defineStruct("Flags", { f: array(bool, 3) });
    const rec = T.create(heap, { f: [true, false, 1] });
    assert.deepEqual(Array.from(rec.f), [1, 0, 1]);
    assert.deepEqual(rec.toJSON(), { f: [true, false, true] });
  });

  it("struct arrays are StructArrays inside the record", () => {
    const P = defineStruct("P2", { x: i16, y: i16 });
    const T = defineStruct("Poly", { count: u8, pts: array(P, 3) });
    const rec = T.create(heap, { count: 3, pts: [{ x: 1 }, { y: 2 }, { x: 3, y: 4 }] });
    assert.equal(rec.pts.length, 3);
    assert.equal(rec.pts.ptr, rec.ptr + 2);
    assert.deepEqual(rec.pts.toJSON(), [{ x: 1, y: 0 }, { x: 0, y: 2 }, { x: 3, y: 4 }]);
    rec.pts.at(1).x = -5;
    assert.equal(rec.toJSON().pts instanceof Array, true);
    assert.deepEqual((rec.toJSON().pts as { x: number }[]).map((p) => p.x), [1, -5, 3]);
    assert.throws(() => rec.pts.destroy(), TypeError);
  });

  it("packed arrays at odd offsets can be written and printed but not viewed", () => {
    const T = defineStruct("PackedArr", { a: u8, xs: array(f64, 2), bs: array(u8, 2) }, {
      packed: true,
    });
    const rec = T.create(heap, { xs: [1.5, -2], bs: [7, 8] });
    assert.deepEqual(rec.toJSON(), { a: 0, xs: [1.5, -2], bs: [7, 8] });
    assert.deepEqual(Array.from(rec.bs), [7, 8]); // single bytes need no alignment
    assert.throws(() => rec.xs, {
      name: "RangeError",
      message: /^Cannot view array field "PackedArr.xs": f64 elements need 8-byte alignment/,
    });
  });
});

describe("nested struct fields", () => {
  const Vec = defineStruct("NVec", { x: f64, y: f64 });
  const Seg = defineStruct("NSeg", { a: Vec, b: Vec, tag: u8 });
  const Shape = defineStruct("NShape", { id: u16, seg: Seg });

  it("reads and writes nested fields in place", () => {
    const s = Shape.create(heap, { id: 1, seg: { a: { x: 1, y: 2 }, b: { x: 3 }, tag: 9 } });
    assert.deepEqual(s.toJSON(), { id: 1, seg: { a: { x: 1, y: 2 }, b: { x: 3, y: 0 }, tag: 9 } });
    s.seg.b.y = 4;
    assert.equal(heap.f64[(s.ptr + Shape.offsetOf("seg.b.y")) / 8], 4);
    assert.equal(s.seg.ptr, s.ptr + 8);
    assert.equal(s.seg, s.seg, "a record returns the same nested view each time");
  });

  it("copies a record of the same type by value", () => {
    const s = Shape.create(heap);
    const v = Vec.create(heap, { x: 5, y: 6 });
    Seg.assign(s.seg, { a: v, b: v });
    v.x = 0;
    assert.deepEqual(s.seg.toJSON(), { a: { x: 5, y: 6 }, b: { x: 5, y: 6 }, tag: 0 });
  });

  it("packed structs nest other structs at odd offsets", () => {
    const P = defineStruct("PNest", { a: u8, v: Vec, b: u8 }, { packed: true });
    const rec = P.create(heap, { a: 1, v: { x: 0.25, y: -1 }, b: 2 });
    assert.equal(P.offsetOf("v.y"), 9);
    assert.equal(rec.v.y, -1);
    rec.v.x = 8;
    assert.equal(new DataView(heap.buffer).getFloat64(rec.ptr + 1, true), 8);
    assert.equal(Vec.is(rec.v), true);
    assert.throws(() => Vec.destroy(heap, rec.v), InvalidPointerError);
  });
});

describe("atomic fields", () => {
  it("atomicI32 and atomicU32 support every operation", () => {
    const T = defineStruct("A32", { i: atomicI32, u: atomicU32 });
    const rec = T.create(heap, { i: -1, u: 1 });
    const { i, u } = rec;
    assert.equal(i.ptr, rec.ptr);
    assert.equal(i.load(), -1);
    assert.equal(i.add(1), -1);
    assert.equal(i.sub(5), 0);
    assert.equal(i.load(), -5);
    assert.equal(i.store(2 ** 31), 2 ** 31); // returns the value given
    assert.equal(i.load(), -(2 ** 31)); // stored wrapped
    assert.equal(i.exchange(6), -(2 ** 31));
    assert.equal(i.and(3), 6);
    assert.equal(i.or(8), 2);
    assert.equal(i.xor(15), 10);
    assert.equal(i.load(), 5);
    assert.equal(i.compareExchange(4, 1), 5); // no exchange
    assert.equal(i.compareExchange(5, 1), 5);
    assert.equal(i.load(), 1);
    assert.equal(u.sub(2), 1);
    assert.equal(u.load(), 2 ** 32 - 1);
    assert.equal(rec.i, i, "the same handle each time");
    assert.deepEqual(rec.toJSON(), { i: 1, u: 2 ** 32 - 1 });
    assert.equal(JSON.stringify(i), "1");
  });

  it("atomicI64 and atomicU64 support every operation with bigints", () => {
    const T = defineStruct("A64", { pad: u8, i: atomicI64, u: atomicU64 });
    const rec = T.create(heap, { i: -(2n ** 63n), u: 2n ** 64n - 1n });
    assert.equal(rec.i.sub(1n), -(2n ** 63n));
    assert.equal(rec.i.load(), 2n ** 63n - 1n);
    assert.equal(rec.u.add(2n), 2n ** 64n - 1n);
    assert.equal(rec.u.load(), 1n);
    assert.equal(rec.u.exchange(12n), 1n);
    assert.equal(rec.u.and(10n), 12n);
    assert.equal(rec.u.or(1n), 8n);
    assert.equal(rec.u.xor(9n), 9n);
    assert.equal(rec.u.compareExchange(0n, 5n), 0n);
    assert.equal(rec.u.store(3n), 3n);
    assert.equal(rec.i.ptr, rec.ptr + 8);
    assert.deepEqual(rec.toJSON(), { pad: 0, i: "9223372036854775807", u: "3" });
  });

  it("is allowed in a packed struct where the offset stays aligned", () => {
    const T = defineStruct("PackedAtomic", { a: u32, n: atomicI32 }, { packed: true, align: 4 });
    const rec = T.create(heap);
    rec.n.add(3);
    assert.equal(rec.n.load(), 3);
  });
});
