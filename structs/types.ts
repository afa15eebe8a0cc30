/**
 * Type-level description of struct definitions: which field types exist and
 * what TypeScript type each field has when read from a record or passed to
 * `create`.
 *
 * @module
 */

import type { ArrayElementType, ArrayType } from "./array.ts";
import type { AtomicBigInt, AtomicInt, AtomicType } from "./atomic.ts";
import type { RefType, SelfRefType } from "./ref.ts";
import type { ScalarType, ScalarValues } from "./scalar.ts";
import type { StructArray } from "./struct_array.ts";
import type { StructType } from "./struct_type.ts";
import type { StringType, Utf8Type } from "./utf8.ts";
import type { Vec, VecElementType, VecType } from "./vec.ts";

export type { StructType };

/**
 * A struct type with any fields.
 *
 * @example Accepting any struct type
 * ```ts
 * import { type AnyStructType, defineStruct, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const sizeOf = (type: AnyStructType): number => type.size;
 * assert.equal(sizeOf(defineStruct("B", { b: u8 })), 1);
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyStructType = StructType<any>;

/**
 * Any field type: a scalar, array, string, reference, atomic or nested struct type.
 *
 * @example A field type as a value
 * ```ts
 * import { type FieldType, f64, utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const types: FieldType[] = [f64, utf8(4)];
 * assert.deepEqual(types.map((t) => t.size), [8, 4]);
 * ```
 */
export type FieldType =
  | ScalarType
  | ArrayType
  | Utf8Type
  | StringType
  | VecType
  // deno-lint-ignore no-explicit-any
  | RefType<any>
  | SelfRefType
  | AtomicType
  | AnyStructType;

/**
 * The fields of a struct definition: field names mapped to field types, in
 * declaration order.
 *
 * @example A fields object
 * ```ts
 * import { f64, type StructFields } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const fields: StructFields = { x: f64, y: f64 };
 * assert.deepEqual(Object.keys(fields), ["x", "y"]);
 * ```
 */
export type StructFields = { readonly [name: string]: FieldType };

/**
 * The fields given as `[name, type]` entries, for definitions built by code.
 *
 * @example Entries
 * ```ts
 * import { type FieldEntries, u16, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const entries: FieldEntries = [["tag", u8], ["len", u16]];
 * assert.equal(entries.length, 2);
 * ```
 */
export type FieldEntries = readonly (readonly [string, FieldType])[];

/**
 * The fields object equivalent to a list of entries.
 *
 * @typeParam E The entries.
 *
 * @example From entries to fields
 * ```ts
 * import { type FieldsOf, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const fields: FieldsOf<[["a", typeof u8]]> = { a: u8 };
 * assert.equal(fields.a.size, 1);
 * ```
 */
export type FieldsOf<E extends FieldEntries> = { [P in E[number] as P[0]]: P[1] };

/**
 * The typed array a scalar array field reads as.
 *
 * @example Which typed array
 * ```ts
 * import type { ScalarArrays } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const view: ScalarArrays["bool"] = new Uint8Array(2);
 * assert.equal(view.length, 2);
 * ```
 */
export interface ScalarArrays {
  /** `u8[n]` */
  u8: Uint8Array;
  /** `i8[n]` */
  i8: Int8Array;
  /** `u16[n]` */
  u16: Uint16Array;
  /** `i16[n]` */
  i16: Int16Array;
  /** `u32[n]` */
  u32: Uint32Array;
  /** `i32[n]` */
  i32: Int32Array;
  /** `f32[n]` */
  f32: Float32Array;
  /** `f64[n]` */
  f64: Float64Array;
  /** `bool[n]`, one byte (0 or 1) per element */
  bool: Uint8Array;
  /** `u64[n]` */
  u64: BigUint64Array;
  /** `i64[n]` */
  i64: BigInt64Array;
}

/**
 * The handle an atomic field reads as.
 *
 * @example Which handle
 * ```ts
 * import type { AtomicHandles, AtomicInt } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const isNumberHandle: AtomicHandles["u32"] extends AtomicInt ? true : false = true;
 * assert.ok(isNumberHandle);
 * ```
 */
export interface AtomicHandles {
  /** `atomicI32` */
  i32: AtomicInt;
  /** `atomicU32` */
  u32: AtomicInt;
  /** `atomicI64` */
  i64: AtomicBigInt;
  /** `atomicU64` */
  u64: AtomicBigInt;
}

/**
 * The value an atomic field takes in `create`'s init object.
 *
 * @example Init values
 * ```ts
 * import type { AtomicInits } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const init: AtomicInits["u64"] = 1n;
 * assert.equal(typeof init, "bigint");
 * ```
 */
export interface AtomicInits {
  /** `atomicI32` */
  i32: number;
  /** `atomicU32` */
  u32: number;
  /** `atomicI64` */
  i64: bigint;
  /** `atomicU64` */
  u64: bigint;
}

/**
 * The value read from a field of type `T` in a struct whose fields are `F`.
 *
 * @typeParam T The field type.
 * @typeParam F The fields of the struct holding it (for {@linkcode selfRef}).
 *
 * @example Field value types
 * ```ts
 * import type { f64, FieldValue, u64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const x: FieldValue<typeof f64, {}> = 1.5;
 * const id: FieldValue<typeof u64, {}> = 2n;
 * assert.equal(typeof x + typeof id, "numberbigint");
 * ```
 */
export type FieldValue<T, F extends StructFields> = T extends ScalarType<infer K> ? ScalarValues[K]
  : T extends ArrayType<infer E> ? ArrayValue<E>
  : T extends Utf8Type ? string
  : T extends StringType ? string
  : T extends VecType<infer E> ? VecValue<E>
  : T extends SelfRefType ? StructView<F> | null
  : T extends RefType<infer G> ? StructView<G> | null
  : T extends AtomicType<infer K> ? AtomicHandles[K]
  : T extends StructType<infer G> ? StructView<G>
  : never;

/**
 * The value an array field reads as: a typed array for scalar elements, a
 * {@linkcode StructArray} for struct elements.
 *
 * @typeParam E The element type.
 *
 * @example Array value types
 * ```ts
 * import type { ArrayValue, f32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const v: ArrayValue<typeof f32> = new Float32Array(2);
 * assert.equal(v.length, 2);
 * ```
 */
export type ArrayValue<E extends ArrayElementType> = E extends ScalarType<infer K> ? ScalarArrays[K]
  : E extends StructType<infer G> ? StructArray<G>
  : never;

/**
 * The value a field of type `T` takes in an init object.
 *
 * @typeParam T The field type.
 * @typeParam F The fields of the struct holding it (for {@linkcode selfRef}).
 *
 * @example Init value types
 * ```ts
 * import type { ArrayType, FieldInit, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const bytes: FieldInit<ArrayType<typeof u8>, {}> = [1, 2, 3];
 * assert.equal(bytes.length, 3);
 * ```
 */
export type FieldInit<T, F extends StructFields> = T extends ScalarType<infer K> ? ScalarValues[K]
  : T extends ArrayType<infer E> ? ArrayInit<E>
  : T extends Utf8Type ? string
  : T extends StringType ? string
  : T extends VecType<infer E> ? VecInit<E>
  : T extends SelfRefType ? StructView<F> | null
  : T extends RefType<infer G> ? StructView<G> | null
  : T extends AtomicType<infer K> ? AtomicInits[K]
  : T extends StructType<infer G> ? StructInit<G> | StructView<G>
  : never;

/**
 * The handle a vec field reads as: a {@linkcode Vec} of numbers, booleans or
 * bigints with a typed-array `view()`, or of record views.
 *
 * @typeParam E The element type.
 *
 * @example Vec value types
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f32, vec, type VecValue } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { v: vec(f32) });
 * const v: VecValue<typeof f32> = T.create(Heap.create(), { v: [0.5] }).v;
 * assert.ok(v.view() instanceof Float32Array);
 * ```
 */
export type VecValue<E extends VecElementType> = E extends ScalarType<infer K>
  ? Vec<ScalarValues[K], K extends "bool" ? boolean | number : ScalarValues[K], ScalarArrays[K]>
  : E extends StructType<infer G> ? Vec<StructView<G>, StructInit<G> | StructView<G>>
  : never;

/**
 * The value a vec field takes in an init object: any number of elements.
 *
 * @typeParam E The element type.
 *
 * @example Vec init types
 * ```ts
 * import type { u8, VecInit } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const bytes: VecInit<typeof u8> = [1, 2, 3, 4, 5];
 * assert.equal(bytes.length, 5);
 * ```
 */
export type VecInit<E extends VecElementType> = ArrayInit<E>;

/**
 * The value an array field takes in an init object: exactly `length` elements.
 *
 * @typeParam E The element type.
 *
 * @example Array init types
 * ```ts
 * import type { ArrayInit, bool } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const flags: ArrayInit<typeof bool> = [true, 0, 1];
 * assert.equal(flags.length, 3);
 * ```
 */
export type ArrayInit<E extends ArrayElementType> = E extends ScalarType<"bool">
  ? ArrayLike<boolean | number>
  : E extends ScalarType<infer K> ? ArrayLike<ScalarValues[K]>
  : E extends StructType<infer G> ? ArrayLike<StructInit<G> | StructView<G>>
  : never;

/**
 * The names of the fields of `F` that can be assigned on a record: all but
 * arrays, atomics and nested structs, whose values are written through.
 *
 * @typeParam F The struct's fields.
 *
 * @example Which fields are writable
 * ```ts
 * import type { ArrayType, f64, u8, WritableFieldNames } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * type Fields = { x: typeof f64; bytes: ArrayType<typeof u8> };
 * const name: WritableFieldNames<Fields> = "x";
 * assert.equal(name, "x");
 * ```
 */
export type WritableFieldNames<F> = {
  [K in keyof F]: F[K] extends { readonly kind: "array" | "atomic" | "struct" | "vec" } ? never
    : K;
}[keyof F];

/**
 * What every record view has besides its fields.
 *
 * @example The pointer of a record
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, type StructRecord, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const B = defineStruct("B", { b: u8 });
 * const rec: StructRecord = B.create(Heap.create(), { b: 1 });
 * assert.ok(rec.ptr > 0);
 * assert.deepEqual(rec.toJSON(), { b: 1 });
 * ```
 */
export interface StructRecord {
  /** The byte offset of the record in the heap. */
  readonly ptr: number;
  /**
   * A JSON-safe copy of the field values: 64-bit integers as decimal
   * strings, arrays as plain arrays, nested structs as objects, references
   * as pointers (or `null`).
   */
  toJSON(): { [name: string]: unknown };
}

/**
 * A record view: one getter/setter per field, reading and writing the heap
 * directly. Arrays, atomics and nested structs are read-only properties
 * whose values give access to the memory.
 *
 * @typeParam F The struct's fields.
 *
 * @example Typed access
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64, type StructView, u64, utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Item = defineStruct("Item", { id: u64, price: f64, name: utf8(12) });
 * const item: StructView<typeof Item.fieldTypes> = Item.create(Heap.create());
 * item.id = 5n;
 * item.name = "tea";
 * assert.deepEqual(item.toJSON(), { id: "5", price: 0, name: "tea" });
 * ```
 */
export type StructView<F extends StructFields> =
  & { -readonly [K in WritableFieldNames<F>]: FieldValue<F[K], F> }
  & { readonly [K in Exclude<keyof F, WritableFieldNames<F>>]: FieldValue<F[K], F> }
  & StructRecord;

/**
 * The init object of `create`: any subset of the fields. Nested structs take
 * an init object (or a view to copy); arrays take exactly `length` elements.
 *
 * @typeParam F The struct's fields.
 *
 * @example Partial init
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64, type StructInit } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Vec = defineStruct("Vec", { x: f64, y: f64 });
 * const init: StructInit<typeof Vec.fieldTypes> = { y: 2 };
 * assert.deepEqual(Vec.create(Heap.create(), init).toJSON(), { x: 0, y: 2 });
 * ```
 */
export type StructInit<F extends StructFields> = { [K in keyof F]?: FieldInit<F[K], F> };

/**
 * The record view type of a struct type.
 *
 * @typeParam T The struct type.
 *
 * @example Naming the view type
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64, type ViewOf } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Vec = defineStruct("Vec", { x: f64, y: f64 });
 * const length = (v: ViewOf<typeof Vec>): number => Math.hypot(v.x, v.y);
 * assert.equal(length(Vec.create(Heap.create(), { x: 3, y: 4 })), 5);
 * ```
 */
export type ViewOf<T extends AnyStructType> = T extends StructType<infer F> ? StructView<F> : never;

/**
 * The init object type of a struct type.
 *
 * @typeParam T The struct type.
 *
 * @example Naming the init type
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, type InitOf, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Rgb = defineStruct("Rgb", { r: u8, g: u8, b: u8 });
 * const red: InitOf<typeof Rgb> = { r: 255 };
 * assert.equal(Rgb.create(Heap.create(), red).r, 255);
 * ```
 */
export type InitOf<T extends AnyStructType> = T extends StructType<infer F> ? StructInit<F> : never;
