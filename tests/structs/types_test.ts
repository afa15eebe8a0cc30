// Compile-time checks of the inferred record types (`deno check` runs them),
// plus one runtime assertion so the file is a test.

import { it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import {
  array,
  atomicI32,
  type AtomicInt,
  bool,
  defineStruct,
  f32,
  i64,
  type InitOf,
  selfRef,
  type StructArray,
  u64,
  u8,
  utf8,
  type Vec as VecHandle,
  vec,
  type ViewOf,
} from "../../structs/mod.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

const Vec = defineStruct("TVec", { x: f32, y: f32 });
const Item = defineStruct("TItem", {
  id: u64,
  delta: i64,
  alive: bool,
  name: utf8(8),
  pos: Vec,
  path: array(Vec, 2),
  bytes: array(u8, 4),
  hits: atomicI32,
  next: selfRef,
  title: utf8(),
  scores: vec(f32),
  points: vec(Vec),
});
type Item = ViewOf<typeof Item>;

expectType<Equal<Item["id"], bigint>>();
expectType<Equal<Item["delta"], bigint>>();
expectType<Equal<Item["alive"], boolean>>();
expectType<Equal<Item["name"], string>>();
expectType<Equal<Item["pos"], ViewOf<typeof Vec>>>();
expectType<Equal<Item["path"], StructArray<typeof Vec.fieldTypes>>>();
expectType<Equal<Item["bytes"], Uint8Array>>();
expectType<Equal<Item["hits"], AtomicInt>>();
expectType<Equal<Item["next"], Item | null>>();
expectType<Equal<Item["ptr"], number>>();
expectType<Equal<InitOf<typeof Item>["bytes"], ArrayLike<number> | undefined>>();
expectType<Equal<Item["title"], string>>();
expectType<Equal<Item["scores"], VecHandle<number, number, Float32Array>>>();
expectType<Equal<ReturnType<Item["scores"]["view"]>, Float32Array>>();
expectType<Equal<ReturnType<Item["points"]["get"]>, ViewOf<typeof Vec>>>();
expectType<Equal<InitOf<typeof Item>["scores"], ArrayLike<number> | undefined>>();

function misuse(item: Item): void {
  // @ts-expect-error: u64 fields take bigints
  item.id = 1;
  // @ts-expect-error: array fields are written through their view
  item.bytes = new Uint8Array(4);
  // @ts-expect-error: nested structs are written through their view
  item.pos = Vec.create(Heap.create());
  // @ts-expect-error: atomic fields are written through their handle
  item.hits = 1;
  // @ts-expect-error: the pointer is read-only
  item.ptr = 8;
  // @ts-expect-error: references take records of their type
  item.next = Vec.create(Heap.create());
  // @ts-expect-error: unknown init fields
  Item.create(Heap.create(), { colour: 1 });
  // @ts-expect-error: variable-length strings take strings
  item.title = 5;
  // @ts-expect-error: vec fields are written through their handle
  item.scores = [1];
  // @ts-expect-error: vec elements have the element type
  item.scores.push(1n);
}

it("infers field types from the definition", () => {
  const item = Item.create(Heap.create(), { id: 1n, name: "a", pos: { x: 1 } });
  assert.equal(typeof misuse, "function");
  const id: bigint = item.id;
  const next: Item | null = item.next;
  assert.deepEqual([id, next, item.pos.x], [1n, null, 1]);
});
