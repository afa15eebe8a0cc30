/**
 * Fixed-length array fields, stored inline in the record.
 *
 * @module
 */

import { _brand, _describe, _isBranded } from "./_brand.ts";
import { _isPositiveInteger, MAX_FIELD_BYTES } from "./_limits.ts";
import type { ScalarType } from "./scalar.ts";
import type { AnyStructType } from "./types.ts";

/** What an array field may hold: a scalar type or a struct type. */
export type ArrayElementType = ScalarType | AnyStructType;

/**
 * A fixed-length array field, stored inline like C's `T items[length]`.
 * Reading the field gives a zero-copy view of the heap: a typed array
 * (`Float64Array` for `f64`, `Uint8Array` for `u8` and `bool`,
 * `BigInt64Array` for `i64`, …) for scalar elements, or a
 * {@linkcode StructArray} for struct elements. The view is read-only as a
 * property; write through it (`rec.items[2] = 5`, `rec.items.set(values)`).
 *
 * @typeParam E The element type.
 *
 * @example Inspecting an array type
 * ```ts
 * import { array, f32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const color = array(f32, 4);
 * assert.equal(color.name, "f32[4]");
 * assert.deepEqual([color.size, color.align, color.length], [16, 4, 4]);
 * ```
 */
export class ArrayType<E extends ArrayElementType = ArrayElementType> {
  /** Which family of field type this is. */
  readonly kind: "array" = "array";
  /** The name of this type in layouts, such as `"f32[4]"`. */
  readonly name: string;
  /** The element type. */
  readonly element: E;
  /** The number of elements. */
  readonly length: number;
  /** Size in bytes: the element size times the length. */
  readonly size: number;
  /** Alignment in bytes: the element's alignment. */
  readonly align: number;

  /**
   * Creates an array type. Use {@linkcode array} instead.
   *
   * @param element The element type.
   * @param length The number of elements.
   */
  constructor(element: E, length: number) {
    this.element = element;
    this.length = length;
    this.name = `${element.name}[${length}]`;
    this.size = element.size * length;
    this.align = element.align;
    _brand(this);
    Object.freeze(this);
  }
}

/**
 * Makes a fixed-length array field type.
 *
 * @param element A scalar type (`f64`, `u8`, `bool`, `u64`, …) or a struct type.
 * @param length The number of elements: a positive integer.
 * @returns The field type.
 * @throws {TypeError} If `element` is not a scalar or struct type.
 * @throws {RangeError} If `length` is not a positive integer or the array would exceed 2^30 bytes.
 *
 * @example A zero-copy array field
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { array, defineStruct, f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Body = defineStruct("Body", { pos: array(f64, 3) });
 * const body = Body.create(Heap.create(), { pos: [1, 2, 3] });
 * assert.ok(body.pos instanceof Float64Array);
 * body.pos[2] = 30;
 * assert.deepEqual(Array.from(body.pos), [1, 2, 30]);
 * assert.throws(() => array(f64, 0), RangeError);
 * ```
 */
export function array<E extends ArrayElementType>(element: E, length: number): ArrayType<E> {
  const kind = _isBranded(element) ? (element as { kind: string }).kind : undefined;
  if (kind !== "scalar" && kind !== "struct") {
    throw new TypeError(
      `Cannot define array field type: element type must be a scalar or struct type: ${
        _describe(element)
      }`,
    );
  }
  if (!_isPositiveInteger(length, MAX_FIELD_BYTES)) {
    throw new RangeError(
      `Cannot define array field type: length must be a positive integer: ${_describe(length)}`,
    );
  }
  if (element.size * length > MAX_FIELD_BYTES) {
    throw new RangeError(
      `Cannot define array field type: ${element.name}[${length}] exceeds ${MAX_FIELD_BYTES} bytes: ${
        element.size * length
      }`,
    );
  }
  return new ArrayType(element, length);
}
