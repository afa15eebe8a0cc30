/**
 * Types shared by the collections: element types and the JS values they map to.
 *
 * @module
 */

import type { ScalarType, ScalarValues } from "../../structs/scalar.ts";
import type { StructType } from "../../structs/struct_type.ts";
import type { AnyStructType, StructInit, StructView } from "../../structs/types.ts";

/**
 * What a collection holds: a scalar field type (`u32`, `f64`, `i64`, ...) or a struct type.
 *
 * @example Both kinds
 * ```ts
 * import type { ElementType } from "@typedheap/typedheap/collections";
 * import { defineStruct, f64, u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const types: ElementType[] = [u32, defineStruct("P", { x: f64 })];
 * assert.equal(types.length, 2);
 * ```
 */
export type ElementType = ScalarType | AnyStructType;

/**
 * The JS value read from an element of type `T`: a number, bigint or boolean for
 * a scalar, a record view for a struct.
 *
 * @example A u64 element reads as a bigint
 * ```ts
 * import type { ElementValue } from "@typedheap/typedheap/collections";
 * import type { u64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const value: ElementValue<typeof u64> = 5n;
 * assert.equal(typeof value, "bigint");
 * ```
 */
export type ElementValue<T> = T extends ScalarType<infer S> ? ScalarValues[S]
  : T extends StructType<infer F> ? StructView<F>
  : never;

/**
 * The JS value written to an element of type `T`: a scalar value, or field
 * values (or a record of the same type) for a struct.
 *
 * @example Field values for a struct element
 * ```ts
 * import type { ElementInit } from "@typedheap/typedheap/collections";
 * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const P = defineStruct("P", { x: f64, y: f64 });
 * const init: ElementInit<typeof P> = { x: 1 };
 * assert.equal(init.x, 1);
 * ```
 */
export type ElementInit<T> = T extends ScalarType<infer S> ? ScalarValues[S]
  : T extends StructType<infer F> ? StructInit<F> | StructView<F>
  : never;

/**
 * The key kinds of a `SharedMap`.
 *
 * @example
 * ```ts
 * import type { MapKeyKind } from "@typedheap/typedheap/collections";
 * import assert from "node:assert/strict";
 *
 * const kind: MapKeyKind = "string";
 * assert.equal(kind, "string");
 * ```
 */
export type MapKeyKind = "u32" | "i32" | "u64" | "i64" | "f64" | "string";

/**
 * The JS type of a key of kind `K`.
 *
 * @example
 * ```ts
 * import type { MapKey } from "@typedheap/typedheap/collections";
 * import assert from "node:assert/strict";
 *
 * const key: MapKey<"i64"> = -1n;
 * assert.equal(key, -1n);
 * ```
 */
export type MapKey<K extends MapKeyKind> = K extends "u64" | "i64" ? bigint
  : K extends "string" ? string
  : number;

/**
 * What the collections need from a heap: its buffer, its worker id (the owner
 * of the locks a handle takes) and allocation. `Heap` has all of it.
 *
 * @example The heap satisfies it
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import type { CollectionHeap } from "@typedheap/typedheap/collections";
 * import assert from "node:assert/strict";
 *
 * const heap: CollectionHeap = Heap.create();
 * assert.ok(heap.workerId >= 1);
 * ```
 */
export interface CollectionHeap {
  /** The heap's memory; collections live at byte offsets into it. */
  readonly buffer: SharedArrayBuffer;
  /** This handle's worker id, unique among the handles of the heap. */
  readonly workerId: number;
  /**
   * Allocates a block.
   *
   * @param sizeBytes The size in bytes.
   * @param alignBytes The alignment in bytes (a power of two, at least 8).
   * @returns The block's byte offset (never 0).
   */
  alloc(sizeBytes: number, alignBytes?: number): number;
  /**
   * Frees a block returned by `alloc`.
   *
   * @param ptr The block's byte offset.
   */
  free(ptr: number): void;
  /**
   * Resizes a block, keeping its contents.
   *
   * @param ptr The block's byte offset.
   * @param sizeBytes The new size in bytes.
   * @returns The block's (possibly new) byte offset.
   */
  realloc(ptr: number, sizeBytes: number): number;
}
