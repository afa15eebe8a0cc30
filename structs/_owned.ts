// Heap blocks owned by records: variable-length strings (`utf8()`) and vecs
// (`vec(type)`). Reading, replacing, copying and freeing them, and the
// handle a vec field reads as. Not exported from mod.ts.
//
// A string field is two words in the record: the block pointer (0 for the
// empty string) and the byte length. A vec field is three: pointer, length,
// capacity (elements). Blocks are allocated 8-aligned through the heap handle
// the record's views were last used with (`HeapViews.heap`).

import { _describe } from "./_brand.ts";
import { _scalarError } from "./_check.ts";
import type { ViewClass, ViewInstance } from "./_codegen.ts";
import type { HeapViews, OwnerHeap } from "./_heap_views.ts";
import type { OwnedSlot } from "./_layout.ts";
import { _utf8Bytes, _utf8ReadN, _utf8Write } from "./_utf8_codec.ts";
import type { AnyStructType } from "./types.ts";
import type { VecElementType } from "./vec.ts";

/** Bytes allocated for `bytes` bytes of payload (a multiple of 8, at least 8). */
function blockBytes(bytes: number): number {
  return bytes <= 8 ? 8 : Math.ceil(bytes / 8) * 8;
}

/** The heap handle to allocate and free a record's blocks with. */
export function _heapOf(views: HeapViews, field: string): OwnerHeap {
  const heap = views.heap;
  if (heap === null) {
    throw new TypeError(
      `Cannot change field "${field}": no heap handle is known for this buffer in this thread; open the record with Type.at(heap, ptr) first`,
    );
  }
  return heap;
}

/** Makes sure the views cover `[q, q + n)`, a block the record points at. */
function coverBlock(views: HeapViews, q: number, n: number, field: string): void {
  const end = q + n;
  if (end > views.byteLength && !views.cover(end)) {
    throw new RangeError(
      `Cannot read field "${field}": its block at ${q} (${n} bytes) lies past the end of the heap (${views.byteLength} bytes)`,
    );
  }
}

/** Reads a string field's `n` (≥ 1) bytes at block `q`. */
export function _strRead(views: HeapViews, q: number, n: number, field: string): string {
  if (q + n > views.byteLength) coverBlock(views, q, n, field);
  return _utf8ReadN(views.u8, q, n);
}

/**
 * Stores `value` in the string field whose words are at `at`: in place when
 * the bytes fit the old block, else in a new block (the old one freed after).
 */
export function _strSet(views: HeapViews, at: number, value: unknown, field: string): void {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot set field "${field}": value must be a string: ${_describe(value)}`);
  }
  const bytes = _utf8Bytes(value);
  let dv = views.dv;
  const old = dv.getUint32(at, true);
  if (bytes === 0) {
    dv.setUint32(at, 0, true);
    dv.setUint32(at + 4, 0, true);
    if (old !== 0) _heapOf(views, field).free(old);
    return;
  }
  if (old !== 0 && bytes <= blockBytes(dv.getUint32(at + 4, true))) {
    if (old + bytes > views.byteLength) coverBlock(views, old, bytes, field);
    _utf8Write(views.u8, old, bytes, value, bytes);
    views.dv.setUint32(at + 4, bytes, true);
    return;
  }
  const heap = _heapOf(views, field);
  const q = heap.alloc(blockBytes(bytes), 8);
  views.cover(q + bytes);
  _utf8Write(views.u8, q, bytes, value, bytes);
  dv = views.dv;
  dv.setUint32(at, q, true);
  dv.setUint32(at + 4, bytes, true);
  if (old !== 0) heap.free(old);
}

/** Frees the blocks of the record at `ptr` and clears their words. */
export function _freeOwned(
  views: HeapViews,
  heap: { free(ptr: number): void },
  ptr: number,
  owned: readonly OwnedSlot[],
): void {
  const dv = views.dv;
  for (let i = 0; i < owned.length; i++) {
    const slot = owned[i];
    const at = ptr + slot.offset;
    const q = dv.getUint32(at, true);
    if (q === 0) continue;
    dv.setUint32(at, 0, true);
    dv.setUint32(at + 4, 0, true);
    if (slot.vec) dv.setUint32(at + 8, 0, true);
    heap.free(q);
  }
}

/**
 * After the bytes of a record were copied to `ptr`, gives it its own copy of
 * every block (the words still point at the source's). If an allocation
 * fails, the words not yet copied are cleared (empty) before the error goes on.
 */
export function _copyOwned(
  views: HeapViews,
  heap: OwnerHeap,
  ptr: number,
  owned: readonly OwnedSlot[],
): void {
  let i = 0;
  try {
    for (; i < owned.length; i++) {
      const slot = owned[i];
      const at = ptr + slot.offset;
      const q = views.dv.getUint32(at, true);
      if (q === 0) continue;
      const length = views.dv.getUint32(at + 4, true);
      const bytes = length * slot.elementSize;
      if (bytes === 0) {
        clearSlot(views, at, slot);
        continue;
      }
      const copy = heap.alloc(blockBytes(bytes), 8);
      views.cover(copy + bytes);
      views.u8.copyWithin(copy, q, q + bytes);
      views.dv.setUint32(at, copy, true);
      if (slot.vec) views.dv.setUint32(at + 8, length, true);
    }
  } catch (error) {
    for (; i < owned.length; i++) clearSlot(views, ptr + owned[i].offset, owned[i]);
    throw error;
  }
}

function clearSlot(views: HeapViews, at: number, slot: OwnedSlot): void {
  views.dv.setUint32(at, 0, true);
  views.dv.setUint32(at + 4, 0, true);
  if (slot.vec) views.dv.setUint32(at + 8, 0, true);
}

const TYPED: Record<
  string,
  new (buffer: SharedArrayBuffer, offset: number, length: number) => unknown
> = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f32: Float32Array,
  f64: Float64Array,
  bool: Uint8Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
};

/** The handle a vec field reads as (see `Vec` in vec.ts). One per view, moved with it. */
export class _VecHandle {
  /** The heap's views. */
  $v: HeapViews;
  /** The byte address of the field's words (pointer, length, capacity). */
  $a: number;
  /** The element type. */
  readonly $e: VecElementType;
  /** The element view class (struct elements), else null. */
  readonly $C: ViewClass | null;
  /** "Type.field", for messages. */
  readonly $f: string;

  constructor(
    views: HeapViews,
    at: number,
    element: VecElementType,
    elementClass: ViewClass | null,
    field: string,
  ) {
    this.$v = views;
    this.$a = at;
    this.$e = element;
    this.$C = elementClass;
    this.$f = field;
  }

  get length(): number {
    return this.$v.dv.getUint32(this.$a + 4, true);
  }

  get capacity(): number {
    return this.$v.dv.getUint32(this.$a + 8, true);
  }

  /** The block and length, with the views covering the block. */
  #block(): number {
    const views = this.$v;
    const q = views.dv.getUint32(this.$a, true);
    const n = views.dv.getUint32(this.$a + 4, true);
    if (q !== 0) coverBlock(views, q, n * this.$e.size, this.$f);
    return q;
  }

  #check(index: number, operation: string): void {
    const n = this.length;
    if (!((index >>> 0) === index && index < n)) {
      throw new RangeError(
        `Cannot ${operation} element of field "${this.$f}": index must be an integer from 0 to ${
          n - 1
        }: ${_describe(index)}`,
      );
    }
  }

  #read(q: number, index: number): unknown {
    const e = this.$e;
    const views = this.$v;
    const at = q + index * e.size;
    if (e.kind === "struct") return new (this.$C as ViewClass)(views, at);
    switch (e.name) {
      case "u8":
        return views.u8[at];
      case "i8":
        return views.i8[at];
      case "bool":
        return views.u8[at] !== 0;
      case "u16":
        return views.u16[at >>> 1];
      case "i16":
        return views.i16[at >>> 1];
      case "u32":
        return views.u32[at >>> 2];
      case "i32":
        return views.i32[at >>> 2];
      case "f32":
        return views.f32[at >>> 2];
      case "f64":
        return views.f64[at >>> 3];
      case "u64":
        return views.u64[at >>> 3];
      default:
        return views.i64[at >>> 3];
    }
  }

  /** Checks a value for an element (throws the field's error). */
  #validate(value: unknown, index: number): void {
    const e = this.$e;
    if (e.kind === "struct") {
      if (e.is(value)) {
        if ((value as unknown as ViewInstance).$v !== this.$v) {
          throw new TypeError(
            `Cannot set element ${index} of field "${this.$f}": the ${e.name} record is in another heap`,
          );
        }
        return;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new TypeError(
          `Cannot set element ${index} of field "${this.$f}": value must be a ${e.name} init object or record: ${
            _describe(value)
          }`,
        );
      }
      _validateHook(value, e, this.$v, `Cannot set element ${index} of field "${this.$f}"`);
      return;
    }
    const error = _scalarError(e.name, value, `Cannot set element ${index} of field "${this.$f}"`);
    if (error !== null) throw error;
  }

  #write(q: number, index: number, value: unknown): void {
    const e = this.$e;
    const views = this.$v;
    const at = q + index * e.size;
    if (e.kind === "struct") {
      new (this.$C as ViewClass)(views, at).$init(value as object);
      return;
    }
    switch (e.name) {
      case "u8":
        views.u8[at] = value as number;
        return;
      case "i8":
        views.i8[at] = value as number;
        return;
      case "bool":
        views.u8[at] = value ? 1 : 0;
        return;
      case "u16":
        views.u16[at >>> 1] = value as number;
        return;
      case "i16":
        views.i16[at >>> 1] = value as number;
        return;
      case "u32":
        views.u32[at >>> 2] = value as number;
        return;
      case "i32":
        views.i32[at >>> 2] = value as number;
        return;
      case "f32":
        views.f32[at >>> 2] = value as number;
        return;
      case "f64":
        views.f64[at >>> 3] = value as number;
        return;
      case "u64":
        views.u64[at >>> 3] = value as bigint;
        return;
      default:
        views.i64[at >>> 3] = value as bigint;
    }
  }

  get(index: number): unknown {
    this.#check(index, "get");
    return this.#read(this.#block(), index);
  }

  set(index: number, value: unknown): void {
    this.#check(index, "set");
    this.#validate(value, index);
    this.#write(this.#block(), index, value);
  }

  /** Makes room for `capacity` elements, keeping the first `keep`; returns the block. */
  #reserve(capacity: number, keep: number): number {
    const views = this.$v;
    const q = this.#block();
    if (capacity <= this.capacity) return q;
    const size = this.$e.size;
    if (capacity * size > 2 ** 32 - 16) {
      throw new RangeError(
        `Cannot grow field "${this.$f}": ${capacity} elements of ${size} bytes exceed 4 GiB`,
      );
    }
    const heap = _heapOf(views, this.$f);
    const block = heap.alloc(blockBytes(capacity * size), 8);
    views.cover(block + capacity * size);
    if (keep > 0) views.u8.copyWithin(block, q, q + keep * size);
    views.dv.setUint32(this.$a, block, true);
    views.dv.setUint32(this.$a + 8, capacity, true);
    if (q !== 0) heap.free(q);
    return block;
  }

  push(value: unknown): number {
    const n = this.length;
    this.#validate(value, n);
    const q = n < this.capacity ? this.#block() : this.#reserve(Math.max(4, n * 2), n);
    this.#write(q, n, value);
    this.$v.dv.setUint32(this.$a + 4, n + 1, true);
    return n + 1;
  }

  pop(): unknown {
    const n = this.length;
    if (n === 0) return undefined;
    const value = this.#read(this.#block(), n - 1);
    this.$v.dv.setUint32(this.$a + 4, n - 1, true);
    return value;
  }

  clear(): void {
    this.$v.dv.setUint32(this.$a + 4, 0, true);
  }

  assign(values: ArrayLike<unknown>): void {
    if (
      typeof values !== "object" || values === null || typeof values.length !== "number"
    ) {
      throw new TypeError(
        `Cannot set field "${this.$f}": value must be an array-like: ${_describe(values)}`,
      );
    }
    const n = values.length;
    for (let i = 0; i < n; i++) this.#validate(values[i], i);
    const q = this.#reserve(n, 0);
    for (let i = 0; i < n; i++) this.#write(q, i, values[i]);
    this.$v.dv.setUint32(this.$a + 4, n, true);
  }

  view(): unknown {
    const e = this.$e;
    if (e.kind === "struct") {
      throw new TypeError(
        `Cannot view field "${this.$f}" as a typed array: its elements are ${e.name} records`,
      );
    }
    const q = this.#block();
    return new TYPED[e.name](this.$v.buffer, q, q === 0 ? 0 : this.length);
  }

  toArray(): unknown[] {
    const q = this.#block();
    const n = this.length;
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.#read(q, i));
    return out;
  }

  toJSON(): unknown[] {
    return this.toArray().map((v) =>
      typeof v === "bigint"
        ? String(v)
        : typeof v === "object" && v !== null
        ? (v as { toJSON(): unknown }).toJSON()
        : v
    );
  }

  *[Symbol.iterator](): IterableIterator<unknown> {
    const n = this.length;
    for (let i = 0; i < n; i++) yield this.#read(this.#block(), i);
  }

  [Symbol.for("Deno.customInspect")](
    inspect: (value: unknown, options?: unknown) => string,
    options: unknown,
  ): string {
    return inspect(this.toArray(), options);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): unknown {
    return this.toArray();
  }
}

/** Set by _runtime.ts: checks an init object for a struct type (no writes). */
export let _validateHook: (
  init: object,
  type: AnyStructType,
  views: HeapViews,
  where: string,
) => void = (): void => {};

/** Installs the init checker (called once by _runtime.ts). */
export function _setValidateHook(hook: typeof _validateHook): void {
  _validateHook = hook;
}
