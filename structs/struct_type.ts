/**
 * Struct types: define a record layout once, then create, open, read, write
 * and free records of it in a shared heap.
 *
 * @module
 */

import { DoubleFreeError, HeapCorruptionError, InvalidPointerError } from "../src/errors.ts";
import { _brand, _describe, _isBranded } from "./_brand.ts";
import { _cDeclaration } from "./_c_decl.ts";
import { _debugClassOf, _destroyedAt, _nextGeneration, _POISON_WORD } from "./_debug_views.ts";
import {
  _buildCreate,
  _buildViewClass,
  type CreateRecord,
  type ViewClass,
  type ViewInstance,
} from "./_codegen.ts";
import { _viewsOf, _viewsOfHeap, type HeapViews } from "./_heap_views.ts";
import { _computeLayout, _layouts, type Layout } from "./_layout.ts";
import { _addPrinting } from "./_print.ts";
import { _freeOwned } from "./_owned.ts";
import { _hooks, _RUNTIME } from "./_runtime.ts";
import { _newStructArray, type StructArray } from "./struct_array.ts";
import { _columnsAt, _createColumns, type StructColumns } from "./struct_columns.ts";
import type {
  AnyStructType,
  FieldEntries,
  FieldsOf,
  FieldType,
  StructFields,
  StructInit,
  StructView,
} from "./types.ts";

/**
 * Options of {@linkcode defineStruct}.
 *
 * @example A packed, 4-byte aligned header
 * ```ts
 * import { defineStruct, type StructOptions, u16, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const options: StructOptions = { packed: true, align: 4 };
 * const Header = defineStruct("Header", { tag: u8, len: u16 }, options);
 * assert.deepEqual([Header.offsetOf("len"), Header.size, Header.align], [1, 4, 4]);
 * ```
 */
export interface StructOptions {
  /**
   * Lay fields out back to back with no padding, like
   * `__attribute__((packed))`. Multi-byte fields that end up unaligned are
   * read through a `DataView`. Default: `false` (C layout).
   */
  packed?: boolean;
  /**
   * Minimum alignment of the struct in bytes, a power of two up to 4096, like
   * `__attribute__((aligned(n)))`: it raises the alignment (and rounds the
   * size up to it) but never lowers it below the largest field's, unless
   * `packed`. Default: the largest field alignment, or 1 when `packed`.
   */
  align?: number;
}

/**
 * What a struct type needs from a heap. The `Heap` of
 * `@typedheap/typedheap` has all of it.
 *
 * @example The heap satisfies it
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import type { StructHeap } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap: StructHeap = Heap.create();
 * const ptr = heap.alloc(16, 8);
 * assert.ok(ptr > 0);
 * heap.free(ptr);
 * ```
 */
export interface StructHeap {
  /**
   * The heap's memory: records live at byte offsets into it. A growable
   * buffer must stay the same object for the heap's life (it grows in
   * place, as a `Heap`'s does): struct types remember it by heap.
   */
  readonly buffer: SharedArrayBuffer;
  /**
   * Allocates memory (its contents need not be cleared: records are zeroed
   * by the struct layer).
   *
   * @param sizeBytes The size in bytes.
   * @param alignBytes The alignment in bytes (a power of two, at least 8).
   * @returns The byte offset of the block (never 0), a multiple of `alignBytes`.
   */
  alloc(sizeBytes: number, alignBytes: number): number;
  /**
   * Frees a block returned by `alloc`.
   *
   * @param ptr The block's byte offset.
   */
  free(ptr: number): void;
}

/**
 * One field of a struct type: where it is and what it holds.
 *
 * @example Describing a layout
 * ```ts
 * import { defineStruct, f64, type StructFieldInfo, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", { tag: u8, value: f64 });
 * const value: StructFieldInfo = T.fields[1];
 * assert.deepEqual(
 *   { name: value.name, type: value.type.name, offset: value.offset, size: value.size },
 *   { name: "value", type: "f64", offset: 8, size: 8 },
 * );
 * ```
 */
export interface StructFieldInfo {
  /** The field name. */
  readonly name: string;
  /** The field type. */
  readonly type: FieldType;
  /** Byte offset from the start of the record. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** The alignment the layout gave the field (1 in packed structs). */
  readonly align: number;
}

const EMPTY_INIT = Object.freeze({});

/** What `create` and `at` need to know of a heap in debug mode. */
interface DebugHeap extends StructHeap {
  readonly debugMode?: boolean;
  usableSize?(ptr: number): number;
}

/**
 * A struct type: a record layout plus the operations that create, open and
 * free records of it in a heap. Made by {@linkcode defineStruct}. A struct
 * type is also a field type, for nesting a struct inline in another.
 *
 * @typeParam F The fields, which type the records' properties.
 *
 * @example Records in a heap
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f32, u32, utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Player = defineStruct("Player", { id: u32, score: f32, name: utf8(16) });
 * const heap = Heap.create();
 * const player = Player.create(heap, { id: 1, name: "ada" });
 * player.score += 1.5;
 * const again = Player.at(heap, player.ptr);
 * assert.deepEqual(again.toJSON(), { id: 1, score: 1.5, name: "ada" });
 * Player.destroy(heap, player);
 * ```
 */
export class StructType<F extends StructFields> {
  /** Which family of field type this is. */
  readonly kind: "struct" = "struct";
  /** The struct's name, used in messages and when printing records. */
  readonly name: string;
  /** Size in bytes, padding included (a multiple of `align`). */
  readonly size: number;
  /** Alignment in bytes. */
  readonly align: number;
  /** Whether the layout is packed. */
  readonly packed: boolean;
  /** Every field's name, type, offset and size, in declaration order. */
  readonly fields: readonly StructFieldInfo[];
  /** The field types by name, as given to {@linkcode defineStruct}. */
  readonly fieldTypes: F;
  #layout: Layout;
  #View: ViewClass;
  #Unaligned: ViewClass | undefined;
  #create: CreateRecord;
  #allocAlign: number;
  #headerBytes: number;
  #owned: boolean;
  /** Debug mode: the offset of the generation word after the record. */
  #stampOffset: number;

  /**
   * Defines a struct type; same as {@linkcode defineStruct}.
   *
   * @param name The struct's name.
   * @param fields Field names mapped to field types, or `[name, type]` entries.
   * @param options Layout options.
   */
  constructor(name: string, fields: F | FieldEntries, options: StructOptions = {}) {
    const layout = _computeLayout(name, fields, options?.packed, options?.align);
    this.name = layout.name;
    this.size = layout.size;
    this.align = layout.align;
    this.packed = layout.packed;
    this.fields = Object.freeze(layout.fields.map((f) => Object.freeze({ ...f })));
    this.fieldTypes = Object.freeze(
      Object.fromEntries(layout.fields.map((f) => [f.name, f.type])),
    ) as F;
    this.#layout = layout;
    this.#allocAlign = Math.max(layout.align, 8);
    this.#headerBytes = Math.max(layout.align, 8);
    this.#owned = layout.owned.length > 0;
    this.#stampOffset = (layout.size + 3) & ~3;
    _layouts.set(this, layout);
    _brand(this);
    this.#View = buildView(this, layout, layout.align);
    this.#Unaligned = layout.align === 1 ? this.#View : undefined;
    this.#create = _buildCreate(this, layout, this.#View, this.#allocAlign, _RUNTIME, {
      viewsOf: _viewsOf,
      initError: (init) => initError(this, init),
    });
    Object.freeze(this);
  }

  static {
    _hooks.viewClassOf = (type: AnyStructType, baseAlign: number): ViewClass => {
      if (baseAlign >= type.align) return type.#View;
      type.#Unaligned ??= buildView(type, type.#layout, 1);
      return type.#Unaligned;
    };
    _hooks.open = (type: AnyStructType, views: HeapViews, ptr: number): ViewInstance => {
      if (!views.cover(ptr + type.size)) throw outside(type, "open", ptr, views);
      // A reference may point at a record nested at an unaligned offset of a packed struct.
      if ((ptr & (type.align - 1)) !== 0) return new (_hooks.viewClassOf(type, 1))(views, ptr);
      return new type.#View(views, ptr);
    };
    _hooks.debugOpen = (type: AnyStructType, views: HeapViews, ptr: number): ViewInstance => {
      if (!views.cover(ptr + type.size)) throw outside(type, "open", ptr, views);
      if ((ptr & (type.align - 1)) !== 0) return _hooks.open(type, views, ptr);
      return type.#debugOpen(views, ptr);
    };
  }

  /**
   * The byte offset of a field, or of a nested field given as a dotted path
   * (`"pos.x"`).
   *
   * @param path A field name, or names joined by dots through nested structs.
   * @returns The byte offset from the start of the record.
   * @throws {TypeError} If a name is not a field (or a name before a dot is not a nested struct).
   *
   * @example Offsets of nested fields
   * ```ts
   * import { defineStruct, f32, u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Vec2 = defineStruct("Vec2", { x: f32, y: f32 });
   * const Sprite = defineStruct("Sprite", { layer: u8, pos: Vec2 });
   * assert.equal(Sprite.offsetOf("pos"), 4);
   * assert.equal(Sprite.offsetOf("pos.y"), 8);
   * assert.throws(() => Sprite.offsetOf("pos.z"), TypeError);
   * ```
   */
  offsetOf(path: string): number {
    const names = String(path).split(".");
    let typeName = this.name;
    let fields = this.fields;
    let offset = 0;
    for (let i = 0; i < names.length; i++) {
      const field = fields.find((f) => f.name === names[i]);
      if (field === undefined) {
        throw new TypeError(
          `Cannot get offset of field "${path}": ${typeName} has no field named "${names[i]}"`,
        );
      }
      offset += field.offset;
      if (i < names.length - 1) {
        if (field.type.kind !== "struct") {
          throw new TypeError(
            `Cannot get offset of field "${path}": "${
              names[i]
            }" is not a nested struct: ${field.type.name}`,
          );
        }
        typeName = field.type.name;
        fields = field.type.fields;
      }
    }
    return offset;
  }

  /**
   * Allocates a record in `heap`: zeroed memory, then `init` applied (any
   * subset of the fields; nested structs take nested init objects), or a
   * copy of `init` if it is a record of this type in the same heap.
   *
   * @param heap The heap to allocate in.
   * @param init Initial field values, or a record to copy.
   * @returns A view of the new record.
   * @throws {TypeError} If `init` names an unknown field or has a value of the wrong kind (nothing is allocated).
   * @throws {RangeError} If a string does not fit or an array has the wrong length (nothing is allocated).
   *
   * @example Creating with nested init
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Vec = defineStruct("Vec", { x: f64, y: f64 });
   * const Body = defineStruct("Body", { pos: Vec, vel: Vec, mass: f64 });
   * const body = Body.create(Heap.create(), { pos: { x: 1 }, mass: 2 });
   * assert.deepEqual(body.toJSON(), { pos: { x: 1, y: 0 }, vel: { x: 0, y: 0 }, mass: 2 });
   * assert.throws(() => Body.create(Heap.create(), { speed: 1 } as never), TypeError);
   * ```
   */
  create(heap: StructHeap, init?: StructInit<F> | StructView<F>): StructView<F> {
    // Generated per type (see `_buildCreate`): sizes, offsets and the view
    // class are constants there, and the function is small enough to inline.
    if ((heap as DebugHeap).debugMode === true) {
      return this.#debugCreate(heap as DebugHeap, init) as unknown as StructView<F>;
    }
    return this.#create(heap, init) as unknown as StructView<F>;
  }

  /**
   * `create` in debug mode: the block has one more word after the record
   * (at `#stampOffset`), holding the record's generation, which the view
   * remembers and checks on every field access.
   */
  #debugCreate(heap: DebugHeap, init: unknown): ViewInstance {
    const stampOffset = this.#stampOffset;
    let first = true;
    // The record's block is the first allocation of `create`; blocks of
    // variable-length fields come after it and keep their size.
    const stamped: StructHeap = {
      buffer: heap.buffer,
      alloc: (size: number, align: number): number => {
        if (!first) return heap.alloc(size, align);
        first = false;
        return heap.alloc(stampOffset + 4, align);
      },
      free: (ptr: number): void => heap.free(ptr),
    };
    const views = _viewsOf(heap.buffer);
    let record: ViewInstance;
    try {
      record = this.#create(stamped, init);
    } finally {
      views.heap = heap;
    }
    const ptr = record.$p;
    views.cover(ptr + stampOffset + 4);
    const index = (ptr + stampOffset) >>> 2;
    const generation = _nextGeneration();
    views.u32[index] = generation;
    return new (_debugClassOf(this, this.align))(views, ptr, index, generation);
  }

  /**
   * `at` in debug mode: a checked view if `ptr` is a record made by `create`
   * in debug mode (a live block of exactly that size), a plain view
   * otherwise (a record in an array, or nested in another).
   * @throws {UseAfterFreeError} If `ptr` is a block freed and not yet reused.
   */
  #debugOpen(views: HeapViews, ptr: number): ViewInstance {
    const heap = views.heap as DebugHeap | null;
    const stampOffset = this.#stampOffset;
    let usable = -1;
    try {
      if (heap !== null && typeof heap.usableSize === "function") usable = heap.usableSize(ptr);
    } catch (error) {
      if (error instanceof DoubleFreeError) throw _destroyedAt(this, ptr);
      // Freed by another handle (held, poisoned, in its quarantine): the
      // poison overwrote the redzone too.
      if (
        error instanceof HeapCorruptionError && views.cover(ptr + stampOffset + 4) &&
        views.u32[(ptr + stampOffset) >>> 2] === _POISON_WORD
      ) {
        throw _destroyedAt(this, ptr);
      }
      if (!(error instanceof InvalidPointerError)) throw error;
    }
    if (usable !== stampOffset + 4 || !views.cover(ptr + usable)) {
      return _hooks.open(this, views, ptr);
    }
    const index = (ptr + stampOffset) >>> 2;
    const generation = views.u32[index];
    // Freed by another handle: its quarantine holds the block, poisoned.
    if (generation === _POISON_WORD) throw _destroyedAt(this, ptr);
    return new (_debugClassOf(this, this.align))(views, ptr, index, generation);
  }

  /**
   * Opens the record at `ptr` (made by `create` here or in any worker that
   * attached the same heap).
   *
   * @param heap The heap holding the record.
   * @param ptr The record's byte offset.
   * @returns A new view of the record.
   * @throws {InvalidPointerError} If `ptr` is not a positive integer, is not a multiple of `align`, or the record would end past the heap.
   *
   * @example Reopening a record by pointer
   * ```ts
   * import { Heap, InvalidPointerError } from "@typedheap/typedheap";
   * import { defineStruct, i32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Cell = defineStruct("Cell", { v: i32 });
   * const heap = Heap.create();
   * const ptr = Cell.create(heap, { v: 9 }).ptr;
   * assert.equal(Cell.at(heap, ptr).v, 9);
   * assert.throws(() => Cell.at(heap, ptr + 1), InvalidPointerError);
   * ```
   */
  at(heap: StructHeap, ptr: number): StructView<F> {
    const views = _viewsOfHeap(heap);
    this.#checkPtr(views, ptr, this.size, "open");
    views.heap = heap;
    if ((heap as DebugHeap).debugMode === true) {
      return this.#debugOpen(views, ptr) as unknown as StructView<F>;
    }
    return new this.#View(views, ptr) as unknown as StructView<F>;
  }

  /**
   * Frees a record. Views of it must not be used afterwards (as after
   * `free` in C). The view passed here throws `UseAfterFreeError` on its
   * next field access; other views of the record (copies, `at`, cursors)
   * are caught only in debug mode.
   *
   * @param heap The heap holding the record.
   * @param record A view of the record, or its pointer.
   * @throws {TypeError} If `record` is neither a view of this type nor a number.
   * @throws {InvalidPointerError} From the heap, if the pointer is not a live block (a nested field's view, for one).
   *
   * @example A destroyed view throws on use
   * ```ts
   * import { Heap, UseAfterFreeError } from "@typedheap/typedheap";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Point = defineStruct("Point", { x: f64 });
   * const heap = Heap.create();
   * const p = Point.create(heap, { x: 1 });
   * Point.destroy(heap, p);
   * assert.throws(() => p.x, UseAfterFreeError);
   * ```
   *
   * @example Freeing by view or by pointer
   * ```ts
   * import { DoubleFreeError, Heap } from "@typedheap/typedheap";
   * import { defineStruct, u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Flag = defineStruct("Flag", { on: u8 });
   * const heap = Heap.create();
   * const a = Flag.create(heap);
   * const b = Flag.create(heap);
   * Flag.destroy(heap, a);
   * Flag.destroy(heap, b.ptr);
   * assert.throws(() => Flag.destroy(heap, a), DoubleFreeError);
   * ```
   */
  destroy(heap: StructHeap, record: StructView<F> | number): void {
    // `$t` is a constant on the view classes' prototypes: V8 folds its load to
    // a map check, where `instanceof` would keep a view that is created and
    // destroyed in one function from being optimized away. Anything else
    // goes through `is()`.
    const ptr = typeof record === "number"
      ? record
      : (record as unknown as ViewInstance | null)?.$t === this
      ? (record as unknown as ViewInstance).$p
      : pointerOf(this, record);
    if (this.#owned) this.#freeBlocks(heap, ptr);
    heap.free(ptr);
    // Only the view given here is marked (one store: it gets the dead views,
    // see _codegen.ts): copies of it, other views of the record and
    // `at(ptr)` are not caught in normal mode (see the README).
    if (typeof record !== "number") (record as unknown as ViewInstance).$kill();
  }

  /** Frees the blocks of the record at `ptr` (checked to be a live block first, when the heap can tell). */
  #freeBlocks(heap: StructHeap, ptr: number): void {
    const sized = heap as StructHeap & { usableSize?(ptr: number): number };
    if (typeof sized.usableSize === "function") sized.usableSize(ptr);
    const views = _viewsOfHeap(heap);
    this.#checkPtr(views, ptr, this.size, "destroy");
    _freeOwned(views, heap, ptr, this.#layout.owned);
  }

  /**
   * Allocates `length` zeroed records back to back. The array's length is
   * kept in the heap, so another worker can reopen it from its pointer with
   * {@linkcode StructType.arrayAt}.
   *
   * @param heap The heap to allocate in.
   * @param length The number of records: an integer from 0.
   * @returns The array.
   * @throws {RangeError} If `length` is not such an integer or the array would exceed 4 GiB.
   *
   * @example An array of records
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { defineStruct, u16 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Tile = defineStruct("Tile", { kind: u16 });
   * const heap = Heap.create();
   * const tiles = Tile.createArray(heap, 100);
   * tiles.at(42).kind = 7;
   * assert.equal(Tile.arrayAt(heap, tiles.ptr).at(42).kind, 7);
   * tiles.destroy();
   * ```
   */
  createArray(heap: StructHeap, length: number): StructArray<F> {
    const views = _viewsOfHeap(heap);
    const size = this.size;
    if (!(Number.isInteger(length) && length >= 0 && length * size <= 2 ** 32 - 1)) {
      throw new RangeError(
        `Cannot create ${this.name} array: length must be an integer from 0 to ${
          Math.floor((2 ** 32 - 1) / size)
        }: ${_describe(length)}`,
      );
    }
    const header = this.#headerBytes;
    views.heap = heap;
    const block = heap.alloc(header + length * size, this.#allocAlign);
    const ptr = block + header;
    views.cover(ptr + length * size);
    views.u8.fill(0, block, ptr + length * size);
    views.u32[(ptr - 8) >>> 2] = length;
    views.u32[(ptr - 4) >>> 2] = size;
    return _newStructArray(this, views, this.#View, ptr, length, heap, block);
  }

  /**
   * Opens an array made by {@linkcode StructType.createArray} from its
   * pointer, in any worker that attached the same heap.
   *
   * @param heap The heap holding the array.
   * @param ptr The array's pointer (its `ptr`).
   * @returns The array.
   * @throws {InvalidPointerError} If `ptr` cannot be such an array, or the array's header does not match this type.
   *
   * @example Sharing an array by pointer
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { defineStruct, i32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Score = defineStruct("Score", { points: i32 });
   * const heap = Heap.create();
   * const scores = Score.createArray(heap, 5);
   * const same = Score.arrayAt(heap, scores.ptr);
   * assert.equal(same.length, 5);
   * same.destroy();
   * ```
   */
  arrayAt(heap: StructHeap, ptr: number): StructArray<F> {
    const views = _viewsOfHeap(heap);
    const header = this.#headerBytes;
    this.#checkPtr(views, ptr, 0, "open array");
    if (ptr < header + 8) {
      throw new InvalidPointerError("open array", ptr, "is inside the heap header");
    }
    const length = views.u32[(ptr - 8) >>> 2];
    const stride = views.u32[(ptr - 4) >>> 2];
    if (stride !== this.size) {
      throw new InvalidPointerError(
        "open array",
        ptr,
        `does not hold ${this.name} records (${this.size} bytes each): its header says ${stride} bytes`,
      );
    }
    if (!views.cover(ptr + length * stride)) throw outside(this, "open array", ptr, views);
    views.heap = heap;
    return _newStructArray(this, views, this.#View, ptr, length, heap, ptr - header);
  }

  /**
   * Allocates zeroed struct-of-arrays storage for `length` records: each
   * field is its own contiguous typed array in the heap (16-byte aligned),
   * walked with the same `at`, `each`, `cursor` and `column` as an array of
   * records. See {@linkcode StructColumns} for when to prefer it.
   *
   * @param heap The heap to allocate in.
   * @param length The number of records: an integer from 0.
   * @returns The columns.
   * @throws {TypeError} If a field is not a scalar (nested structs, arrays, strings, references and atomics are not stored as columns).
   * @throws {RangeError} If `length` is not such an integer or the columns would exceed 4 GiB.
   *
   * @example One typed array per field
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Body = defineStruct("Body", { x: f64, vx: f64 });
   * const bodies = Body.createColumns(Heap.create(), 3);
   * bodies.each((b, i) => (b.vx = i));
   * bodies.each((b) => (b.x += b.vx));
   * assert.deepEqual([...bodies.column("x").array], [0, 1, 2]);
   * bodies.destroy();
   * ```
   */
  createColumns(heap: StructHeap, length: number): StructColumns<F> {
    return _createColumns<F>(this, heap, length);
  }

  /**
   * Opens struct-of-arrays storage made by {@linkcode StructType.createColumns}
   * from its pointer, in any worker that attached the same heap.
   *
   * @param heap The heap holding the columns.
   * @param ptr The columns' pointer (their `ptr`).
   * @returns The columns.
   * @throws {InvalidPointerError} If `ptr` cannot be such columns, or their header does not match this type.
   *
   * @example Sharing columns by pointer
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { defineStruct, i32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Score = defineStruct("Score", { points: i32 });
   * const heap = Heap.create();
   * const scores = Score.createColumns(heap, 5);
   * scores.at(4).points = 9;
   * assert.equal(Score.columnsAt(Heap.attach(heap.buffer), scores.ptr).at(4).points, 9);
   * scores.destroy();
   * ```
   */
  columnsAt(heap: StructHeap, ptr: number): StructColumns<F> {
    return _columnsAt<F>(this, heap, ptr);
  }

  /**
   * Whether `value` is a view of a record of this type.
   *
   * @param value Any value.
   * @returns True for views made by this type (including nested fields and cursors).
   *
   * @example Telling record types apart
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { defineStruct, u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const A = defineStruct("A", { a: u8 });
   * const B = defineStruct("B", { a: u8 });
   * const a = A.create(Heap.create());
   * assert.equal(A.is(a), true);
   * assert.equal(B.is(a), false);
   * assert.equal(A.is({ a: 1 }), false);
   * ```
   */
  is(value: unknown): value is StructView<F> {
    return typeof value === "object" && value !== null &&
      (value instanceof this.#View ||
        (this.#Unaligned !== undefined && value instanceof this.#Unaligned));
  }

  /**
   * Writes the fields given in `init` into an existing record, as `create`
   * does (a record of this type in `init` is copied whole).
   *
   * @param record A view of a record of this type.
   * @param init Field values to write, or a record to copy.
   * @throws {TypeError} If `record` is not a view of this type, or `init` is invalid.
   * @throws {RangeError} If a string does not fit or an array has the wrong length.
   *
   * @example Assigning several fields at once
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Vec = defineStruct("Vec", { x: f64, y: f64 });
   * const Line = defineStruct("Line", { from: Vec, to: Vec });
   * const line = Line.create(Heap.create());
   * Vec.assign(line.to, { x: 3, y: 4 });
   * Line.assign(line, { from: line.to });
   * assert.deepEqual(line.toJSON(), { from: { x: 3, y: 4 }, to: { x: 3, y: 4 } });
   * ```
   */
  assign(record: StructView<F>, init: StructInit<F> | StructView<F>): void {
    if (!this.is(record)) {
      throw new TypeError(
        `Cannot assign to ${this.name} record: value must be a ${this.name} record: ${
          _describe(record)
        }`,
      );
    }
    if (typeof init !== "object" || init === null) {
      throw new TypeError(
        `Cannot assign to ${this.name} record: init must be an object: ${_describe(init)}`,
      );
    }
    (record as unknown as ViewInstance).$init(init ?? EMPTY_INIT);
  }

  /**
   * The layout as a C declaration, for checking against a C compiler or
   * another language's layout.
   *
   * @returns The declaration, one field per line with its offset.
   *
   * @example A C declaration
   * ```ts
   * import { defineStruct, f64, u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const T = defineStruct("T", { tag: u8, value: f64 });
   * assert.equal(
   *   T.toString(),
   *   "struct T { /* size 16, align 8 *\/\n  uint8_t tag; /* offset 0 *\/\n  double value; /* offset 8 *\/\n};",
   * );
   * ```
   */
  toString(): string {
    const lines = this.fields.map((f) =>
      `  ${_cDeclaration(f.type, f.name)}; /* offset ${f.offset} */`
    );
    const natural = Math.max(...this.fields.map((f) => f.type.align));
    const attrs = this.packed
      ? ` __attribute__((packed, aligned(${this.align})))`
      : this.align > natural
      ? ` __attribute__((aligned(${this.align})))`
      : "";
    return `struct${attrs} ${this.name} { /* size ${this.size}, align ${this.align} */\n${
      lines.join("\n")
    }\n};`;
  }

  #checkPtr(views: HeapViews, ptr: number, size: number, operation: string): void {
    if (typeof ptr !== "number" || !Number.isInteger(ptr) || ptr <= 0) {
      throw new InvalidPointerError(operation, ptr, "is not a positive integer");
    }
    if (ptr % this.align !== 0) {
      throw new InvalidPointerError(
        operation,
        ptr,
        `is not a multiple of the alignment of ${this.name} (${this.align})`,
      );
    }
    if (!views.cover(ptr + size)) throw outside(this, operation, ptr, views);
  }
}

function initError(type: AnyStructType, init: unknown): TypeError {
  return new TypeError(`Cannot create ${type.name}: init must be an object: ${_describe(init)}`);
}

/** The pointer of a `destroy` argument that is neither a number nor marked as a view of `type`. */
function pointerOf(type: AnyStructType, record: unknown): number {
  if (type.is(record)) return (record as unknown as ViewInstance).$p;
  throw new TypeError(
    `Cannot destroy ${type.name} record: value must be a ${type.name} record or pointer: ${
      _describe(record)
    }`,
  );
}

function outside(type: AnyStructType, operation: string, ptr: number, views: HeapViews): Error {
  return new InvalidPointerError(
    operation,
    ptr,
    `is outside the heap: a ${type.name} there would end past byte ${views.byteLength}`,
  );
}

function buildView(type: AnyStructType, layout: Layout, baseAlign: number): ViewClass {
  const cls = _buildViewClass(type, layout, baseAlign, _hooks.viewClassOf, _RUNTIME);
  _addPrinting(cls.prototype);
  return cls;
}

// ---------------------------------------------------------------------------

/**
 * Defines a struct type from its fields (in declaration order) and options.
 *
 * @typeParam F The fields.
 * @param name The struct's name, used in messages and when printing records.
 * @param fields Field names (identifiers) mapped to field types.
 * @param options Layout options.
 * @returns The struct type.
 * @throws {TypeError} For an unknown field type, a name that is not an identifier, reserved (`ptr`, `toJSON`, `then`, names starting with `__`, …) or repeated, no fields, or an atomic field that a packed layout leaves unaligned.
 * @throws {RangeError} For a bad `align` option or a struct over 2^30 bytes.
 *
 * @example Defining a particle
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, f32, u16, u64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Particle = defineStruct("Particle", { id: u64, x: f32, y: f32, life: u16 });
 * assert.deepEqual([Particle.size, Particle.align, Particle.offsetOf("life")], [24, 8, 16]);
 * const p = Particle.create(Heap.create(), { id: 1n, x: 0.5 });
 * const id: bigint = p.id;
 * assert.equal(id, 1n);
 * ```
 */
export function defineStruct<F extends StructFields>(
  name: string,
  fields: F,
  options?: StructOptions,
): StructType<F>;
/**
 * Defines a struct type from `[name, type]` entries, for definitions built by code.
 *
 * @typeParam E The entries.
 * @param name The struct's name.
 * @param fields The fields as `[name, type]` pairs, in order.
 * @param options Layout options.
 * @returns The struct type.
 *
 * @example Entries
 * ```ts
 * import { defineStruct, u32, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const T = defineStruct("T", [["tag", u8], ["len", u32]]);
 * assert.equal(T.offsetOf("len"), 4);
 * assert.throws(() => defineStruct("T", [["a", u8], ["a", u8]]), TypeError);
 * ```
 */
export function defineStruct<const E extends FieldEntries>(
  name: string,
  fields: E,
  options?: StructOptions,
): StructType<FieldsOf<E>>;
/**
 * Defines an anonymous struct type (named `"Struct"`).
 *
 * @typeParam F The fields.
 * @param fields Field names mapped to field types.
 * @param options Layout options.
 * @returns The struct type.
 *
 * @example Without a name
 * ```ts
 * import { defineStruct, u8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * assert.equal(defineStruct({ a: u8 }).name, "Struct");
 * ```
 */
export function defineStruct<F extends StructFields>(
  fields: F,
  options?: StructOptions,
): StructType<F>;
export function defineStruct(
  a: unknown,
  b?: unknown,
  c?: unknown,
): AnyStructType {
  if (typeof a === "string") {
    return new StructType(a, b as StructFields, checkOptions(a, c));
  }
  if (typeof a === "object" && a !== null && !_isBranded(a)) {
    return new StructType("Struct", a as StructFields, checkOptions("Struct", b));
  }
  throw new TypeError(
    `Cannot define struct: expected a name and fields, or fields: ${_describe(a)}`,
  );
}

function checkOptions(name: string, options: unknown): StructOptions {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot define struct "${name}": options must be an object: ${_describe(options)}`,
    );
  }
  return options as StructOptions;
}
