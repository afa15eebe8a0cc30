/**
 * Typed records in a shared heap: define a struct type once, then create,
 * read, write, link and free records of it from any worker that attached the
 * heap. Records are laid out like C structs (or packed), fields are read and
 * written through generated accessors at fixed offsets, and arrays of records
 * can be walked with a cursor that creates no objects.
 *
 * @example Particles in a heap
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64, selfRef, u32, utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Vec2 = defineStruct("Vec2", { x: f64, y: f64 });
 * const Particle = defineStruct("Particle", { id: u32, pos: Vec2, vel: Vec2, tag: utf8(8) });
 * assert.deepEqual([Particle.size, Particle.offsetOf("pos.y")], [48, 16]);
 *
 * const heap = Heap.create();
 * const particles = Particle.createArray(heap, 1000);
 * const cursor = particles.cursor();
 * for (let i = 0; i < particles.length; i++) {
 *   const p = cursor.seek(i);
 *   p.id = i;
 *   p.vel.x = 1;
 * }
 * particles.each((p) => {
 *   p.pos.x += p.vel.x;
 * });
 * assert.equal(particles.at(999).pos.x, 1);
 *
 * const Node = defineStruct("Node", { value: u32, next: selfRef });
 * const list = Node.create(heap, { value: 1, next: Node.create(heap, { value: 2 }) });
 * assert.equal(list.next?.value, 2);
 * particles.destroy();
 * ```
 *
 * @module
 */

export { array, ArrayType } from "./array.ts";
export type { ArrayElementType } from "./array.ts";
export {
  AtomicBigInt,
  atomicI32,
  atomicI64,
  AtomicInt,
  AtomicType,
  atomicU32,
  atomicU64,
} from "./atomic.ts";
export type { AtomicKind } from "./atomic.ts";
export { ref, RefType, selfRef, SelfRefType } from "./ref.ts";
export { bool, f32, f64, i16, i32, i64, i8, ScalarType, u16, u32, u64, u8 } from "./scalar.ts";
export type { ScalarKind, ScalarValues } from "./scalar.ts";
export type { StructArray, StructArrayHeap, StructCursor } from "./struct_array.ts";
export type {
  ColumnsCursor,
  ColumnsView,
  NumberArray,
  StructColumn,
  StructColumns,
} from "./struct_columns.ts";
export { defineStruct, StructType } from "./struct_type.ts";
export type { StructFieldInfo, StructHeap, StructOptions } from "./struct_type.ts";
export type {
  AnyStructType,
  ArrayInit,
  ArrayValue,
  AtomicHandles,
  AtomicInits,
  FieldEntries,
  FieldInit,
  FieldsOf,
  FieldType,
  FieldValue,
  InitOf,
  ScalarArrays,
  StructFields,
  StructInit,
  StructRecord,
  StructView,
  VecInit,
  VecValue,
  ViewOf,
  WritableFieldNames,
} from "./types.ts";
export { StringType, utf8, Utf8Type } from "./utf8.ts";
export { vec, VecType } from "./vec.ts";
export type { Vec, VecElementType } from "./vec.ts";
