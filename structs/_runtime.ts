// Helpers called by the generated view classes: the cold paths of field
// writes (strings, references, nested structs, arrays, init checks). Not
// exported from mod.ts.

import { InvalidPointerError, UseAfterFreeError } from "../src/errors.ts";
import { _describe } from "./_brand.ts";
import { _noField, _scalarError } from "./_check.ts";
import type { Runtime, ViewClass, ViewInstance } from "./_codegen.ts";
import { HeapViews } from "./_heap_views.ts";
import { _layoutOf, type FieldLayout, type Layout } from "./_layout.ts";
import {
  _copyOwned,
  _freeOwned,
  _heapOf,
  _setValidateHook,
  _strRead,
  _strSet,
  _VecHandle,
} from "./_owned.ts";
import { _utf8Length, _utf8Read, _utf8Write } from "./_utf8_codec.ts";
import { AtomicBigInt, AtomicInt } from "./atomic.ts";
import { _StructArray } from "./struct_array.ts";
import type { AnyStructType, FieldType } from "./types.ts";

/** Access to struct types' private state, installed by `StructType`'s static block. */
export const _hooks: {
  /** The view class of `type` for records at a multiple of `baseAlign`. */
  viewClassOf: (type: AnyStructType, baseAlign: number) => ViewClass;
  /** A view of the `type` record at `ptr`, after checking the views cover it. */
  open: (type: AnyStructType, views: HeapViews, ptr: number) => ViewInstance;
  /** Debug mode: a checked view of the `type` record at `ptr` if `create` made it, else a plain one. */
  debugOpen: (type: AnyStructType, views: HeapViews, ptr: number) => ViewInstance;
} = {
  viewClassOf: () => {
    throw new Error("StructType is not loaded");
  },
  open: () => {
    throw new Error("StructType is not loaded");
  },
  debugOpen: () => {
    throw new Error("StructType is not loaded");
  },
};

/** The error for a view passed to `destroy`, used again. */
function destroyed(typeName: string, ptr: number): UseAfterFreeError {
  const error = new UseAfterFreeError(ptr, ptr);
  error.message = `Cannot use ${typeName} record at ${ptr}: this view was passed to destroy`;
  return error;
}

/**
 * The error of a generated accessor that found `view` dead, or read no
 * value (`undefined` from a typed array): a view passed to `destroy` has the
 * dead views, whose arrays are empty; a live one can only read past the end
 * of the heap if a cursor was moved there by `seekUnchecked`.
 */
function accessError(view: ViewInstance): Error {
  const ptr = view.$p;
  if (view.$dead) return destroyed(view.$t.name, ptr);
  return new InvalidPointerError(
    "use",
    ptr,
    `is outside the heap: a ${view.$t.name} there would end past byte ${view.$v.byteLength}`,
  );
}

/** Debug mode: the error for a view whose record was destroyed (or that was itself passed to `destroy`). */
function stale(view: ViewInstance): never {
  const ptr = view.$p;
  if (view.$dead) throw destroyed(view.$t.name, ptr);
  const error = new UseAfterFreeError(ptr, ptr);
  error.message =
    `Cannot use ${view.$t.name} record at ${ptr}: it was destroyed (its generation word changed)`;
  throw error;
}
// Runtime helpers called by the generated view classes.

function fieldName(layout: Layout, index: number): string {
  return `${layout.name}.${layout.fields[index].name}`;
}

function utf8Set(
  u8: Uint8Array,
  offset: number,
  maxBytes: number,
  value: unknown,
  layout: Layout,
  index: number,
): void {
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot set field "${fieldName(layout, index)}": value must be a string: ${_describe(value)}`,
    );
  }
  const length = _utf8Length(value);
  if (length < 0) {
    throw new RangeError(
      `Cannot set field "${fieldName(layout, index)}": string contains U+0000 at index ${
        -1 - length
      }: ${preview(value)}`,
    );
  }
  if (length > maxBytes) {
    throw new RangeError(
      `Cannot set field "${
        fieldName(layout, index)
      }": string needs ${length} UTF-8 bytes but the field holds ${maxBytes}: ${preview(value)}`,
    );
  }
  _utf8Write(u8, offset, maxBytes, value, length);
}

function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function refPtr(
  value: unknown,
  views: HeapViews,
  target: AnyStructType,
  layout: Layout,
  index: number,
): number {
  if (value === null) return 0;
  if (!target.is(value)) {
    throw new TypeError(
      `Cannot set field "${
        fieldName(layout, index)
      }": value must be a ${target.name} record or null: ${_describe(value)}`,
    );
  }
  const view = value as unknown as ViewInstance;
  if (view.$v !== views) {
    throw new TypeError(
      `Cannot set field "${
        fieldName(layout, index)
      }": the ${target.name} record is in another heap: ${view.$p}`,
    );
  }
  return view.$p;
}

function misalignedArray(layout: Layout, index: number, ptr: number): never {
  const type = layout.fields[index].type as { element: { name: string; size: number } };
  throw new RangeError(
    `Cannot view array field "${
      fieldName(layout, index)
    }": ${type.element.name} elements need ${type.element.size}-byte alignment, which this packed record does not have at byte address: ${ptr}`,
  );
}

/** Copies a whole record onto another of the same type in the same heap. */
function copy(target: ViewInstance, source: ViewInstance): void {
  const type = target.$t;
  if (source.$v !== target.$v) {
    throw new TypeError(
      `Cannot copy ${type.name} record: the source record is in another heap: ${source.$p}`,
    );
  }
  copyRecord(target.$v, type, target.$p, source.$p);
}

/**
 * Copies the `type` record at `from` onto the one at `to`: the bytes, then
 * a copy of every block the source owns (the target's old blocks are freed
 * first). Copying a record onto itself changes nothing.
 */
function copyRecord(views: HeapViews, type: AnyStructType, to: number, from: number): void {
  if (to === from) return;
  const owned = _layoutOf(type).owned;
  if (owned.length === 0) {
    views.u8.copyWithin(to, from, from + type.size);
    return;
  }
  const heap = _heapOf(views, type.name);
  _freeOwned(views, heap, to, owned);
  views.u8.copyWithin(to, from, from + type.size);
  _copyOwned(views, heap, to, owned);
}

function assign(view: ViewInstance, layout: Layout, index: number, value: unknown): void {
  const field = layout.fields[index];
  const type = field.type;
  if (type.kind === "struct") {
    assignStruct(view.$v, type, view.$p + field.offset, value, layout, index);
  } else if (type.kind === "array") {
    assignArray(view, field, value, layout, index);
  }
}

function assignStruct(
  views: HeapViews,
  type: AnyStructType,
  ptr: number,
  value: unknown,
  layout: Layout,
  index: number,
): void {
  if (type.is(value)) {
    const source = value as unknown as ViewInstance;
    if (source.$v !== views) {
      throw new TypeError(
        `Cannot set field "${
          fieldName(layout, index)
        }": the ${type.name} record is in another heap: ${source.$p}`,
      );
    }
    copyRecord(views, type, ptr, source.$p);
    return;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Cannot set field "${
        fieldName(layout, index)
      }": value must be a ${type.name} init object or record: ${_describe(value)}`,
    );
  }
  new (_hooks.viewClassOf(type, 1))(views, ptr).$init(value);
}

function assignArray(
  view: ViewInstance,
  field: FieldLayout,
  value: unknown,
  layout: Layout,
  index: number,
): void {
  const type = field.type as { element: FieldType; length: number };
  if (
    typeof value !== "object" || value === null ||
    typeof (value as ArrayLike<unknown>).length !== "number"
  ) {
    throw new TypeError(
      `Cannot set field "${
        fieldName(layout, index)
      }": value must be an array-like of ${type.length} elements: ${_describe(value)}`,
    );
  }
  const values = value as ArrayLike<unknown>;
  if (values.length !== type.length) {
    throw new RangeError(
      `Cannot set field "${
        fieldName(layout, index)
      }": expected ${type.length} elements, got ${values.length}`,
    );
  }
  const element = type.element;
  const base = view.$p + field.offset;
  const views = view.$v;
  if (element.kind === "struct") {
    for (let i = 0; i < type.length; i++) {
      assignStruct(views, element, base + i * element.size, values[i], layout, index);
    }
    return;
  }
  const dv = views.dv;
  const size = element.size;
  for (let i = 0; i < type.length; i++) {
    writeElement(dv, element.name, base + i * size, values[i]);
  }
}

function writeElement(dv: DataView, kind: string, at: number, value: unknown): void {
  switch (kind) {
    case "bool":
      dv.setUint8(at, value ? 1 : 0);
      return;
    case "u8":
      dv.setUint8(at, value as number);
      return;
    case "i8":
      dv.setInt8(at, value as number);
      return;
    case "u16":
      dv.setUint16(at, value as number, true);
      return;
    case "i16":
      dv.setInt16(at, value as number, true);
      return;
    case "u32":
      dv.setUint32(at, value as number, true);
      return;
    case "i32":
      dv.setInt32(at, value as number, true);
      return;
    case "f32":
      dv.setFloat32(at, value as number, true);
      return;
    case "f64":
      dv.setFloat64(at, value as number, true);
      return;
    case "u64":
      dv.setBigUint64(at, value as bigint, true);
      return;
    case "i64":
      dv.setBigInt64(at, value as bigint, true);
      return;
  }
}

export function _readElement(dv: DataView, kind: string, at: number): number | bigint | boolean {
  switch (kind) {
    case "bool":
      return dv.getUint8(at) !== 0;
    case "u8":
      return dv.getUint8(at);
    case "i8":
      return dv.getInt8(at);
    case "u16":
      return dv.getUint16(at, true);
    case "i16":
      return dv.getInt16(at, true);
    case "u32":
      return dv.getUint32(at, true);
    case "i32":
      return dv.getInt32(at, true);
    case "f32":
      return dv.getFloat32(at, true);
    case "f64":
      return dv.getFloat64(at, true);
    case "u64":
      return dv.getBigUint64(at, true);
    default:
      return dv.getBigInt64(at, true);
  }
}

/** Throws for the first key of `init` that is not a field of `layout`. */
function checkKeys(init: object, layout: Layout, where: string, path: string): void {
  for (const key in init) {
    if (!layout.fields.some((f) => f.name === key)) {
      const names = layout.fields.map((f) => f.name);
      const at = path === "" ? "" : ` (at "${path.slice(0, -1)}")`;
      throw new TypeError(`${where}: ${_noField(layout.name, key, names)}${at}`);
    }
  }
}

/**
 * Checks a whole init object for `type` against the field types, without
 * writing anything: every error `create` or `assign` could meet while
 * writing is thrown here first, naming the field's path.
 */
function validate(init: object, type: AnyStructType, views: HeapViews, where: string): void {
  validateFields(init, type, views, where, "");
}

function validateFields(
  init: object,
  type: AnyStructType,
  views: HeapViews,
  where: string,
  path: string,
): void {
  const layout = _layoutOf(type);
  const fields = layout.fields;
  const values = init as Record<string, unknown>;
  let known = 0;
  let keys = 0;
  for (let i = 0; i < fields.length; i++) {
    const value = values[fields[i].name];
    if (value === undefined) continue;
    known++;
    validateValue(fields[i].type, value, views, where, path + fields[i].name, type);
  }
  for (const _ in init) keys++;
  if (keys !== known) checkKeys(init, layout, where, path);
}

function validateValue(
  type: FieldType,
  value: unknown,
  views: HeapViews,
  where: string,
  path: string,
  self: AnyStructType,
): void {
  const at = `${where}: field "${path}"`;
  switch (type.kind) {
    case "scalar": {
      const error = _scalarError(type.name, value, at);
      if (error !== null) throw error;
      return;
    }
    case "atomic": {
      const error = _scalarError(type.element, value, at);
      if (error !== null) throw error;
      return;
    }
    case "utf8": {
      if (typeof value !== "string") {
        throw new TypeError(`${at}: value must be a string: ${_describe(value)}`);
      }
      const length = _utf8Length(value);
      if (length < 0) {
        throw new RangeError(
          `${at}: string contains U+0000 at index ${-1 - length}: ${preview(value)}`,
        );
      }
      if (length > type.maxBytes) {
        throw new RangeError(
          `${at}: string needs ${length} UTF-8 bytes but the field holds ${type.maxBytes}: ${
            preview(value)
          }`,
        );
      }
      return;
    }
    case "string":
      if (typeof value !== "string") {
        throw new TypeError(`${at}: value must be a string: ${_describe(value)}`);
      }
      return;
    case "ref":
    case "selfref": {
      if (value === null) return;
      const target = type.kind === "ref" ? type.target : self;
      if (!target.is(value)) {
        throw new TypeError(
          `${at}: value must be a ${target.name} record or null: ${_describe(value)}`,
        );
      }
      if ((value as unknown as ViewInstance).$v !== views) {
        throw new TypeError(
          `${at}: the ${target.name} record is in another heap: ${
            (value as unknown as ViewInstance).$p
          }`,
        );
      }
      return;
    }
    case "struct":
      validateStruct(type, value, views, where, path);
      return;
    case "array":
    case "vec": {
      if (
        typeof value !== "object" || value === null ||
        typeof (value as ArrayLike<unknown>).length !== "number"
      ) {
        throw new TypeError(
          `${at}: value must be an array-like${
            type.kind === "array" ? ` of ${type.length} elements` : ""
          }: ${_describe(value)}`,
        );
      }
      const items = value as ArrayLike<unknown>;
      if (type.kind === "array" && items.length !== type.length) {
        throw new RangeError(`${at}: expected ${type.length} elements, got ${items.length}`);
      }
      const element = type.element;
      for (let i = 0; i < items.length; i++) {
        if (element.kind === "struct") {
          validateStruct(element, items[i], views, where, `${path}[${i}]`);
        } else {
          const error = _scalarError(element.name, items[i], `${where}: field "${path}[${i}]"`);
          if (error !== null) throw error;
        }
      }
      return;
    }
  }
}

function validateStruct(
  type: AnyStructType,
  value: unknown,
  views: HeapViews,
  where: string,
  path: string,
): void {
  if (type.is(value)) {
    if ((value as unknown as ViewInstance).$v !== views) {
      throw new TypeError(
        `${where}: field "${path}": the ${type.name} record is in another heap: ${
          (value as unknown as ViewInstance).$p
        }`,
      );
    }
    return;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${where}: field "${path}": value must be a ${type.name} init object or record: ${
        _describe(value)
      }`,
    );
  }
  validateFields(value, type, views, where, `${path}.`);
}

_setValidateHook((init, type, views, where) => validateFields(init, type, views, where, ""));

function checkCopy(source: ViewInstance, views: HeapViews, where: string): void {
  if (source.$v !== views) {
    throw new TypeError(`${where}: the source record is in another heap: ${source.$p}`);
  }
}

function storeError(view: ViewInstance, layout: Layout, index: number, value: unknown): Error {
  if (view.$dead) return destroyed(layout.name, view.$p);
  const field = layout.fields[index];
  return _scalarError(
    (field.type as { name: string }).name,
    value,
    `Cannot set field "${fieldName(layout, index)}"`,
  ) ?? new TypeError(`Cannot set field "${fieldName(layout, index)}": ${_describe(value)}`);
}

const READ_ONLY_HINT: Record<string, string> = {
  struct: "write its fields, or use Type.assign",
  array: "write its elements through the typed array or StructArray it reads as",
  atomic: "use its store() method",
  vec: "use its assign(), set() or push() methods",
};

function readOnly(layout: Layout, index: number): never {
  const kind = layout.fields[index].type.kind;
  throw new TypeError(
    `Cannot set field "${fieldName(layout, index)}": a ${kind} field cannot be assigned: ${
      READ_ONLY_HINT[kind]
    }`,
  );
}

/** The helpers handed to every generated view class. */
export const _RUNTIME: Runtime = {
  utf8Read: _utf8Read,
  utf8Set,
  openRef: (views, ptr, target) => _hooks.open(target, views, ptr),
  debugOpen: (views, ptr, target) => _hooks.debugOpen(target, views, ptr),
  stale,
  // Called through a proxy: V8 does not inline a call to one, so the throw
  // path of every accessor stays one call, and an accessor that has thrown
  // for a dead view does not bring the error's making into every
  // function that inlines it (measured: with `destroyed` inlined, a cursor
  // loop that had once read a dead view ran 1.2-2.2x slower, out of V8's
  // inlining budget for the accessors themselves).
  accessError: new Proxy(accessError, {}),
  refPtr,
  misalignedArray,
  inlineArray: (views, element, elementClass, ptr, length) =>
    new _StructArray(element, views, elementClass, ptr, length, null, 0),
  assign,
  validate,
  checkCopy,
  // Through a proxy, as accessError.
  storeError: new Proxy(storeError, {}),
  readOnly,
  strRead: _strRead,
  strSet: _strSet,
  Vec: _VecHandle as unknown as Runtime["Vec"],
  freeOwned: (views, heap, ptr, layout) => _freeOwned(views, heap, ptr, layout.owned),
  copy,
  emptyViews: new HeapViews(new SharedArrayBuffer(8)),
  deadViews: new HeapViews(new SharedArrayBuffer(0)),
  AtomicInt,
  AtomicBigInt,
};
