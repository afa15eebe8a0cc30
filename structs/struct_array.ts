/**
 * Arrays of records laid out back to back in the heap, with a reusable
 * cursor for walking them without creating objects.
 *
 * @module
 */

import { _layoutOf } from "./_layout.ts";
import { _freeOwned } from "./_owned.ts";
import type { ViewClass, ViewInstance } from "./_codegen.ts";
import type { HeapViews } from "./_heap_views.ts";
import {
  _buildIteration,
  _loopFor,
  _reduceLoopFor,
  type CursorInstance,
  type Iteration,
} from "./_iterate.ts";
import { _arrayColumn, type StructColumn } from "./struct_columns.ts";
import type { StructFields, StructType, StructView } from "./types.ts";

/**
 * What {@linkcode StructType.createArray} needs from a heap: the one method
 * used to free the array again.
 *
 * @example A heap frees arrays
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import type { StructArrayHeap } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap: StructArrayHeap = Heap.create();
 * assert.equal(typeof heap.free, "function");
 * ```
 */
export interface StructArrayHeap {
  /** Frees a block returned by the heap's allocator. */
  free(ptr: number): void;
}

/**
 * `length` records of one struct type stored back to back (`stride` bytes
 * apart, the struct's size) starting at `ptr`, like a C array. Made by
 * {@linkcode StructType.createArray} (owned: `destroy()` frees it) or read
 * from an array field of another record (a view into that record).
 *
 * @typeParam F The fields of the element type.
 *
 * @example Creating, filling and walking an array
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Point = defineStruct("Point", { x: f64, y: f64 });
 * const heap = Heap.create();
 * const points = Point.createArray(heap, 3);
 * points.each((p, i) => {
 *   p.x = i;
 *   p.y = i * 10;
 * });
 * assert.equal(points.at(2).y, 20);
 * assert.equal(points.reduce((sum, p) => sum + p.y, 0), 30);
 * assert.deepEqual([...points].map((p) => p.x), [0, 1, 2]);
 * assert.equal(points.at(1).ptr, points.ptr + Point.size);
 * points.destroy();
 * ```
 */
export interface StructArray<F extends StructFields> {
  /** The element type. */
  readonly type: StructType<F>;
  /** The number of records. */
  readonly length: number;
  /** The byte offset of the first record in the heap. */
  readonly ptr: number;
  /** Bytes from one record to the next (the element type's size). */
  readonly stride: number;
  /**
   * A new view of record `index`.
   *
   * @param index An integer in `0..length-1`.
   * @returns The record view.
   * @throws {RangeError} If `index` is out of range.
   */
  at(index: number): StructView<F>;
  /**
   * Calls `fn` for each record with one reused view (a flyweight) moved from
   * record to record: no object is created per record. Do not keep the view
   * beyond the call; use {@linkcode StructArray.at} for that.
   *
   * @param fn Called with the moving view and the record's index.
   */
  each(fn: (record: StructView<F>, index: number) => void): void;
  /**
   * Folds the records into one value, like `Array.prototype.reduce` with an
   * initial value, moving one reused view as {@linkcode StructArray.each}
   * does. For sums and other aggregates prefer it to `each` with a captured
   * variable: V8 keeps the accumulator in a register here, where a number
   * written to a variable of the enclosing function is boxed on every write
   * (several times slower, with a plain `Float64Array` as much as here).
   *
   * @typeParam A The accumulator's type.
   * @param fn Called with the accumulator, the moving view and the record's index; returns the new accumulator.
   * @param initial The accumulator before the first record.
   * @returns The accumulator after the last record (`initial` for an empty array).
   */
  reduce<A>(fn: (acc: A, record: StructView<F>, index: number) => A, initial: A): A;
  /**
   * A cursor: one reusable view that {@linkcode StructCursor.seek} moves to
   * any record, for loops that must make no object per record.
   *
   * @returns A new cursor at record 0.
   */
  cursor(): StructCursor<F>;
  /**
   * One number field of every record as a typed array (a view of the whole
   * heap), the index of record 0's field and the stride in elements, for a
   * raw loop: `for (let i = 0, j = start; i < length; i++, j += stride) array[j]`.
   *
   * @param path A number field, or a dotted path through nested structs (`"pos.x"`).
   * @returns The column.
   * @throws {TypeError} If `path` does not name a number field.
   * @throws {RangeError} If the field is not aligned for a typed array (packed layouts).
   */
  column(path: string): StructColumn;
  /** A new view per record, in order. @returns An iterator over the records. */
  [Symbol.iterator](): IterableIterator<StructView<F>>;
  /**
   * Frees the array (every record in it).
   *
   * @throws {TypeError} If the array is a field of another record.
   */
  destroy(): void;
  /** The records' JSON values. @returns An array of plain objects. */
  toJSON(): { [name: string]: unknown }[];
}

/**
 * A reusable view over the records of a {@linkcode StructArray}: `seek(i)`
 * moves the one view it owns to record `i` and returns it, so a loop over a
 * million records creates no objects. Every view taken from it (including
 * nested struct and atomic field handles read through it) follows the cursor.
 *
 * `seek` checks its index, which costs about as much again as the field
 * accesses of a small record in a tight loop; `seekUnchecked` (for loops
 * whose bounds are already right) runs at the speed of a raw typed-array
 * loop (`bench/struct_program.ts`). The cursor class is generated per struct
 * type, so cursors of other types never slow it down.
 *
 * @typeParam F The fields of the element type.
 *
 * @example Summing without allocating
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Sample = defineStruct("Sample", { v: f64 });
 * const samples = Sample.createArray(Heap.create(), 4);
 * const cursor = samples.cursor();
 * for (let i = 0; i < samples.length; i++) cursor.seek(i).v = i + 0.5;
 * let sum = 0;
 * for (let i = 0; i < samples.length; i++) sum += cursor.seek(i).v;
 * assert.equal(sum, 8);
 * assert.equal(cursor.index, 3);
 * assert.equal(cursor.record.ptr, samples.ptr + 3 * Sample.size);
 * ```
 */
export interface StructCursor<F extends StructFields> {
  /** The array walked. */
  readonly array: StructArray<F>;
  /** The index of the current record. */
  readonly index: number;
  /** The view of the current record (the same object after every seek). */
  readonly record: StructView<F>;
  /**
   * Moves to record `index`.
   *
   * @param index An integer in `0..length-1`.
   * @returns The cursor's view, now on that record.
   * @throws {RangeError} If `index` is out of range.
   */
  seek(index: number): StructView<F>;
  /**
   * Moves to record `index` without the range check, for inner loops that
   * already know it is in range.
   *
   * @param index An integer in `0..length-1` (not checked).
   * @returns The cursor's view, now on that record.
   */
  seekUnchecked(index: number): StructView<F>;
}

/** The implementation of {@linkcode StructArray}. */
export class _StructArray<F extends StructFields> implements StructArray<F> {
  readonly type: StructType<F>;
  readonly length: number;
  readonly ptr: number;
  readonly stride: number;
  readonly $v: HeapViews;
  readonly $C: ViewClass;
  /** The heap that owns the block, or null for an array field of another record. */
  readonly $heap: StructArrayHeap | null;
  /** The start of the allocated block (before the header). */
  readonly $block: number;

  constructor(
    type: StructType<F>,
    views: HeapViews,
    elementClass: ViewClass,
    ptr: number,
    length: number,
    heap: StructArrayHeap | null,
    block: number,
  ) {
    this.type = type;
    this.length = length;
    this.ptr = ptr;
    this.stride = type.size;
    this.$v = views;
    this.$C = elementClass;
    this.$heap = heap;
    this.$block = block;
  }

  at(index: number): StructView<F> {
    if ((index >>> 0) !== index || index >= this.length) {
      indexError("get record of", this.type.name, this.length, index);
    }
    return new this.$C(this.$v, this.ptr + index * this.stride) as unknown as StructView<F>;
  }

  each(fn: (record: StructView<F>, index: number) => void): void {
    const n = this.length;
    if (n === 0) return;
    // A loop generated for this record type and this callback's source:
    // see structs/_iterate.ts for why one shared loop is slow.
    const loop = _loopFor(_iterationOf(this.$C, this.type.name, this.stride), fn, n);
    loop(this.$v, this.ptr, n, fn);
  }

  reduce<A>(fn: (acc: A, record: StructView<F>, index: number) => A, initial: A): A {
    const n = this.length;
    if (n === 0) return initial;
    const loop = _reduceLoopFor(_iterationOf(this.$C, this.type.name, this.stride), fn, initial, n);
    return loop(this.$v, this.ptr, n, fn, initial) as A;
  }

  cursor(): StructCursor<F> {
    const Cursor = _iterationOf(this.$C, this.type.name, this.stride).Cursor;
    return new Cursor(
      this,
      new this.$C(this.$v, this.ptr),
      this.ptr,
      this.length,
    ) as unknown as StructCursor<F>;
  }

  column(path: string): StructColumn {
    return _arrayColumn(this.type, this.$v, this.ptr, this.length, path);
  }

  *[Symbol.iterator](): IterableIterator<StructView<F>> {
    for (let i = 0; i < this.length; i++) {
      yield new this.$C(this.$v, this.ptr + i * this.stride) as unknown as StructView<F>;
    }
  }

  destroy(): void {
    if (this.$heap === null) {
      throw new TypeError(
        `Cannot destroy ${this.type.name} array: it is a field of another record: ${this.ptr}`,
      );
    }
    const owned = _layoutOf(this.type).owned;
    if (owned.length > 0) {
      // Every element's strings and vecs first (their words are in the block).
      for (let i = 0; i < this.length; i++) {
        _freeOwned(this.$v, this.$heap, this.ptr + i * this.stride, owned);
      }
    }
    this.$heap.free(this.$block);
  }

  toJSON(): { [name: string]: unknown }[] {
    const out: { [name: string]: unknown }[] = [];
    const view = new this.$C(this.$v, this.ptr) as unknown as StructView<F> & ViewInstance;
    for (let i = 0; i < this.length; i++) {
      view.$p = this.ptr + i * this.stride;
      out.push(view.toJSON());
    }
    return out;
  }

  [Symbol.for("Deno.customInspect")](
    inspect: (value: unknown, options?: unknown) => string,
    options: unknown,
  ): string {
    return `${this.type.name}[${this.length}]@${this.ptr} ${inspect(this.#sample(), options)}`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): unknown[] {
    return this.#sample();
  }

  /** The first records (at most PRINT_LIMIT) as views, then a note of how many more. */
  #sample(): unknown[] {
    const n = Math.min(this.length, PRINT_LIMIT);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.at(i));
    if (this.length > n) out.push(new Note(`... ${this.length - n} more records`));
    return out;
  }
}

const PRINT_LIMIT = 20;

/** Prints its text as is. */
class Note {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.text;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.text;
  }
}

// Kept out of `at` and `seek` so that they stay small enough to inline.
function indexError(operation: string, type: string, length: number, index: number): never {
  const what = operation === "seek" ? `${type} cursor` : `${type} array`;
  throw new RangeError(
    `Cannot ${operation} ${what}: index must be an integer from 0 to ${length - 1}: ${
      String(index)
    }`,
  );
}

const iterations = new WeakMap<ViewClass, Iteration>();
const arrayClasses = new WeakMap<ViewClass, typeof _StructArray>();
let generatedArrays = 0;

function atError(array: _StructArray<StructFields>, index: number): never {
  indexError("get record of", array.type.name, array.length, index);
}

/**
 * A new array of records whose class is generated for its element view
 * class: its `at` constructs views of that one class, so V8 can inline the
 * construction into the caller and, when the view does not escape, not
 * allocate it at all (the shared `at` constructs the views of every struct
 * type and cannot). Arrays of different types have different classes; the
 * other methods stay shared (they run once per loop, not once per record).
 */
export function _newStructArray<F extends StructFields>(
  type: StructType<F>,
  views: HeapViews,
  View: ViewClass,
  ptr: number,
  length: number,
  heap: StructArrayHeap | null,
  block: number,
): _StructArray<F> {
  let ArrayClass = arrayClasses.get(View);
  if (ArrayClass === undefined) {
    const name = type.name.replace(/[^A-Za-z0-9_]/g, "_");
    // The counter keeps every source distinct (see structs/_iterate.ts).
    const source = `"use strict";
return class _${name}_array_${++generatedArrays} extends Base {
  at(i) {
    if ((i >>> 0) !== i || i >= this.length) atError(this, i);
    return new View(this.$v, this.ptr + i * ${type.size});
  }
  cursor() {
    return new Cursor(this, new View(this.$v, this.ptr), this.ptr, this.length);
  }
};
//# sourceURL=typedheap:${name}.array`;
    const Cursor = _iterationOf(View, type.name, type.size).Cursor;
    ArrayClass = new Function("Base", "View", "Cursor", "atError", source)(
      _StructArray,
      View,
      Cursor,
      atError,
    ) as typeof _StructArray;
    arrayClasses.set(View, ArrayClass);
  }
  return new ArrayClass(type, views, View, ptr, length, heap, block) as _StructArray<F>;
}

/** The generated cursor class and `each` loops of a view class (made on first use). */
export function _iterationOf(View: ViewClass, typeName: string, stride: number): Iteration {
  let iteration = iterations.get(View);
  if (iteration === undefined) {
    iteration = _buildIteration(View, typeName, "$p", stride, _seekError, _addCursorPrinting);
    iterations.set(View, iteration);
  }
  return iteration;
}

/** What a cursor's printing and errors read from the array (or columns) it walks. */
interface Walked {
  readonly type: { readonly name: string };
  readonly length: number;
  readonly ptr: number;
}

function cursorName(cursor: CursorInstance): string {
  const array = cursor.array as Walked;
  return `StructCursor(${array.type.name}[${array.length}]@${array.ptr}, index ${cursor.index})`;
}

/** Throws the error of `seek` to a bad index. */
export function _seekError(cursor: CursorInstance, index: number): never {
  const array = cursor.array as Walked;
  indexError("seek", array.type.name, array.length, index);
}

/** Adds the Deno and Node inspect hooks to a generated cursor class. */
export function _addCursorPrinting(prototype: object): void {
  Object.defineProperties(prototype, {
    [Symbol.for("Deno.customInspect")]: {
      value: function inspect(this: CursorInstance): string {
        return cursorName(this);
      },
    },
    [Symbol.for("nodejs.util.inspect.custom")]: {
      value: function inspect(this: CursorInstance): string {
        return cursorName(this);
      },
    },
  });
}
