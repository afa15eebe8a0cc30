/**
 * Scalar field types: fixed-size integers, floats, booleans and 64-bit
 * integers read as `bigint`.
 *
 * @module
 */

import { _brand } from "./_brand.ts";

/** The name of a scalar field type. */
export type ScalarKind =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "f32"
  | "f64"
  | "bool"
  | "u64"
  | "i64";

/**
 * The JavaScript value of each scalar kind: `bigint` for 64-bit integers,
 * `boolean` for `bool`, `number` for the rest.
 */
export interface ScalarValues {
  /** Unsigned 8-bit integer. */
  u8: number;
  /** Signed 8-bit integer. */
  i8: number;
  /** Unsigned 16-bit integer. */
  u16: number;
  /** Signed 16-bit integer. */
  i16: number;
  /** Unsigned 32-bit integer. */
  u32: number;
  /** Signed 32-bit integer. */
  i32: number;
  /** 32-bit IEEE 754 float. */
  f32: number;
  /** 64-bit IEEE 754 float. */
  f64: number;
  /** One byte, 0 or 1. */
  bool: boolean;
  /** Unsigned 64-bit integer. */
  u64: bigint;
  /** Signed 64-bit integer. */
  i64: bigint;
}

/**
 * A scalar field type. Its size and alignment follow the x86-64 C ABI
 * (`uint8_t` … `double`, `bool` as one byte, 64-bit integers aligned to 8).
 * Stores are checked: integer fields take integers in their range (a
 * `RangeError` otherwise, never a silent wrap), floats any number, 64-bit
 * fields `bigint`s in range, `bool` booleans (or 0 and 1); a value of the
 * wrong JS type is a `TypeError`. Every error names the field.
 *
 * @typeParam K The scalar kind.
 *
 * @example Inspecting a scalar type
 * ```ts
 * import { f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * assert.equal(f64.name, "f64");
 * assert.equal(f64.size, 8);
 * assert.equal(f64.align, 8);
 * ```
 */
export class ScalarType<K extends ScalarKind = ScalarKind> {
  /** Which family of field type this is. */
  readonly kind: "scalar" = "scalar";
  /** The scalar kind, also its name in layouts. */
  readonly name: K;
  /** Size in bytes. */
  readonly size: number;
  /** Natural alignment in bytes. */
  readonly align: number;

  /**
   * Creates a scalar type. Use the exported constants (`u8`, `f64`, …) instead.
   *
   * @param name The scalar kind.
   * @param sizeBytes Its size, which is also its alignment.
   */
  constructor(name: K, sizeBytes: number) {
    this.name = name;
    this.size = sizeBytes;
    this.align = sizeBytes;
    _brand(this);
    Object.freeze(this);
  }
}

/**
 * Unsigned 8-bit integer field (`uint8_t`), read as a `number` in `0..255`.
 *
 * @example An unsigned byte is checked
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Pixel = defineStruct("Pixel", { r: u8, g: u8, b: u8 });
 * const pixel = Pixel.create(Heap.create(), { r: 255, g: 1 });
 * assert.equal(pixel.r, 255);
 * assert.throws(() => (pixel.g = 300), RangeError); // Cannot set field "Pixel.g": …
 * assert.throws(() => (pixel.g = "7" as never), TypeError);
 * assert.equal(pixel.g, 1);
 * assert.equal(Pixel.size, 3);
 * ```
 */
export const u8: ScalarType<"u8"> = new ScalarType("u8", 1);

/**
 * Signed 8-bit integer field (`int8_t`), read as a `number` in `-128..127`.
 *
 * @example A signed byte
 * ```ts
 * import { defineStruct, i8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * assert.equal(i8.size, 1);
 * assert.equal(defineStruct("Delta", { dx: i8, dy: i8 }).size, 2);
 * ```
 */
export const i8: ScalarType<"i8"> = new ScalarType("i8", 1);

/**
 * Unsigned 16-bit integer field (`uint16_t`), aligned to 2 bytes.
 *
 * @example Padding before a 16-bit field
 * ```ts
 * import { defineStruct, u16, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { tag: u8, port: u16 });
 * assert.equal(T.offsetOf("port"), 2);
 * ```
 */
export const u16: ScalarType<"u16"> = new ScalarType("u16", 2);

/**
 * Signed 16-bit integer field (`int16_t`), aligned to 2 bytes.
 *
 * @example A signed 16-bit field
 * ```ts
 * import { i16 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([i16.size, i16.align], [2, 2]);
 * ```
 */
export const i16: ScalarType<"i16"> = new ScalarType("i16", 2);

/**
 * Unsigned 32-bit integer field (`uint32_t`), aligned to 4 bytes.
 *
 * @example A 32-bit flags word
 * ```ts
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([u32.size, u32.align], [4, 4]);
 * ```
 */
export const u32: ScalarType<"u32"> = new ScalarType("u32", 4);

/**
 * Signed 32-bit integer field (`int32_t`), aligned to 4 bytes.
 *
 * @example Reading a signed 32-bit field
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, i32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Counter = defineStruct("Counter", { value: i32 });
 * const c = Counter.create(Heap.create(), { value: -(2 ** 31) });
 * assert.equal(c.value, -2147483648);
 * assert.throws(() => (c.value = 2 ** 31), RangeError);
 * ```
 */
export const i32: ScalarType<"i32"> = new ScalarType("i32", 4);

/**
 * 32-bit float field (`float`): values are rounded to single precision.
 *
 * @example Single-precision rounding
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { v: f32 });
 * const t = T.create(Heap.create(), { v: 0.1 });
 * assert.equal(t.v, Math.fround(0.1));
 * ```
 */
export const f32: ScalarType<"f32"> = new ScalarType("f32", 4);

/**
 * 64-bit float field (`double`), aligned to 8 bytes.
 *
 * @example A double-precision field
 * ```ts
 * import { defineStruct, f64, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { flag: u8, value: f64 });
 * assert.equal(T.offsetOf("value"), 8);
 * assert.equal(T.size, 16);
 * ```
 */
export const f64: ScalarType<"f64"> = new ScalarType("f64", 8);

/**
 * Boolean field stored as one byte (`bool`): writes take `true`/`false`
 * (or 1 and 0) and store 1 or 0; reads are `true` for any non-zero byte.
 *
 * @example A boolean flag
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { bool, defineStruct } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { alive: bool });
 * const t = T.create(Heap.create(), { alive: true });
 * assert.equal(t.alive, true);
 * t.alive = false;
 * assert.equal(t.alive, false);
 * ```
 */
export const bool: ScalarType<"bool"> = new ScalarType("bool", 1);

/**
 * Unsigned 64-bit integer field (`uint64_t`), read and written as a `bigint`
 * (a `number` is a `TypeError`: convert with `BigInt(n)`).
 *
 * @example Storing the largest u64
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, u64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { id: u64 });
 * const t = T.create(Heap.create(), { id: 2n ** 64n - 1n });
 * assert.equal(t.id, 18446744073709551615n);
 * ```
 */
export const u64: ScalarType<"u64"> = new ScalarType("u64", 8);

/**
 * Signed 64-bit integer field (`int64_t`), read and written as a `bigint`.
 *
 * @example Storing the smallest i64
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, i64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { t: i64 });
 * const t = T.create(Heap.create(), { t: -(2n ** 63n) });
 * assert.equal(t.t, -9223372036854775808n);
 * ```
 */
export const i64: ScalarType<"i64"> = new ScalarType("i64", 8);
