/**
 * Variable-length array fields ("vecs"), stored in a heap block the record
 * owns.
 *
 * @module
 */

import { _brand, _describe, _isBranded } from "./_brand.ts";
import { _layoutOf } from "./_layout.ts";
import type { ScalarType } from "./scalar.ts";
import type { AnyStructType } from "./types.ts";

/** What a vec field may hold: a scalar type or a struct type without variable-length fields. */
export type VecElementType = ScalarType | AnyStructType;

/**
 * A variable-length array field: the record holds a pointer to a heap block
 * with the elements, the length and the capacity (12 bytes, aligned to 4:
 * `uint32_t ptr, len, cap`). The record owns the block: `push` grows it
 * (doubling; a new block, the old one freed), `destroy` frees it. Reading
 * the field gives a {@linkcode Vec} handle. Made by {@linkcode vec}.
 *
 * @typeParam E The element type.
 *
 * @example Inspecting a vec type
 * ```ts
 * import { f64, vec } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const samples = vec(f64);
 * assert.equal(samples.name, "vec<f64>");
 * assert.deepEqual([samples.kind, samples.size, samples.align], ["vec", 12, 4]);
 * ```
 */
export class VecType<E extends VecElementType = VecElementType> {
  /** Which family of field type this is. */
  readonly kind: "vec" = "vec";
  /** The name of this type in layouts, such as `"vec<f64>"`. */
  readonly name: string;
  /** The element type. */
  readonly element: E;
  /** Size in bytes in the record (pointer, length and capacity). */
  readonly size: number = 12;
  /** Alignment in bytes. */
  readonly align: number = 4;

  /**
   * Creates a vec type. Use {@linkcode vec} instead.
   *
   * @param element The element type.
   */
  constructor(element: E) {
    this.element = element;
    this.name = `vec<${element.name}>`;
    _brand(this);
    Object.freeze(this);
  }
}

/**
 * Makes a variable-length array field type.
 *
 * @param element A scalar type (`f64`, `u8`, `bool`, `u64`, …) or a struct
 * type that has no variable-length fields itself.
 * @returns The field type.
 * @throws {TypeError} If `element` is not such a type.
 *
 * @example A growable list of samples
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64, vec } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const Series = defineStruct("Series", { samples: vec(f64) });
 * const s = Series.create(heap, { samples: [1, 2] });
 * s.samples.push(3);
 * assert.equal(s.samples.length, 3);
 * assert.deepEqual(Array.from(s.samples.view()), [1, 2, 3]); // zero-copy Float64Array
 * Series.destroy(heap, s); // frees the samples' block too
 * ```
 */
export function vec<E extends VecElementType>(element: E): VecType<E> {
  const kind = _isBranded(element) ? (element as { kind: string }).kind : undefined;
  if (kind !== "scalar" && kind !== "struct") {
    throw new TypeError(
      `Cannot define vec field type: element type must be a scalar or struct type: ${
        _describe(element)
      }`,
    );
  }
  if (kind === "struct" && _layoutOf(element).owned.length > 0) {
    throw new TypeError(
      `Cannot define vec field type: element struct ${element.name} has variable-length fields (utf8() or vec()), which vec elements cannot hold`,
    );
  }
  return new VecType(element);
}

/**
 * What a vec field reads as: a handle on the field's elements in the heap.
 * The handle is cached by the record view (reading the field twice gives the
 * same handle). Struct elements are read as views into the block, valid
 * until the vec next grows; `view()` likewise.
 *
 * @typeParam T The element value read.
 * @typeParam I The element value written.
 * @typeParam A The typed array `view()` returns (`never` for struct elements).
 *
 * @example Using a vec handle
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, u32, vec, type Vec } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Bag = defineStruct("Bag", { ids: vec(u32) });
 * const ids: Vec<number, number, Uint32Array> = Bag.create(Heap.create()).ids;
 * ids.push(7);
 * ids.push(9);
 * ids.set(0, 8);
 * assert.deepEqual([ids.length, ids.get(0), ids.pop(), ids.length], [2, 8, 9, 1]);
 * assert.deepEqual([...ids], [8]);
 * ```
 */
export interface Vec<T, I = T, A = never> extends Iterable<T> {
  /** The number of elements. */
  readonly length: number;
  /** The number of elements the current block holds. */
  readonly capacity: number;
  /**
   * Reads an element.
   *
   * @param index An integer in `0..length-1`.
   * @returns The element (a view for struct elements).
   * @throws {RangeError} If `index` is out of range.
   */
  get(index: number): T;
  /**
   * Writes an element.
   *
   * @param index An integer in `0..length-1`.
   * @param value The value (an init object or record for struct elements).
   * @throws {RangeError} If `index` is out of range or the value is out of the element type's range.
   * @throws {TypeError} If the value has the wrong type.
   */
  set(index: number, value: I): void;
  /**
   * Appends an element, growing the block (doubling) when it is full.
   *
   * @param value The value.
   * @returns The new length.
   */
  push(value: I): number;
  /**
   * Removes the last element.
   *
   * @returns It, or `undefined` if the vec is empty.
   */
  pop(): T | undefined;
  /** Sets the length to 0 (the block is kept). */
  clear(): void;
  /**
   * Replaces the contents (every value is checked before anything is written).
   *
   * @param values The new elements.
   */
  assign(values: ArrayLike<I>): void;
  /**
   * A zero-copy typed array over the elements (number and bigint elements
   * only), valid until the vec next grows.
   *
   * @returns The typed array.
   * @throws {TypeError} For struct elements.
   */
  view(): A;
  /**
   * Copies the elements into a JS array.
   *
   * @returns The elements.
   */
  toArray(): T[];
  /**
   * The elements for JSON (64-bit integers as strings, records as objects).
   *
   * @returns A JSON-safe array.
   */
  toJSON(): unknown[];
}
