// Variable-length fields: `utf8()` strings and `vec(type)` arrays, each in a
// heap block the record owns. The same kinds of tests as the fixed fields
// (edge values, multi-byte UTF-8, empty, very long), plus ownership: every
// replaced, destroyed or copied block is freed or duplicated, never leaked
// or shared.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, OutOfMemoryError } from "../../mod.ts";
import {
  array,
  bool,
  defineStruct,
  f32,
  f64,
  i16,
  i64,
  i8,
  type ScalarType,
  u16,
  u32,
  u64,
  u8,
  utf8,
  vec,
} from "../../structs/mod.ts";

const Note = defineStruct("Note", { id: u32, text: utf8(), flag: u8 });
const Packed = defineStruct("PackedNote", { a: u8, text: utf8(), b: u8 }, { packed: true });

const STRINGS = [
  "",
  "a",
  "exactly 16 bytes",
  "x".repeat(32),
  "x".repeat(33),
  "é",
  "zoë and ünïcödé",
  "日本語",
  "🚀 emoji and 𝄞 clef",
  "nul\0inside\0",
  "\u007f\u0080\u07ff\u0800\uffff",
  "x".repeat(1 << 20),
  "ü".repeat(100_000),
];

describe("utf8() string fields", () => {
  for (const T of [Note, Packed]) {
    it(`round-trips empty, ASCII, multi-byte, NUL and very long strings (${T.name})`, () => {
      const heap = Heap.create({ maxBytes: 64 << 20 });
      const baseline = heap.stats();
      const rec = T.create(heap) as unknown as { text: string; ptr: number };
      assert.equal(rec.text, "");
      for (const s of STRINGS) {
        rec.text = s;
        assert.equal(rec.text, s, `length ${s.length}`);
        assert.equal(T.at(heap, rec.ptr).text, s);
        assert.equal((T.create(heap, { text: s }) as unknown as { text: string }).text, s);
      }
      // lone surrogates are stored as U+FFFD, as TextEncoder does
      rec.text = "a\ud800b\udc00";
      assert.equal(rec.text, "a\ufffdb\ufffd");
      heap.check();
      assert.ok(heap.stats().liveAllocations > baseline.liveAllocations);
    });
  }

  it("the bytes in the heap are the UTF-8 encoding, with the byte length next to the pointer", () => {
    const heap = Heap.create();
    const rec = Note.create(heap, { text: "zoë🚀" });
    const at = rec.ptr + Note.offsetOf("text");
    const block = heap.u32[at >>> 2];
    const length = heap.u32[(at + 4) >>> 2];
    const expected = new TextEncoder().encode("zoë🚀");
    assert.equal(length, expected.length);
    assert.deepEqual(heap.u8.slice(block, block + length), expected);
    rec.text = "";
    assert.deepEqual([heap.u32[at >>> 2], heap.u32[(at + 4) >>> 2]], [0, 0], "no block when empty");
  });

  it("replacing a string reuses its block when the bytes fit, else frees it", () => {
    const heap = Heap.create();
    const rec = Note.create(heap, { text: "twelve bytes" }); // a 16-byte block
    const blockOf = (): number => heap.u32[(rec.ptr + Note.offsetOf("text")) >>> 2];
    const first = blockOf();
    const live = heap.stats().liveAllocations;
    rec.text = "sixteen bytes!!!";
    assert.equal(blockOf(), first, "fits: same block");
    rec.text = "seventeen bytes!!";
    assert.notEqual(blockOf(), first, "does not fit: a new block");
    assert.equal(heap.stats().liveAllocations, live, "the old one was freed");
    rec.text = "";
    assert.equal(heap.stats().liveAllocations, live - 1);
    for (let i = 0; i < 1000; i++) rec.text = "y".repeat(i % 300);
    assert.equal(heap.stats().liveAllocations, live);
    heap.check();
  });

  it("a non-string is a TypeError naming the field, and changes nothing", () => {
    const heap = Heap.create();
    const rec = Note.create(heap, { text: "keep" });
    for (const value of [5, null, undefined, {}, 1n]) {
      assert.throws(() => (rec.text = value as never), {
        name: "TypeError",
        message: /^Cannot set field "Note\.text": value must be a string: /,
      });
    }
    assert.equal(rec.text, "keep");
    const stats = heap.stats();
    assert.throws(() => Note.create(heap, { text: 5 as never }), {
      name: "TypeError",
      message: 'Cannot create Note: field "text": value must be a string: 5',
    });
    assert.deepEqual(heap.stats(), stats);
  });

  it("a string too big for the heap: OutOfMemoryError, the record is freed, nothing leaks", () => {
    const heap = Heap.create({ initialBytes: 1 << 16, maxBytes: 1 << 18 });
    Note.destroy(heap, Note.create(heap, { text: "warm-up: the record's slab page exists" }));
    const stats = heap.stats();
    assert.throws(() => Note.create(heap, { id: 1, text: "z".repeat(1 << 20) }), OutOfMemoryError);
    assert.equal(heap.stats().liveAllocations, stats.liveAllocations);
    assert.equal(heap.stats().usedBytes, stats.usedBytes);
    heap.check();
  });
});

const VEC_SCALARS: [ScalarType, unknown[], unknown, string][] = [
  [u8, [0, 255, 7], 256, "RangeError"],
  [i8, [-128, 127], "1", "TypeError"],
  [u16, [0, 65535], -1, "RangeError"],
  [i16, [-32768, 32767], 1.5, "RangeError"],
  [u32, [0, 2 ** 32 - 1], 1n, "TypeError"],
  [f32, [0.5, -Infinity], "x", "TypeError"],
  [f64, [NaN, -0, Number.MAX_VALUE], null, "TypeError"],
  [bool, [true, false], 2, "TypeError"],
  [u64, [0n, 2n ** 64n - 1n], 1, "TypeError"],
  [i64, [-(2n ** 63n), 2n ** 63n - 1n], 2n ** 63n, "RangeError"],
];

describe("vec() fields", () => {
  for (const [type, values, bad, error] of VEC_SCALARS) {
    it(`vec(${type.name}): push, get, set, pop, assign, view and checked values`, () => {
      const heap = Heap.create();
      const T = defineStruct(`V_${type.name}`, { n: u8, items: vec(type) });
      const rec = T.create(heap, { items: values as never });
      const items = rec.items as unknown as {
        length: number;
        get(i: number): unknown;
        set(i: number, v: unknown): void;
        push(v: unknown): number;
        pop(): unknown;
        assign(v: ArrayLike<unknown>): void;
        view(): ArrayLike<unknown>;
        toArray(): unknown[];
      };
      assert.equal(rec.items, items, "the handle is cached");
      assert.equal(items.length, values.length);
      for (let i = 0; i < values.length; i++) assert.ok(Object.is(items.get(i), values[i]));
      // grow well past the first block
      for (let i = 0; i < 100; i++) items.push(values[i % values.length]);
      assert.equal(items.length, values.length + 100);
      assert.ok(Object.is(items.get(values.length + 99), values[99 % values.length]));
      items.set(0, values[1]);
      assert.ok(Object.is(items.get(0), values[1]));
      // the typed-array view is zero-copy
      const view = items.view();
      assert.equal(view.length, items.length);
      assert.ok(ArrayBuffer.isView(view) && view.buffer === heap.buffer);
      const expected = type.name === "bool" ? (values[1] ? 1 : 0) : values[1];
      assert.ok(Object.is(view[0], expected));
      assert.ok(Object.is(items.pop(), values[99 % values.length]));
      assert.equal(items.length, values.length + 99);
      // bad values: the field's error, nothing changed
      const before = items.toArray();
      assert.throws(() => items.push(bad), {
        name: error,
        message: new RegExp(`^Cannot set element \\d+ of field "V_${type.name}\\.items": `),
      });
      assert.throws(() => items.set(1, bad), { name: error });
      assert.throws(() => items.assign([values[0], bad]), { name: error });
      assert.throws(() => items.get(items.length), RangeError);
      assert.throws(() => items.set(-1, values[0]), RangeError);
      assert.deepEqual(items.toArray(), before);
      items.assign([]);
      assert.equal(items.length, 0);
      assert.equal(items.pop(), undefined);
      assert.equal(items.view().length, items.length);
      T.destroy(heap, rec);
      heap.check();
    });
  }

  it("vec of structs: views into the block, init objects or records as values", () => {
    const heap = Heap.create();
    const Point = defineStruct("Point", { x: f64, y: f64 });
    const Path = defineStruct("Path", { points: vec(Point) });
    const path = Path.create(heap, { points: [{ x: 1 }, { y: 2 }] });
    path.points.push({ x: 3, y: 4 });
    const p = Point.create(heap, { x: 5, y: 6 });
    path.points.push(p);
    assert.deepEqual(path.toJSON(), {
      points: [{ x: 1, y: 0 }, { x: 0, y: 2 }, { x: 3, y: 4 }, { x: 5, y: 6 }],
    });
    path.points.get(1).x = 9;
    assert.equal(path.points.get(1).x, 9);
    assert.throws(() => path.points.push({ z: 1 } as never), {
      name: "TypeError",
      message: /Point has no field 'z'/,
    });
    assert.throws(() => path.points.view(), TypeError);
    assert.throws(() => vec(defineStruct("HasString", { s: utf8() })), TypeError);
    Path.destroy(heap, path);
  });

  it("is read-only as a property: assign through the handle", () => {
    const heap = Heap.create();
    const T = defineStruct("Ro", { items: vec(u8) });
    const rec = T.create(heap);
    assert.throws(() => ((rec as unknown as { items: unknown }).items = [1]), {
      name: "TypeError",
      message: /^Cannot set field "Ro\.items": a vec field cannot be assigned: use its assign\(\)/,
    });
  });
});

describe("ownership of variable-length blocks", () => {
  const Thing = defineStruct("Thing", {
    id: u32,
    name: utf8(),
    samples: vec(f64),
    inner: defineStruct("Inner", { label: utf8(), ids: vec(u16) }),
    pair: array(defineStruct("Tagged", { tag: utf8(), w: f32 }), 2),
  });
  const init = (i: number) => ({
    id: i,
    name: `thing number ${i} with a name longer than sixteen bytes`,
    samples: [i, i + 0.5, i + 0.25],
    inner: { label: `inner ${i}`, ids: [i & 0xffff, 1, 2, 3, 4] },
    pair: [{ tag: "left", w: 1 }, { tag: `right ${i}`, w: 2 }],
  });

  it("destroy frees every block, at any depth", () => {
    const heap = Heap.create();
    const before = heap.stats();
    const rec = Thing.create(heap, init(1));
    // record + name + samples + inner.label + inner.ids + 2 tags
    assert.equal(heap.stats().liveAllocations, before.liveAllocations + 7);
    Thing.destroy(heap, rec);
    assert.equal(heap.stats().liveAllocations, before.liveAllocations);
    heap.check();
  });

  /** Creates 100,000 records, checks some, optionally changes every one, destroys them all. */
  function churn(heap: Heap, change: boolean): void {
    const live = [];
    for (let i = 0; i < 100_000; i++) {
      const rec = Thing.create(heap, init(i));
      if (change) {
        rec.name = i % 2 === 0
          ? ""
          : "replaced by a much longer string than before, in a new block";
        rec.samples.push(i);
        rec.inner.ids.assign([]);
      }
      live.push(rec);
    }
    assert.ok(heap.stats().liveAllocations >= 100_000 * 6);
    for (let i = 0; i < live.length; i += 7777) {
      const want = init(i);
      if (!change) assert.equal(live[i].name, want.name);
      assert.deepEqual(live[i].samples.toArray(), change ? [...want.samples, i] : want.samples);
      assert.deepEqual(live[i].inner.ids.toArray(), change ? [] : want.inner.ids);
      assert.equal(live[i].pair.at(1).tag, want.pair[1].tag);
    }
    for (const rec of live) Thing.destroy(heap, rec);
  }

  for (const change of [false, true]) {
    it(
      `creating and destroying 100,000 records with strings and vecs leaves usedBytes where it started${
        change ? " (every field changed first)" : ""
      }`,
      () => {
        const heap = Heap.create({ initialBytes: 1 << 20, maxBytes: 1 << 30 });
        const fresh = heap.stats();
        churn(heap, change);
        // Against a fresh heap: no live block left, only empty slab pages the
        // slab keeps as spares (counted in usedBytes).
        const first = heap.stats();
        assert.equal(first.liveAllocations, fresh.liveAllocations);
        assert.equal(first.slab.usedSlots, fresh.slab.usedSlots);
        assert.ok(first.slab.classes.every((c) => c.usedSlots === 0));
        // Against that state, a second round leaves usedBytes exactly where it started.
        churn(heap, change);
        const second = heap.stats();
        assert.equal(second.usedBytes, first.usedBytes);
        assert.equal(second.liveAllocations, first.liveAllocations);
        heap.check();
      },
    );
  }

  it("createArray(...).destroy() frees every element's blocks", () => {
    const heap = Heap.create();
    const round = (): void => {
      const things = Thing.createArray(heap, 50);
      things.each((t, i) => Thing.assign(t, init(i)));
      assert.equal(things.at(49).name, init(49).name);
      assert.ok(heap.stats().liveAllocations >= 1 + 50 * 6);
      things.destroy();
    };
    round(); // warm-up: the slab pages exist (kept as spares once empty)
    const start = heap.stats();
    assert.equal(start.slab.usedSlots, 0);
    round();
    assert.equal(heap.stats().liveAllocations, start.liveAllocations);
    assert.equal(heap.stats().usedBytes, start.usedBytes);
    heap.check();
  });

  it("copies own their blocks: create from a record, assign a record, nested assignment", () => {
    const heap = Heap.create();
    const start = heap.stats();
    const a = Thing.create(heap, init(1));
    const b = Thing.create(heap, a);
    assert.deepEqual(b.toJSON(), a.toJSON());
    const blockOf = (r: { ptr: number }): number =>
      heap.u32[(r.ptr + Thing.offsetOf("name")) >>> 2];
    assert.notEqual(blockOf(b), blockOf(a), "not shared");
    Thing.destroy(heap, a);
    assert.deepEqual(b.toJSON(), Thing.create(heap, init(1)).toJSON(), "b survives a's destroy");
    const c = Thing.create(heap, init(2));
    Thing.assign(c, b); // c's old blocks are freed, b's copied
    Thing.assign(c, c); // onto itself: nothing changes
    assert.deepEqual(c.toJSON(), b.toJSON());
    Thing.assign(c, { inner: b.inner }); // a nested record: copied too
    Thing.destroy(heap, b);
    assert.equal(c.inner.label, "inner 1");
    Thing.destroy(heap, c);
    // the record made for the comparison above
    assert.equal(heap.stats().liveAllocations, start.liveAllocations + 7);
    heap.check();
  });

  it("bad input to a record with owned blocks allocates nothing", () => {
    const heap = Heap.create({ initialBytes: 8192, maxBytes: 1 << 20 });
    const bytes = heap.buffer.byteLength;
    const stats = heap.stats();
    const bad: unknown[] = [
      { samples: [1, "2"] },
      { inner: { ids: [70000] } },
      { pair: [{ tag: 1 }, {}] },
      { name: "ok", samples: 5 },
      { nmae: "typo" },
    ];
    for (const init of bad) assert.throws(() => Thing.create(heap, init as never));
    assert.equal(heap.buffer.byteLength, bytes);
    assert.deepEqual(heap.stats(), stats);
    heap.check();
  });

  it("64-bit, signed and small element types keep their values through a copy", () => {
    const heap = Heap.create();
    const T = defineStruct("Wide", { a: vec(i64), b: vec(u64), c: vec(i8), d: vec(u16) });
    const rec = T.create(heap, { a: [-1n, 2n ** 62n], b: [2n ** 64n - 1n], c: [-5], d: [65535] });
    const copy = T.create(heap, rec);
    T.destroy(heap, rec);
    assert.deepEqual(copy.toJSON(), {
      a: ["-1", String(2n ** 62n)],
      b: [String(2n ** 64n - 1n)],
      c: [-5],
      d: [65535],
    });
  });
});
