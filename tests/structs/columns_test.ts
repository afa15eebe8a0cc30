// Columns of arrays of records, struct-of-arrays storage, and the generated
// iteration code (one cursor class per type, one `each` loop per callback).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import {
  array,
  bool,
  defineStruct,
  f32,
  f64,
  i16,
  i64,
  u16,
  u32,
  u8,
  utf8,
} from "../../structs/mod.ts";
import { _loopFor, _MAX_LOOPS, _reduceLoopFor, _SMALL_WALK } from "../../structs/_iterate.ts";
import { _iterationOf, type _StructArray } from "../../structs/struct_array.ts";
import type { StructFields } from "../../structs/types.ts";

const Vec = defineStruct("Vec", { x: f32, y: f32 });
const Sprite = defineStruct("Sprite", { id: u32, layer: u8, pos: Vec, scale: f64 });
const Body = defineStruct("Body", { x: f64, y: f64, vx: f64, vy: f64 });

function iterationOf(records: unknown): ReturnType<typeof _iterationOf> {
  const a = records as _StructArray<StructFields>;
  return _iterationOf(a.$C, a.type.name, a.stride);
}

describe("generated iteration", () => {
  it("each has one loop per callback source and type; a new closure of one source reuses it", () => {
    const heap = Heap.create();
    const bodies = Body.createArray(heap, 3);
    const twins = defineStruct("Body", { x: f64, y: f64, vx: f64, vy: f64 }).createArray(heap, 3);
    const it = iterationOf(bodies);
    const make = () => (p: { x: number }): void => {
      p.x += 1;
    };
    const n = _SMALL_WALK;
    const a = _loopFor(it, make(), n);
    assert.equal(_loopFor(it, make(), n), a);
    assert.notEqual(_loopFor(it, (p: { y: number }) => (p.y = 1), n), a);
    assert.notEqual(_loopFor(iterationOf(twins), make(), n), a, "same name and fields, other type");
    assert.equal(_loopFor(it, make(), n - 1), it.shared, "short walks share one loop");
    bodies.each(make());
    bodies.each(make());
    assert.deepEqual(bodies.toJSON().map((b) => b.x), [2, 2, 2]);
  });

  it("reduce threads the accumulator, with one loop per callback source", () => {
    const heap = Heap.create();
    const bodies = Body.createArray(heap, 4);
    bodies.each((b, i) => {
      b.x = i;
      b.y = 10 * i;
    });
    assert.equal(bodies.reduce((s, b) => s + b.x + b.y, 0), 66);
    assert.deepEqual(bodies.reduce((acc: number[], b, i) => [...acc, b.y + i], []), [
      0,
      11,
      22,
      33,
    ]);
    assert.equal(Body.createArray(heap, 0).reduce(() => 1, 7), 7);
    const it = iterationOf(bodies);
    const make = () => (s: number, b: { x: number }): number => s + b.x;
    const n = _SMALL_WALK;
    assert.equal(_reduceLoopFor(it, make(), 0, n), _reduceLoopFor(it, make(), 1, n));
    assert.notEqual(
      _reduceLoopFor(it, make(), 0, n),
      _reduceLoopFor(it, make(), 0n, n),
      "number or not",
    );
    assert.notEqual(_reduceLoopFor(it, (s: number) => s, 0, n), _reduceLoopFor(it, make(), 0, n));
    assert.equal(
      _reduceLoopFor(it, make(), 0, n - 1),
      it.sharedReduce,
      "short walks share one loop",
    );
    assert.equal(bodies.reduce((s, b) => s + BigInt(b.x), 0n), 6n);
    assert.equal(
      bodies.reduce((s) => `${s}.`, 0 as number | string),
      "0....",
      "a number start may become anything",
    );
    const cols = Body.createColumns(heap, 3);
    cols.each((b, i) => (b.vx = i + 0.5));
    assert.equal(cols.reduce((s, b) => s + b.vx, 0), 4.5);
    assert.equal(Body.createColumns(heap, 0).reduce(() => 1, 7), 7);
  });

  it("each stays correct past the loop cache's bound", () => {
    const cells = defineStruct("Many", { v: u32 }).createArray(Heap.create(), 4);
    for (let k = 0; k < _MAX_LOOPS + 5; k++) {
      cells.each(
        new Function("c", "i", `c.v = i + ${k};`) as (c: { v: number }, i: number) => void,
      );
    }
    const last = _MAX_LOOPS + 4;
    assert.deepEqual(cells.toJSON().map((c) => c.v), [0, 1, 2, 3].map((i) => i + last));
  });

  it("cursors have a class per type, with a fixed shape; index follows seek", () => {
    const heap = Heap.create();
    const bodies = Body.createArray(heap, 5);
    const sprites = Sprite.createArray(heap, 5);
    const c1 = bodies.cursor();
    const c2 = Body.arrayAt(heap, bodies.ptr).cursor();
    const c3 = sprites.cursor();
    assert.equal(c1.seekUnchecked, c2.seekUnchecked, "one class per type");
    assert.equal(bodies.at, Body.arrayAt(heap, bodies.ptr).at, "arrays too");
    assert.notEqual(bodies.at, sprites.at, "at constructs one view class per array class");
    assert.equal(Object.getPrototypeOf(bodies.at(1)), Object.getPrototypeOf(Body.create(heap)));
    assert.notEqual(c1.seekUnchecked, c3.seekUnchecked, "another per other type");
    assert.deepEqual(Object.keys(c1), Object.keys(c3));
    const keys = Object.keys(c1);
    c1.seek(4).x = 1;
    c3.seekUnchecked(2).pos.y = 5;
    assert.deepEqual(Object.keys(c1), keys, "seeking adds no fields");
    assert.equal(c1.index, 4);
    assert.equal(c3.index, 2);
    assert.equal(sprites.at(2).pos.y, 5);
    assert.throws(() => c1.seek(5), {
      name: "RangeError",
      message: "Cannot seek Body cursor: index must be an integer from 0 to 4: 5",
    });
    assert.throws(() => c1.seek(1.5), RangeError);
    assert.equal(c1.index, 4, "a failed seek does not move");
  });
});

describe("column() of an array of records", () => {
  it("gives the heap's typed array, the first index and the stride, nested paths too", () => {
    const heap = Heap.create();
    const sprites = Sprite.createArray(heap, 4);
    sprites.each((s, i) => {
      s.id = i;
      s.pos.y = i / 2;
      s.scale = i * 3;
    });
    const y = sprites.column("pos.y");
    assert.ok(y.array instanceof Float32Array);
    assert.equal(y.stride, Sprite.size / 4);
    assert.equal(y.start, (sprites.ptr + Sprite.offsetOf("pos.y")) / 4);
    assert.equal(y.length, 4);
    const seen: number[] = [];
    for (let i = 0, j = y.start; i < y.length; i++, j += y.stride) seen.push(y.array[j]);
    assert.deepEqual(seen, [0, 0.5, 1, 1.5]);
    const scale = sprites.column("scale");
    assert.ok(scale.array instanceof Float64Array);
    scale.array[scale.start + 3 * scale.stride] = 7;
    assert.equal(sprites.at(3).scale, 7);
    const id = sprites.column("id");
    assert.ok(id.array instanceof Uint32Array);
    assert.equal(id.array[id.start + 2 * id.stride], 2);
  });

  it("rejects paths that are not number fields, and unaligned fields", () => {
    const T = defineStruct("T", { big: i64, name: utf8(4), pos: Vec, xs: array(u8, 2) });
    const ts = T.createArray(Heap.create(), 2);
    assert.throws(() => ts.column("big"), {
      name: "TypeError",
      message: 'Cannot get column "big" of T: only number fields have columns: i64',
    });
    assert.throws(() => ts.column("name"), TypeError);
    assert.throws(() => ts.column("pos"), TypeError);
    assert.throws(() => ts.column("xs"), TypeError);
    assert.throws(() => ts.column("pos.z"), {
      name: "TypeError",
      message: 'Cannot get column "pos.z" of T: Vec has no field named "z"',
    });
    assert.throws(() => ts.column("name.x"), /"name" is not a nested struct/);
    const P = defineStruct("P", { tag: u8, v: f64 }, { packed: true });
    const ps = P.createArray(Heap.create(), 2);
    assert.equal(ps.column("tag").stride, 9);
    assert.throws(() => ps.column("v"), {
      name: "RangeError",
      message:
        'Cannot get column "v" of P: its f64 elements are not 8-byte aligned in this packed layout: byte offset 1 of 9-byte records',
    });
  });
});

describe("struct-of-arrays columns", () => {
  const Particle = defineStruct("Particle", { id: u32, x: f64, vx: f32, alive: bool, d: i16 });

  it("stores each field as its own 16-byte aligned typed array in one heap block", () => {
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    const ps = Particle.createColumns(heap, 5);
    assert.equal(heap.stats().liveAllocations, before + 1);
    assert.equal(ps.length, 5);
    assert.equal(ps.ptr % 16, 0);
    const kinds = [
      ["id", Uint32Array],
      ["x", Float64Array],
      ["vx", Float32Array],
      ["alive", Uint8Array],
      ["d", Int16Array],
    ] as const;
    let end = 0;
    for (const [name, ctor] of kinds) {
      const c = ps.column(name);
      assert.ok(c.array instanceof ctor, name);
      assert.equal(c.array.buffer, heap.buffer);
      assert.equal(c.array.length, 5);
      assert.deepEqual([c.start, c.stride, c.length], [0, 1, 5]);
      assert.equal(c.array.byteOffset % 16, 0);
      assert.ok(c.array.byteOffset >= end, "columns do not overlap");
      end = c.array.byteOffset + c.array.byteLength;
      assert.ok(c.array.every((v) => v === 0), "zeroed");
    }
    ps.destroy();
    assert.equal(heap.stats().liveAllocations, before);
    heap.check();
  });

  it("at, each, cursor, iteration and toJSON read and write the columns", () => {
    const heap = Heap.create();
    const ps = Particle.createColumns(heap, 4);
    ps.each((p, i) => {
      p.id = i;
      p.x = i * 1.5;
      p.vx = 0.5;
      p.alive = i % 2 === 0;
      p.d = -i;
    });
    ps.each((p) => (p.x += p.vx));
    assert.deepEqual([...ps.column("x").array], [0.5, 2, 3.5, 5]);
    assert.deepEqual([...ps.column("alive").array], [1, 0, 1, 0]);
    const at = ps.at(3);
    assert.equal(at.alive, false);
    assert.equal(at.d, -3);
    at.alive = true;
    assert.equal(ps.column("alive").array[3], 1);
    const cursor = ps.cursor();
    let sum = 0;
    for (let i = 0; i < ps.length; i++) sum += cursor.seekUnchecked(i).id;
    assert.equal(sum, 6);
    assert.equal(cursor.index, 3);
    assert.equal(cursor.record, cursor.seek(1));
    assert.equal(cursor.index, 1);
    assert.equal(cursor.array, ps);
    assert.throws(() => cursor.seek(4), {
      name: "RangeError",
      message: "Cannot seek Particle cursor: index must be an integer from 0 to 3: 4",
    });
    assert.throws(() => ps.at(-1), {
      name: "RangeError",
      message: "Cannot get record of Particle columns: index must be an integer from 0 to 3: -1",
    });
    assert.deepEqual([...ps].map((p) => p.id), [0, 1, 2, 3]);
    assert.deepEqual(ps.toJSON()[1], { id: 1, x: 2, vx: 0.5, alive: false, d: -1 });
    const inspect = Symbol.for("nodejs.util.inspect.custom");
    const print = (value: unknown): string => (value as { [inspect](): string })[inspect]();
    assert.equal(print(cursor), `StructCursor(Particle[4]@${ps.ptr}, index 1)`);
    assert.match(print(ps.at(2)), /^Particle#2 \{"id":2/);
    assert.equal(print(ps), `Particle columns[4]@${ps.ptr}`);
  });

  it("64-bit fields are columns of bigints (but not number columns)", () => {
    const Stamp = defineStruct("Stamp", { t: i64, n: u16 });
    const ss = Stamp.createColumns(Heap.create(), 2);
    ss.at(1).t = -5n;
    assert.equal(ss.at(1).t, -5n);
    assert.deepEqual(ss.toJSON()[1], { t: "-5", n: 0 });
    assert.throws(() => ss.column("t"), {
      name: "TypeError",
      message: 'Cannot get column "t" of Stamp columns: only number fields have columns: i64',
    });
    assert.throws(() => ss.column("nope"), /no such field/);
  });

  it("columnsAt reopens columns from their pointer and checks the header", () => {
    const heap = Heap.create();
    const ps = Particle.createColumns(heap, 3);
    ps.at(2).x = 9.25;
    const again = Particle.columnsAt(Heap.attach(heap.buffer), ps.ptr);
    assert.equal(again.length, 3);
    assert.equal(again.at(2).x, 9.25);
    assert.throws(() => Body.columnsAt(heap, ps.ptr), {
      name: "InvalidPointerError",
      message:
        `Cannot open columns pointer: ${ps.ptr} does not hold Body columns (4 fields, 32-byte records): its header says 5 fields, 24 bytes`,
    });
    assert.throws(() => Particle.columnsAt(heap, ps.ptr + 8), InvalidPointerError);
    assert.throws(() => Particle.columnsAt(heap, 1.5), InvalidPointerError);
    const records = Particle.createArray(heap, 3);
    assert.throws(() => Particle.columnsAt(heap, records.ptr), InvalidPointerError);
    ps.destroy();
    records.destroy();
    heap.check();
  });

  it("rejects non-scalar fields and bad lengths, allocating nothing", () => {
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    assert.throws(() => Sprite.createColumns(heap, 2), {
      name: "TypeError",
      message:
        'Cannot store Sprite as columns: only scalar fields can be columns: field "pos" is Vec',
    });
    for (const bad of [-1, 1.5, NaN, "3", 2 ** 32]) {
      assert.throws(() => Body.createColumns(heap, bad as number), RangeError);
    }
    assert.equal(heap.stats().liveAllocations, before);
    heap.check();
    const none = Body.createColumns(heap, 0);
    none.each(() => assert.fail("no records"));
    assert.deepEqual(none.toJSON(), []);
    assert.equal(none.column("x").array.length, 0);
    none.destroy();
    heap.check();
  });
});
