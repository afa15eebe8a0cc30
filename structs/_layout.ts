// Computes and checks the memory layout of a struct definition. Not exported
// from mod.ts.

import { _describe, _isBranded } from "./_brand.ts";
import { _isPositiveInteger, MAX_ALIGN_BYTES, MAX_FIELD_BYTES } from "./_limits.ts";
import type { FieldType } from "./types.ts";

/** One field's place in a layout. */
export interface FieldLayout {
  /** The field name. */
  readonly name: string;
  /** The field type as given. */
  readonly type: FieldType;
  /** Byte offset from the start of the record. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** Alignment the layout gave the field (1 in packed structs). */
  readonly align: number;
}

/**
 * A heap block a record owns: a variable-length string or vec field, at any
 * depth (nested structs and fixed arrays of structs are flattened).
 */
export interface OwnedSlot {
  /** Byte offset of the field's pointer word in the record (its length word follows). */
  readonly offset: number;
  /** Bytes per element: 1 for a string, the element size for a vec. */
  readonly elementSize: number;
  /** True for a vec (a capacity word follows the length). */
  readonly vec: boolean;
}

/** A complete layout. */
export interface Layout {
  readonly name: string;
  readonly fields: readonly FieldLayout[];
  readonly size: number;
  readonly align: number;
  readonly packed: boolean;
  /** True if the struct holds atomic fields at any depth (they need natural alignment). */
  readonly needsNaturalAlign: boolean;
  /** The blocks a record owns (empty for most types): freed by `destroy`, duplicated by copies. */
  readonly owned: readonly OwnedSlot[];
}

/** The owned slots of a field of `type` at `offset`. */
function ownedOf(type: FieldType, offset: number, out: OwnedSlot[]): void {
  switch (type.kind) {
    case "string":
      out.push({ offset, elementSize: 1, vec: false });
      return;
    case "vec":
      out.push({ offset, elementSize: type.element.size, vec: true });
      return;
    case "struct":
      for (const slot of _layoutOf(type).owned) {
        out.push({ ...slot, offset: offset + slot.offset });
      }
      return;
    case "array":
      if (type.element.kind === "struct") {
        const inner = _layoutOf(type.element).owned;
        if (inner.length === 0) return;
        for (let i = 0; i < type.length; i++) {
          ownedOf(type.element, offset + i * type.element.size, out);
        }
      }
      return;
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set([
  "ptr",
  "toJSON",
  "toString",
  "toLocaleString",
  "valueOf",
  "constructor",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "then",
]);

/** The largest power of two dividing both `baseAlign` and `offset` (`baseAlign` at offset 0). */
export function _alignAt(baseAlign: number, offset: number): number {
  if (offset === 0) return baseAlign;
  return Math.min(baseAlign, offset & -offset);
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function fieldError(struct: string, field: string, reason: string, value: unknown): string {
  return `Cannot define struct field "${struct}.${field}": ${reason}: ${_describe(value)}`;
}

/** Turns the `fields` argument (object or entries) into checked entries. */
function entriesOf(struct: string, fields: unknown): [string, FieldType][] {
  let entries: unknown[];
  if (Array.isArray(fields)) {
    entries = fields;
  } else if (typeof fields === "object" && fields !== null && !_isBranded(fields)) {
    entries = Object.entries(fields);
  } else {
    throw new TypeError(
      `Cannot define struct "${struct}": fields must be an object or an array of [name, type] entries: ${
        _describe(fields)
      }`,
    );
  }
  if (entries.length === 0) {
    throw new TypeError(`Cannot define struct "${struct}": it has no fields`);
  }
  const seen = new Set<string>();
  const out: [string, FieldType][] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") {
      throw new TypeError(
        `Cannot define struct "${struct}": each entry must be a [name, type] pair: ${
          _describe(entry)
        }`,
      );
    }
    const [name, type] = entry as [string, unknown];
    if (!IDENTIFIER.test(name)) {
      throw new TypeError(
        fieldError(struct, name, "name must be an identifier (letters, digits, _)", name),
      );
    }
    if (RESERVED.has(name) || name.startsWith("__")) {
      throw new TypeError(fieldError(struct, name, "name is reserved", name));
    }
    if (seen.has(name)) {
      throw new TypeError(fieldError(struct, name, "name is already used", name));
    }
    seen.add(name);
    if (!_isBranded(type)) {
      throw new TypeError(fieldError(struct, name, "unknown field type", type));
    }
    out.push([name, type as FieldType]);
  }
  return out;
}

/** Checks options; returns the requested alignment (0 if none). */
function requestedAlign(struct: string, packed: unknown, align: unknown): number {
  if (packed !== undefined && typeof packed !== "boolean") {
    throw new TypeError(
      `Cannot define struct "${struct}": option "packed" must be a boolean: ${_describe(packed)}`,
    );
  }
  if (align === undefined) return 0;
  if (
    !_isPositiveInteger(align, MAX_ALIGN_BYTES) || (align & (align - 1)) !== 0
  ) {
    throw new RangeError(
      `Cannot define struct "${struct}": option "align" must be a power of two from 1 to ${MAX_ALIGN_BYTES}: ${
        _describe(align)
      }`,
    );
  }
  return align;
}

/** The layout of every struct type, registered by its constructor. */
export const _layouts: WeakMap<object, Layout> = new WeakMap();

/** The layout of a struct type. */
export function _layoutOf(type: object): Layout {
  return _layouts.get(type) as Layout;
}

/** True if `type` holds atomic fields at any depth. */
function needsNaturalAlign(type: FieldType): boolean {
  if (type.kind === "atomic") return true;
  if (type.kind === "struct") return _layoutOf(type).needsNaturalAlign;
  if (type.kind === "array" && type.element.kind === "struct") {
    return _layoutOf(type.element).needsNaturalAlign;
  }
  return false;
}

/**
 * Lays out `fields` by the x86-64 C rules (each field at a multiple of its
 * alignment, size a multiple of the largest alignment) or packed (no
 * padding; alignment 1 unless `align` is given, as GCC's
 * `__attribute__((packed, aligned(align)))`).
 */
export function _computeLayout(
  name: unknown,
  fields: unknown,
  packedOption: unknown,
  alignOption: unknown,
): Layout {
  if (typeof name !== "string" || name.length === 0 || name.length > 200) {
    throw new TypeError(
      `Cannot define struct: name must be a string of 1 to 200 characters: ${_describe(name)}`,
    );
  }
  const requested = requestedAlign(name, packedOption, alignOption);
  const packed = packedOption === true;
  const entries = entriesOf(name, fields);
  const out: FieldLayout[] = [];
  let offset = 0;
  let maxAlign = 1;
  let natural = false;
  for (const [fieldName, type] of entries) {
    const align = packed ? 1 : type.align;
    offset = alignUp(offset, align);
    out.push({ name: fieldName, type, offset, size: type.size, align });
    offset += type.size;
    if (offset > MAX_FIELD_BYTES) {
      throw new RangeError(
        `Cannot define struct "${name}": size exceeds ${MAX_FIELD_BYTES} bytes at field "${fieldName}": ${offset}`,
      );
    }
    maxAlign = Math.max(maxAlign, type.align);
    natural ||= needsNaturalAlign(type);
  }
  const align = packed ? Math.max(requested, 1) : Math.max(requested, maxAlign);
  const size = alignUp(offset, align);
  if (size > MAX_FIELD_BYTES) {
    throw new RangeError(
      `Cannot define struct "${name}": size exceeds ${MAX_FIELD_BYTES} bytes: ${size}`,
    );
  }
  if (packed) {
    for (const f of out) {
      if (needsNaturalAlign(f.type) && _alignAt(align, f.offset) < f.type.align) {
        throw new TypeError(
          fieldError(
            name,
            f.name,
            `${
              f.type.kind === "atomic" ? "atomic fields need" : "it holds atomic fields and needs"
            } ${f.type.align}-byte alignment, which this packed layout does not guarantee at byte offset`,
            f.offset,
          ),
        );
      }
    }
  }
  const owned: OwnedSlot[] = [];
  for (const f of out) ownedOf(f.type, f.offset, owned);
  return { name, fields: out, size, align, packed, needsNaturalAlign: natural, owned };
}
