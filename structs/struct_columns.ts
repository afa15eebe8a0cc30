/**
 * Columns: one number field of an array of records as a typed array, a first
 * index and a stride, for raw loops; and struct-of-arrays storage, where
 * every field of the records is its own contiguous typed array in the heap.
 *
 * @module
 */

import { InvalidPointerError } from "../src/errors.ts";
import { _describe } from "./_brand.ts";
import { _viewsOf, type HeapViews } from "./_heap_views.ts";
import {
  _buildIteration,
  _loopFor,
  _reduceLoopFor,
  type EachLoop,
  type Iteration,
} from "./_iterate.ts";
import { _layoutOf, type FieldLayout } from "./_layout.ts";
import { _addCursorPrinting, _seekError } from "./struct_array.ts";
import type { StructType } from "./struct_type.ts";
import type { AnyStructType, StructFields, StructView } from "./types.ts";

/**
 * The typed arrays a column can be: one per number field type (`bool`
 * fields are bytes holding 0 or 1).
 *
 * @example Reading a column element
 * ```ts
 * import type { NumberArray } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const array: NumberArray = new Float32Array([1.5]);
 * assert.equal(array[0], 1.5);
 * ```
 */
export type NumberArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

/**
 * One number field of every record, for a raw loop: element `i` of the
 * field is `array[start + i * stride]`.
 *
 * @example Summing a field without views
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64, type StructColumn } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Vec = defineStruct("Vec", { x: f64, y: f64 });
 * const vecs = Vec.createArray(Heap.create(), 3);
 * vecs.each((v, i) => (v.y = i));
 * const y: StructColumn = vecs.column("y");
 * let sum = 0;
 * for (let i = 0, j = y.start; i < y.length; i++, j += y.stride) sum += y.array[j];
 * assert.equal(sum, 3);
 * assert.equal(y.stride, 2); // 16-byte records, 8-byte elements
 * ```
 */
export interface StructColumn {
  /** The typed array holding the field (for an array of records: a view of the whole heap). */
  readonly array: NumberArray;
  /** The index in `array` of the field of record 0. */
  readonly start: number;
  /** Elements of `array` from one record's field to the next (1 for struct-of-arrays). */
  readonly stride: number;
  /** The number of records. */
  readonly length: number;
}

/** The typed-array constructor and the heap view of each number field kind. */
const NUMBER_ARRAYS: Record<
  string,
  [new (b: ArrayBufferLike, o: number, n: number) => NumberArray, keyof HeapViews]
> = {
  u8: [Uint8Array, "u8"],
  i8: [Int8Array, "i8"],
  u16: [Uint16Array, "u16"],
  i16: [Int16Array, "i16"],
  u32: [Uint32Array, "u32"],
  i32: [Int32Array, "i32"],
  f32: [Float32Array, "f32"],
  f64: [Float64Array, "f64"],
  bool: [Uint8Array, "u8"],
};

/** The scalar field at a dotted `path` of `type` and its byte offset in the record. */
function fieldAt(type: AnyStructType, path: string): { kind: string; offset: number } {
  const names = String(path).split(".");
  let current: AnyStructType = type;
  let offset = 0;
  for (let i = 0; i < names.length; i++) {
    const field = current.fields.find((f) => f.name === names[i]);
    if (field === undefined) {
      throw new TypeError(
        `Cannot get column "${path}" of ${type.name}: ${current.name} has no field named "${
          names[i]
        }"`,
      );
    }
    offset += field.offset;
    const t = field.type;
    if (i < names.length - 1) {
      if (t.kind !== "struct") {
        throw new TypeError(
          `Cannot get column "${path}" of ${type.name}: "${
            names[i]
          }" is not a nested struct: ${t.name}`,
        );
      }
      current = t;
    } else if (t.kind !== "scalar" || NUMBER_ARRAYS[t.name] === undefined) {
      throw new TypeError(
        `Cannot get column "${path}" of ${type.name}: only number fields have columns: ${t.name}`,
      );
    }
  }
  const last = names[names.length - 1];
  const field = current.fields.find((f) => f.name === last) as { type: { name: string } };
  return { kind: field.type.name, offset };
}

/** The column of field `path` of the `length` records of `type` from byte offset `ptr`. */
export function _arrayColumn(
  type: AnyStructType,
  views: HeapViews,
  ptr: number,
  length: number,
  path: string,
): StructColumn {
  const { kind, offset } = fieldAt(type, path);
  const array = views[NUMBER_ARRAYS[kind][1]] as NumberArray;
  const size = array.BYTES_PER_ELEMENT;
  const at = ptr + offset;
  if (at % size !== 0 || type.size % size !== 0) {
    throw new RangeError(
      `Cannot get column "${path}" of ${type.name}: its ${kind} elements are not ${size}-byte aligned in this packed layout: byte offset ${offset} of ${type.size}-byte records`,
    );
  }
  return { array, start: at / size, stride: type.size / size, length };
}

// ---------------------------------------------------------------------------
// Struct-of-arrays

/**
 * A record of struct-of-arrays columns: the fields of record `i`, read and
 * written in their columns. No `ptr`: a record has no address of its own.
 *
 * @typeParam F The struct's fields (scalars only).
 *
 * @example A record of columns
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { type ColumnsView, defineStruct, f32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const P = defineStruct("P", { x: f32, y: f32 });
 * const ps = P.createColumns(Heap.create(), 2);
 * const p: ColumnsView<typeof P.fieldTypes> = ps.at(1);
 * p.y = 0.5;
 * assert.equal(ps.column("y").array[1], 0.5);
 * ```
 */
export type ColumnsView<F extends StructFields> = Omit<StructView<F>, "ptr">;

/**
 * A reusable view over struct-of-arrays records, like
 * {@linkcode StructCursor}: `seek(i)` moves its one view to record `i`.
 *
 * @typeParam F The struct's fields.
 *
 * @example Walking columns with a cursor
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const S = defineStruct("S", { v: f64 });
 * const ss = S.createColumns(Heap.create(), 4);
 * const cursor = ss.cursor();
 * for (let i = 0; i < ss.length; i++) cursor.seekUnchecked(i).v = i;
 * assert.equal(cursor.seek(3).v, 3);
 * assert.equal(cursor.index, 3);
 * assert.throws(() => cursor.seek(4), RangeError);
 * ```
 */
export interface ColumnsCursor<F extends StructFields> {
  /** The columns walked. */
  readonly array: StructColumns<F>;
  /** The index of the current record. */
  readonly index: number;
  /** The view of the current record (the same object after every seek). */
  readonly record: ColumnsView<F>;
  /**
   * Moves to record `index`.
   *
   * @param index An integer in `0..length-1`.
   * @returns The cursor's view, now on that record.
   * @throws {RangeError} If `index` is out of range.
   */
  seek(index: number): ColumnsView<F>;
  /**
   * Moves to record `index` without the range check.
   *
   * @param index An integer in `0..length-1` (not checked).
   * @returns The cursor's view, now on that record.
   */
  seekUnchecked(index: number): ColumnsView<F>;
}

/**
 * `length` records stored as struct-of-arrays: each field is its own
 * contiguous typed array in the heap (16-byte aligned, one after another in
 * one block), where an array of records ({@linkcode StructArray}) interleaves
 * them. Made by {@linkcode StructType.createColumns}; the same `at`, `each`,
 * `cursor` and `column` as an array of records.
 *
 * Prefer it when loops read one or two fields of many records (a scan of one
 * field reads only that field's bytes, where records drag the whole record
 * through the cache), when the data goes to SIMD code, a GPU buffer or a file
 * as one array per field, or when a column is handed to code that takes a
 * plain typed array. Prefer an array of records when loops use most fields
 * of each record, or records are passed around one at a time (they have a
 * `ptr`; a struct-of-arrays record is only an index).
 *
 * @typeParam F The struct's fields (scalars only).
 *
 * @example Columns of particles
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f32, u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Particle = defineStruct("Particle", { id: u32, x: f32, vx: f32 });
 * const heap = Heap.create();
 * const ps = Particle.createColumns(heap, 1000);
 * ps.each((p, i) => {
 *   p.id = i;
 *   p.vx = 0.5;
 * });
 * ps.each((p) => (p.x += p.vx));
 * assert.equal(ps.reduce((sum, p) => sum + p.x, 0), 500);
 * const x = ps.column("x").array; // a Float32Array of 1000 elements, in the heap
 * assert.equal(x.length, 1000);
 * assert.equal(x[999], 0.5);
 * assert.equal(Particle.columnsAt(heap, ps.ptr).at(7).id, 7);
 * ps.destroy();
 * ```
 */
export interface StructColumns<F extends StructFields> {
  /** The record type. */
  readonly type: StructType<F>;
  /** The number of records. */
  readonly length: number;
  /** The byte offset of the first column in the heap (pass it to `columnsAt`). */
  readonly ptr: number;
  /**
   * A new view of record `index`.
   *
   * @param index An integer in `0..length-1`.
   * @returns The record view.
   * @throws {RangeError} If `index` is out of range.
   */
  at(index: number): ColumnsView<F>;
  /**
   * Calls `fn` for each record with one reused view moved from record to
   * record, as {@linkcode StructArray.each}.
   *
   * @param fn Called with the moving view and the record's index.
   */
  each(fn: (record: ColumnsView<F>, index: number) => void): void;
  /**
   * Folds the records into one value, as {@linkcode StructArray.reduce}.
   *
   * @typeParam A The accumulator's type.
   * @param fn Called with the accumulator, the moving view and the record's index; returns the new accumulator.
   * @param initial The accumulator before the first record.
   * @returns The accumulator after the last record (`initial` when empty).
   */
  reduce<A>(fn: (acc: A, record: ColumnsView<F>, index: number) => A, initial: A): A;
  /** A cursor: one reusable view. @returns A new cursor at record 0. */
  cursor(): ColumnsCursor<F>;
  /**
   * The column of field `name`: its own typed array, `start` 0, `stride` 1.
   *
   * @param name A number field.
   * @returns The column.
   * @throws {TypeError} If `name` is not a number field.
   */
  column(name: string): StructColumn;
  /** A new view per record, in order. @returns An iterator over the records. */
  [Symbol.iterator](): IterableIterator<ColumnsView<F>>;
  /** Frees the columns. */
  destroy(): void;
  /** The records' JSON values. @returns An array of plain objects. */
  toJSON(): { [name: string]: unknown }[];
}

/** The instance shape of a generated columns view class. */
interface ColumnsViewInstance {
  /** The record index. */
  $i: number;
}

type ColumnsViewClass = new (arrays: readonly unknown[], index: number) => ColumnsViewInstance;

/** What is generated once per struct type for its columns. */
interface ColumnsMeta {
  readonly View: ColumnsViewClass;
  readonly iteration: Iteration;
  readonly fields: readonly FieldLayout[];
}

const metas = new WeakMap<AnyStructType, ColumnsMeta>();
let generated = 0;

/** Element constructors of the scalar kinds that columns store. */
const COLUMN_ARRAYS: Record<
  string,
  new (buffer: ArrayBufferLike, offset: number, length: number) => ArrayLike<unknown>
> = {
  ...Object.fromEntries(Object.entries(NUMBER_ARRAYS).map(([k, [ctor]]) => [k, ctor])),
  u64: BigUint64Array,
  i64: BigInt64Array,
};

function columnsError(type: AnyStructType, field: FieldLayout): TypeError {
  return new TypeError(
    `Cannot store ${type.name} as columns: only scalar fields can be columns: field "${field.name}" is ${
      _describe(field.type)
    }`,
  );
}

/** The columns view class, cursor and loops of `type` (made on first use). */
function metaOf(type: AnyStructType): ColumnsMeta {
  let meta = metas.get(type);
  if (meta !== undefined) return meta;
  const fields = _layoutOf(type).fields;
  for (const field of fields) {
    if (field.type.kind !== "scalar") throw columnsError(type, field);
  }
  const name = type.name.replace(/[^A-Za-z0-9_]/g, "_");
  const ctor = fields.map((_, k) => `this.$a${k} = $arrays[${k}];`).join(" ");
  const members = fields.map((field, k) => {
    const kind = (field.type as { name: string }).name;
    const cell = `this.$a${k}[this.$i]`;
    return kind === "bool"
      ? `get ${field.name}() { return ${cell} !== 0; }\n  set ${field.name}($x) { ${cell} = $x ? 1 : 0; }`
      : `get ${field.name}() { return ${cell}; }\n  set ${field.name}($x) { ${cell} = $x; }`;
  });
  const json = fields.map((field) => {
    const kind = (field.type as { name: string }).name;
    return kind === "u64" || kind === "i64"
      ? `${field.name}: String(this.${field.name})`
      : `${field.name}: this.${field.name}`;
  });
  // Fixed shape: every field is set in the constructor; the counter makes the
  // source unique (see structs/_iterate.ts).
  const source = `"use strict";
return class _${name}_columns_${++generated} {
  constructor($arrays, $index) { ${ctor} this.$i = $index; }
  ${members.join("\n  ")}
  toJSON() { return { ${json.join(", ")} }; }
};
//# sourceURL=typedheap:${name}.columns`;
  const View = new Function(source)() as ColumnsViewClass;
  addRecordPrinting(View.prototype, type.name);
  const iteration = _buildIteration(View, type.name, "$i", 1, _seekError, _addCursorPrinting);
  meta = { View, iteration, fields };
  metas.set(type, meta);
  return meta;
}

function addRecordPrinting(prototype: object, name: string): void {
  const text = (view: ColumnsViewInstance & { toJSON(): unknown }): string =>
    `${name}#${view.$i} ${JSON.stringify(view.toJSON())}`;
  Object.defineProperties(prototype, {
    [Symbol.for("Deno.customInspect")]: {
      value: function inspect(this: ColumnsViewInstance & { toJSON(): unknown }): string {
        return text(this);
      },
    },
    [Symbol.for("nodejs.util.inspect.custom")]: {
      value: function inspect(this: ColumnsViewInstance & { toJSON(): unknown }): string {
        return text(this);
      },
    },
  });
}

/** Bytes before the first column: length, field count, record size, magic. */
const HEADER_BYTES = 16;
/** Every column starts at a multiple of this (SIMD loads, GPU buffer offsets). */
const COLUMN_ALIGN = 16;
/** Marks a struct-of-arrays block ("SoA1"). */
const MAGIC = 0x31416f53;

/** Byte offsets of the columns from the first, and the total size. */
function columnOffsets(fields: readonly FieldLayout[], length: number): number[] {
  const out: number[] = [];
  let at = 0;
  for (const field of fields) {
    out.push(at);
    at += Math.ceil((length * field.size) / COLUMN_ALIGN) * COLUMN_ALIGN;
  }
  out.push(at);
  return out;
}

/** What columns need from a heap. */
interface ColumnsHeap {
  readonly buffer: SharedArrayBuffer;
  alloc(sizeBytes: number, alignBytes: number): number;
  free(ptr: number): void;
}

/** Allocates zeroed struct-of-arrays storage for `length` records of `type`. */
export function _createColumns<F extends StructFields>(
  type: AnyStructType,
  heap: ColumnsHeap,
  length: number,
): StructColumns<F> {
  const meta = metaOf(type);
  const views = _viewsOf(heap.buffer);
  const limit = Math.floor(
    (2 ** 32 - 1 - HEADER_BYTES - meta.fields.length * COLUMN_ALIGN) / type.size,
  );
  if (!(Number.isInteger(length) && length >= 0 && length <= limit)) {
    throw new RangeError(
      `Cannot create ${type.name} columns: length must be an integer from 0 to ${limit}: ${
        _describe(length)
      }`,
    );
  }
  const offsets = columnOffsets(meta.fields, length);
  const total = offsets[offsets.length - 1];
  const block = heap.alloc(HEADER_BYTES + total, COLUMN_ALIGN);
  const ptr = block + HEADER_BYTES;
  views.cover(ptr + total);
  views.u8.fill(0, ptr, ptr + total);
  const u32 = views.u32;
  u32[block >>> 2] = length;
  u32[(block >>> 2) + 1] = meta.fields.length;
  u32[(block >>> 2) + 2] = type.size;
  u32[(block >>> 2) + 3] = MAGIC;
  return new _StructColumns<F>(type, meta, heap, ptr, length, offsets);
}

/** Opens struct-of-arrays storage made by `_createColumns` from its pointer. */
export function _columnsAt<F extends StructFields>(
  type: AnyStructType,
  heap: ColumnsHeap,
  ptr: number,
): StructColumns<F> {
  const meta = metaOf(type);
  const views = _viewsOf(heap.buffer);
  if (typeof ptr !== "number" || !Number.isInteger(ptr) || ptr < HEADER_BYTES + 8) {
    throw new InvalidPointerError(
      "open columns",
      ptr,
      "is not a positive integer past the heap header",
    );
  }
  if (ptr % COLUMN_ALIGN !== 0) {
    throw new InvalidPointerError("open columns", ptr, `is not a multiple of ${COLUMN_ALIGN}`);
  }
  if (!views.cover(ptr)) {
    throw new InvalidPointerError(
      "open columns",
      ptr,
      `is outside the heap (${views.byteLength} bytes)`,
    );
  }
  const at = (ptr - HEADER_BYTES) >>> 2;
  const u32 = views.u32;
  if (u32[at + 3] !== MAGIC || u32[at + 1] !== meta.fields.length || u32[at + 2] !== type.size) {
    throw new InvalidPointerError(
      "open columns",
      ptr,
      `does not hold ${type.name} columns (${meta.fields.length} fields, ${type.size}-byte records): its header says ${
        u32[at + 1]
      } fields, ${u32[at + 2]} bytes`,
    );
  }
  const length = u32[at];
  const offsets = columnOffsets(meta.fields, length);
  if (!views.cover(ptr + offsets[offsets.length - 1])) {
    throw new InvalidPointerError(
      "open columns",
      ptr,
      `is outside the heap: ${length} ${type.name} records there would end past byte ${views.byteLength}`,
    );
  }
  return new _StructColumns<F>(type, meta, heap, ptr, length, offsets);
}

/** The implementation of {@linkcode StructColumns}. */
class _StructColumns<F extends StructFields> implements StructColumns<F> {
  readonly type: StructType<F>;
  readonly length: number;
  readonly ptr: number;
  readonly $meta: ColumnsMeta;
  readonly $arrays: readonly ArrayLike<unknown>[];
  readonly $heap: ColumnsHeap;

  constructor(
    type: AnyStructType,
    meta: ColumnsMeta,
    heap: ColumnsHeap,
    ptr: number,
    length: number,
    offsets: readonly number[],
  ) {
    this.type = type as unknown as StructType<F>;
    this.length = length;
    this.ptr = ptr;
    this.$meta = meta;
    this.$heap = heap;
    this.$arrays = meta.fields.map((field, k) => {
      const kind = (field.type as { name: string }).name;
      return new COLUMN_ARRAYS[kind](heap.buffer, ptr + offsets[k], length);
    });
  }

  at(index: number): ColumnsView<F> {
    if ((index >>> 0) !== index || index >= this.length) {
      throw new RangeError(
        `Cannot get record of ${this.type.name} columns: index must be an integer from 0 to ${
          this.length - 1
        }: ${String(index)}`,
      );
    }
    return new this.$meta.View(this.$arrays, index) as unknown as ColumnsView<F>;
  }

  each(fn: (record: ColumnsView<F>, index: number) => void): void {
    const n = this.length;
    if (n === 0) return;
    // One loop per callback source, as for arrays of records (structs/_iterate.ts).
    const loop: EachLoop = _loopFor(this.$meta.iteration, fn, n);
    loop(this.$arrays, 0, n, fn);
  }

  reduce<A>(fn: (acc: A, record: ColumnsView<F>, index: number) => A, initial: A): A {
    const n = this.length;
    if (n === 0) return initial;
    const loop = _reduceLoopFor(this.$meta.iteration, fn, initial, n);
    return loop(this.$arrays, 0, n, fn, initial) as A;
  }

  cursor(): ColumnsCursor<F> {
    const view = new this.$meta.View(this.$arrays, 0);
    return new this.$meta.iteration.Cursor(
      this,
      view as never,
      0,
      this.length,
    ) as unknown as ColumnsCursor<F>;
  }

  column(name: string): StructColumn {
    const k = this.$meta.fields.findIndex((f) => f.name === name);
    const field = this.$meta.fields[k];
    if (field === undefined || NUMBER_ARRAYS[(field.type as { name: string }).name] === undefined) {
      throw new TypeError(
        `Cannot get column "${name}" of ${this.type.name} columns: ${
          field === undefined
            ? "no such field"
            : `only number fields have columns: ${field.type.name}`
        }`,
      );
    }
    return { array: this.$arrays[k] as NumberArray, start: 0, stride: 1, length: this.length };
  }

  *[Symbol.iterator](): IterableIterator<ColumnsView<F>> {
    for (let i = 0; i < this.length; i++) {
      yield new this.$meta.View(this.$arrays, i) as unknown as ColumnsView<F>;
    }
  }

  destroy(): void {
    this.$heap.free(this.ptr - HEADER_BYTES);
  }

  toJSON(): { [name: string]: unknown }[] {
    const out: { [name: string]: unknown }[] = [];
    const view = new this.$meta.View(this.$arrays, 0) as unknown as ColumnsViewInstance & {
      toJSON(): { [name: string]: unknown };
    };
    for (let i = 0; i < this.length; i++) {
      view.$i = i;
      out.push(view.toJSON());
    }
    return out;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return `${this.type.name} columns[${this.length}]@${this.ptr}`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `${this.type.name} columns[${this.length}]@${this.ptr}`;
  }
}
