// Records, references and arrays of records in a real heap.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import {
  atomicI32,
  atomicU64,
  defineStruct,
  f64,
  i32,
  ref,
  type RefType,
  selfRef,
  type StructType,
  u16,
  u32,
  u64,
  u8,
  utf8,
} from "../../structs/mod.ts";

const Vec = defineStruct("Vec", { x: f64, y: f64 });
const Particle = defineStruct("Particle", { id: u64, pos: Vec, vel: Vec, name: utf8(8) });

describe("records", () => {
  it("create, at, destroy: memory is allocated zeroed and freed", () => {
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    const p = Particle.create(heap, { id: 7n, pos: { x: 1 } });
    assert.ok(p.ptr > 0 && p.ptr % Particle.align === 0);
    assert.equal(heap.stats().liveAllocations, before + 1);
    const q = Particle.at(heap, p.ptr);
    assert.notEqual(q, p);
    assert.equal(q.id, 7n);
    q.vel.y = 3;
    assert.equal(p.vel.y, 3);
    Particle.destroy(heap, q);
    assert.equal(heap.stats().liveAllocations, before);
    heap.check();
  });

  it("is() recognises views of its own type only", () => {
    const heap = Heap.create();
    const p = Particle.create(heap);
    assert.equal(Particle.is(p), true);
    assert.equal(Vec.is(p), false);
    assert.equal(Vec.is(p.pos), true);
    assert.equal(Particle.is({ ...p }), false);
    assert.equal(Particle.is(null), false);
  });

  it("a failed init allocates nothing", () => {
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    assert.throws(() => Particle.create(heap, { name: "much too long" }), RangeError);
    assert.throws(() => Particle.create(heap, { nope: 1 } as never), TypeError);
    assert.equal(heap.stats().liveAllocations, before);
  });

  it("init may name fields with undefined values", () => {
    const heap = Heap.create();
    const p = Particle.create(heap, { id: undefined, name: "x" });
    assert.equal(p.name, "x");
  });

  it("assign writes a subset of the fields", () => {
    const heap = Heap.create();
    const p = Particle.create(heap, { id: 1n, name: "a" });
    Particle.assign(p, { name: "b", vel: { x: 2 } });
    assert.deepEqual(p.toJSON(), {
      id: "1",
      pos: { x: 0, y: 0 },
      vel: { x: 2, y: 0 },
      name: "b",
    });
  });

  it("toJSON is JSON-safe and the inspect hook prints type, pointer and values", () => {
    const heap = Heap.create();
    const p = Particle.create(heap, { id: 2n ** 64n - 1n, pos: { x: 1.5 }, name: "zoë" });
    assert.equal(
      JSON.stringify(p),
      '{"id":"18446744073709551615","pos":{"x":1.5,"y":0},"vel":{"x":0,"y":0},"name":"zoë"}',
    );
    const text = Deno.inspect(p, { colors: false, breakLength: Infinity });
    assert.equal(
      text,
      `Particle@${p.ptr} { id: 18446744073709551615n, pos: Vec { x: 1.5, y: 0 }, vel: Vec { x: 0, y: 0 }, name: "zoë" }`,
    );
  });

  it("records work before and after the heap grows, in any handle", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 16 << 20 });
    const first = Particle.create(heap, { id: 1n });
    const startBytes = heap.byteLength;
    const all = [first];
    while (heap.byteLength === startBytes) {
      all.push(Particle.create(heap, { id: BigInt(all.length + 1) }));
    }
    const last = all[all.length - 1];
    assert.ok(last.ptr + Particle.size > startBytes, "the last record lies in the grown part");
    last.pos.x = 42;
    first.pos.x = 41;
    assert.equal(Particle.at(heap, last.ptr).pos.x, 42);
    const other = Heap.attach(heap.buffer);
    assert.equal(Particle.at(other, last.ptr).id, BigInt(all.length));
    assert.equal(Particle.at(other, first.ptr).pos.x, 41);
    for (const p of all) Particle.destroy(heap, p);
    heap.check();
  });
});

describe("references", () => {
  it("a self-referencing list links, unlinks and prints pointers", () => {
    const Node = defineStruct("Node", { value: i32, next: selfRef });
    const heap = Heap.create();
    let head: ReturnType<typeof Node.create> | null = null;
    for (let i = 5; i >= 1; i--) head = Node.create(heap, { value: i, next: head });
    const values: number[] = [];
    for (let n = head; n !== null; n = n.next) values.push(n.value);
    assert.deepEqual(values, [1, 2, 3, 4, 5]);
    assert.ok(head !== null);
    const second = head.next;
    assert.ok(second !== null);
    assert.deepEqual(head.toJSON(), { value: 1, next: second.ptr });
    assert.equal(
      Deno.inspect(head, { colors: false }),
      `Node@${head.ptr} { value: 1, next: Node@${second.ptr} }`,
    );
    head.next = null;
    assert.equal(head.next, null);
    assert.deepEqual(head.toJSON(), { value: 1, next: null });
  });

  it("lazy references resolve types defined later", () => {
    type AFields = { id: typeof u32; b: RefType<BFields> };
    type BFields = { id: typeof u32; a: RefType<AFields> };
    const A: StructType<AFields> = defineStruct("A", {
      id: u32,
      b: ref((): StructType<BFields> => B),
    });
    const B: StructType<BFields> = defineStruct("B", { id: u32, a: ref(A) });
    assert.equal(A.fields[1].type.name, "ref<B>");
    const heap = Heap.create();
    const a = A.create(heap, { id: 1 });
    const b = B.create(heap, { id: 2, a });
    a.b = b;
    assert.equal(a.b?.a?.b?.id, 2);
  });

  it("references check the target type and heap", () => {
    const Node = defineStruct("RNode", { next: selfRef });
    const Other = defineStruct("ROther", { next: selfRef });
    const heap = Heap.create();
    const n = Node.create(heap);
    const o = Other.create(heap);
    assert.throws(() => (n.next = o as never), {
      name: "TypeError",
      message: /^Cannot set field "RNode.next": value must be a RNode record or null: /,
    });
    assert.throws(() => (n.next = { next: null } as never), TypeError);
    assert.throws(() => (n.next = n.ptr as never), TypeError);
    const elsewhere = Node.create(Heap.create());
    assert.throws(() => (n.next = elsewhere), {
      name: "TypeError",
      message: /is in another heap/,
    });
    n.next = Node.at(Heap.attach(heap.buffer), n.ptr); // another handle on the same heap is fine
    assert.equal(n.next?.ptr, n.ptr);
  });

  it("a reference to a pointer outside the heap fails to open", () => {
    const Node = defineStruct("BadNode", { next: selfRef });
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 * 1024 });
    const n = Node.create(heap);
    heap.u32[n.ptr >>> 2] = 64 * 1024; // corrupt the pointer
    assert.throws(() => n.next, InvalidPointerError);
  });
});

describe("struct arrays", () => {
  const Cell = defineStruct("Cell", { a: u16, b: f64 });

  it("creates zeroed records back to back and frees them together", () => {
    const heap = Heap.create();
    const before = heap.stats().liveAllocations;
    const cells = Cell.createArray(heap, 10);
    assert.equal(cells.length, 10);
    assert.equal(cells.stride, 16);
    assert.equal(cells.ptr % 8, 0);
    assert.equal(cells.type, Cell);
    for (let i = 0; i < 10; i++) assert.equal(cells.at(i).ptr, cells.ptr + i * 16);
    assert.deepEqual(cells.at(9).toJSON(), { a: 0, b: 0 });
    assert.equal(heap.stats().liveAllocations, before + 1);
    cells.destroy();
    assert.equal(heap.stats().liveAllocations, before);
    heap.check();
  });

  it("each, cursor and iteration visit every record in order", () => {
    const heap = Heap.create();
    const cells = Cell.createArray(heap, 5);
    cells.each((c, i) => (c.a = i * 2));
    const cursor = cells.cursor();
    const seen: number[] = [];
    for (let i = 0; i < cells.length; i++) seen.push(cursor.seek(i).a);
    assert.deepEqual(seen, [0, 2, 4, 6, 8]);
    assert.equal(cursor.index, 4);
    assert.equal(cursor.array, cells);
    assert.equal(cursor.seekUnchecked(1), cursor.record);
    assert.equal(cursor.record.a, 2);
    assert.deepEqual([...cells].map((c) => c.a), [0, 2, 4, 6, 8]);
    const views = [...cells];
    assert.equal(new Set(views).size, 5, "iteration makes a view per record");
    assert.deepEqual(cells.toJSON().map((c) => c.a), [0, 2, 4, 6, 8]);
  });

  it("the cursor's view follows it, nested views included", () => {
    const Body = defineStruct("Body", { pos: Vec });
    const bodies = Body.createArray(Heap.create(), 3);
    const cursor = bodies.cursor();
    const pos0 = cursor.seek(0).pos;
    pos0.x = 1;
    const pos2 = cursor.seek(2).pos;
    assert.equal(pos0, pos2, "one nested view, moved along");
    pos2.x = 3;
    assert.deepEqual(bodies.toJSON().map((b) => (b.pos as { x: number }).x), [1, 0, 3]);
  });

  it("arrayAt reopens an array from its pointer, checking its type", () => {
    const heap = Heap.create();
    const cells = Cell.createArray(heap, 4);
    cells.at(3).b = 1.25;
    const again = Cell.arrayAt(Heap.attach(heap.buffer), cells.ptr);
    assert.equal(again.length, 4);
    assert.equal(again.at(3).b, 1.25);
    const Wide = defineStruct("Wide", { a: f64, b: f64, c: f64 });
    assert.throws(() => Wide.arrayAt(heap, cells.ptr), {
      name: "InvalidPointerError",
      message: /does not hold Wide records \(24 bytes each\): its header says 16 bytes/,
    });
    again.destroy();
    heap.check();
  });

  it("supports empty arrays", () => {
    const heap = Heap.create();
    const none = Cell.createArray(heap, 0);
    assert.equal(none.length, 0);
    assert.deepEqual([...none], []);
    none.each(() => assert.fail("no records"));
    assert.throws(() => none.at(0), RangeError);
    assert.throws(() => none.cursor().seek(0), RangeError);
    assert.equal(Cell.arrayAt(heap, none.ptr).length, 0);
    none.destroy();
    heap.check();
  });

  it("prints as a list of records", () => {
    const Byte = defineStruct("Byte", { v: u8 });
    const bytes = Byte.createArray(Heap.create(), 2);
    const text = Deno.inspect(bytes, { colors: false, breakLength: Infinity });
    assert.match(text, /^Byte\[2\]@\d+ \[ Byte@\d+ \{ v: 0 \}, Byte@\d+ \{ v: 0 \} \]$/);
  });

  it("entries and anonymous definitions", () => {
    const T = defineStruct("Entries", [["tag", u8], ["value", f64]] as const);
    const rec = T.create(Heap.create(), { value: 2 });
    assert.equal(rec.value, 2);
    assert.equal(T.offsetOf("value"), 8);
    assert.equal(defineStruct({ a: u8 }).name, "Struct");
  });
});

describe("printing", () => {
  it("prints handles, cursors and long arrays briefly", () => {
    const Hits = defineStruct("Hits", { n: atomicI32, big: atomicU64 });
    const hits = Hits.create(Heap.create(), { n: 3, big: 4n });
    assert.equal(Deno.inspect(hits.n), "AtomicInt(3)");
    assert.equal(Deno.inspect(hits.big), "AtomicBigInt(4n)");
    assert.equal(Deno.inspect(hits, { colors: false }), `Hits@${hits.ptr} { n: 3, big: 4n }`);
    const Byte = defineStruct("PByte", { v: u8 });
    const bytes = Byte.createArray(Heap.create(), 1000);
    const text = Deno.inspect(bytes, { colors: false });
    assert.match(text, /^PByte\[1000\]@\d+ \[/);
    assert.match(text, /\.\.\. 980 more records/);
    const cursor = bytes.cursor();
    cursor.seek(7);
    assert.equal(Deno.inspect(cursor), `StructCursor(PByte[1000]@${bytes.ptr}, index 7)`);
  });
});

describe("copies and unaligned references", () => {
  it("create and assign copy a record of the same type", () => {
    const heap = Heap.create();
    const a = Particle.create(heap, { id: 5n, pos: { x: 1, y: 2 }, name: "a" });
    const b = Particle.create(heap, a);
    assert.deepEqual(b.toJSON(), a.toJSON());
    assert.notEqual(b.ptr, a.ptr);
    const c = Particle.create(heap);
    Particle.assign(c, b);
    assert.equal(c.name, "a");
    assert.throws(() => Particle.create(heap, Particle.create(Heap.create())), {
      name: "TypeError",
      message: /^Cannot create Particle: the source record is in another heap/,
    });
  });

  it("a reference to a record nested at an odd offset reads it correctly", () => {
    const Node = defineStruct("UNode", { value: f64, next: selfRef });
    const Holder = defineStruct("UHolder", { tag: u8, node: Node }, { packed: true });
    const heap = Heap.create();
    const holder = Holder.create(heap, { node: { value: 2.5 } });
    const head = Node.create(heap, { value: 1, next: holder.node });
    assert.equal(head.next?.ptr, holder.ptr + 1);
    assert.equal(head.next?.value, 2.5);
    const next = head.next;
    assert.ok(next !== null);
    next.value = 3.5;
    assert.equal(holder.node.value, 3.5);
  });
});
