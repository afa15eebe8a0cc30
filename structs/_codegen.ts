// Generates one record view class per struct type (and per base alignment):
// a getter and setter per field that reads the heap's typed arrays at a
// constant offset, e.g. `get x() { return this.$v.f64[(this.$p + 8) >>> 3]; }`.
// Generated code (rather than closures made in a loop) gives every getter its
// own feedback in V8, so field reads stay monomorphic and inline into the
// caller. Not exported from mod.ts.

import type { HeapViews } from "./_heap_views.ts";
import { _alignAt, type FieldLayout, type Layout } from "./_layout.ts";
import type { AnyStructType } from "./types.ts";

/** The instance shape of a generated view class. */
export interface ViewInstance {
  /** The heap's shared views. */
  $v: HeapViews;
  /** The record's byte offset. */
  $p: number;
  /** Applies an init object (generated). */
  $init(init: object): void;
  /** The struct type (on the prototype). */
  readonly $t: AnyStructType;
}

/** A generated view class. */
export type ViewClass = new (views: HeapViews, ptr: number) => ViewInstance;

/** Helpers the generated code calls (cold paths and shared logic). */
export interface Runtime {
  utf8Read(u8: Uint8Array, offset: number, maxBytes: number): string;
  utf8Set(
    u8: Uint8Array,
    offset: number,
    maxBytes: number,
    value: unknown,
    layout: Layout,
    index: number,
  ): void;
  openRef(views: HeapViews, ptr: number, target: AnyStructType): ViewInstance;
  refPtr(
    value: unknown,
    views: HeapViews,
    target: AnyStructType,
    layout: Layout,
    index: number,
  ): number;
  misalignedArray(layout: Layout, index: number, ptr: number): never;
  inlineArray(
    views: HeapViews,
    element: AnyStructType,
    elementClass: ViewClass,
    ptr: number,
    length: number,
  ): unknown;
  assign(view: ViewInstance, layout: Layout, index: number, value: unknown): void;
  checkInit(init: object, layout: Layout): void;
  copy(target: ViewInstance, source: ViewInstance): void;
  AtomicInt: new (array: Int32Array | Uint32Array, index: number) => unknown;
  AtomicBigInt: new (array: BigInt64Array | BigUint64Array, index: number) => unknown;
}

const ARRAY_OF: Record<string, string> = {
  u8: "u8",
  i8: "i8",
  u16: "u16",
  i16: "i16",
  u32: "u32",
  i32: "i32",
  f32: "f32",
  f64: "f64",
  bool: "u8",
  u64: "u64",
  i64: "i64",
};
const TYPED_ARRAY_OF: Record<string, string> = {
  u8: "Uint8Array",
  i8: "Int8Array",
  u16: "Uint16Array",
  i16: "Int16Array",
  u32: "Uint32Array",
  i32: "Int32Array",
  f32: "Float32Array",
  f64: "Float64Array",
  bool: "Uint8Array",
  u64: "BigUint64Array",
  i64: "BigInt64Array",
};
const DATAVIEW_OF: Record<string, string> = {
  u16: "Uint16",
  i16: "Int16",
  u32: "Uint32",
  i32: "Int32",
  f32: "Float32",
  f64: "Float64",
  u64: "BigUint64",
  i64: "BigInt64",
};
const SHIFT: Record<number, number> = { 1: 0, 2: 1, 4: 2, 8: 3 };

/** Source of a read of scalar `kind` at byte address expression `addr`. */
function readScalar(kind: string, addr: string, aligned: boolean): string {
  const size = sizeOf(kind);
  if (size === 1) {
    const read = `this.$v.${ARRAY_OF[kind]}[${addr}]`;
    return kind === "bool" ? `${read} !== 0` : read;
  }
  if (aligned) return `this.$v.${ARRAY_OF[kind]}[${addr} >>> ${SHIFT[size]}]`;
  return `this.$v.dv.get${DATAVIEW_OF[kind]}(${addr}, true)`;
}

/** Source of a write of expression `value` to scalar `kind` at `addr`. */
function writeScalar(kind: string, addr: string, aligned: boolean, value: string): string {
  const size = sizeOf(kind);
  if (size === 1) {
    const v = kind === "bool" ? `(${value} ? 1 : 0)` : value;
    return `this.$v.${ARRAY_OF[kind]}[${addr}] = ${v};`;
  }
  if (aligned) return `this.$v.${ARRAY_OF[kind]}[${addr} >>> ${SHIFT[size]}] = ${value};`;
  return `this.$v.dv.set${DATAVIEW_OF[kind]}(${addr}, ${value}, true);`;
}

function sizeOf(kind: string): number {
  switch (kind) {
    case "u8":
    case "i8":
    case "bool":
      return 1;
    case "u16":
    case "i16":
      return 2;
    case "u32":
    case "i32":
    case "f32":
      return 4;
    default:
      return 8;
  }
}

function className(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(id) ? `_${id}` : id;
}

/**
 * Builds the view class of `type` for records whose address is a multiple
 * of `baseAlign` (the struct's alignment, or 1 for records nested at an
 * unaligned offset of a packed struct). Fields that are naturally aligned
 * at that base use typed arrays, the others DataView.
 */
export function _buildViewClass(
  type: AnyStructType,
  layout: Layout,
  baseAlign: number,
  classFor: (type: AnyStructType, baseAlign: number) => ViewClass,
  runtime: Runtime,
): ViewClass {
  const consts: unknown[] = [];
  const ctor: string[] = [];
  const members: string[] = [];
  const init: string[] = [];
  layout.fields.forEach((field: FieldLayout, i: number) => {
    const addr = field.offset === 0 ? "this.$p" : `(this.$p + ${field.offset})`;
    const fieldAlign = _alignAt(baseAlign, field.offset);
    const t = field.type;
    // Field names are checked identifiers (letters, digits, _), safe to splice in.
    const name = field.name;
    const k = consts.length;
    let assignInit = `this.${name} = t;`;
    switch (t.kind) {
      case "scalar": {
        const aligned = fieldAlign >= t.size;
        members.push(
          `get ${name}() { return ${readScalar(t.name, addr, aligned)}; }`,
          `set ${name}(a) { ${writeScalar(t.name, addr, aligned, "a")} }`,
        );
        break;
      }
      case "utf8":
        members.push(
          `get ${name}() { return $r.utf8Read(this.$v.u8, ${addr}, ${t.maxBytes}); }`,
          `set ${name}(a) { $r.utf8Set(this.$v.u8, ${addr}, ${t.maxBytes}, a, $L, ${i}); }`,
        );
        break;
      case "ref":
      case "selfref": {
        const aligned = fieldAlign >= 4;
        consts.push(t);
        const target = t.kind === "selfref" ? "$T" : `$K[${k}].target`;
        members.push(
          `get ${name}() { const q = ${
            readScalar("u32", addr, aligned)
          }; return q === 0 ? null : $r.openRef(this.$v, q, ${target}); }`,
          `set ${name}(a) { const q = $r.refPtr(a, this.$v, ${target}, $L, ${i}); ${
            writeScalar("u32", addr, aligned, "q")
          } }`,
        );
        break;
      }
      case "atomic": {
        const wide = t.size === 8;
        const arr = `this.$v.${t.element}`;
        const index = `${addr} >>> ${wide ? 3 : 2}`;
        const cls = wide ? "$r.AtomicBigInt" : "$r.AtomicInt";
        ctor.push(`this.$c${i} = undefined;`);
        members.push(
          `get ${name}() { let h = this.$c${i}; if (h === undefined) { h = this.$c${i} = new ${cls}(${arr}, ${index}); } else { h.$a = ${arr}; h.$i = ${index}; } return h; }`,
        );
        assignInit = `this.${name}.store(t);`;
        break;
      }
      case "struct": {
        consts.push(classFor(t, fieldAlign));
        ctor.push(`this.$c${i} = undefined;`);
        members.push(
          `get ${name}() { let c = this.$c${i}; if (c === undefined) { c = this.$c${i} = new $K[${k}](this.$v, ${addr}); } else { c.$p = ${addr}; } return c; }`,
        );
        assignInit = `$r.assign(this, $L, ${i}, t);`;
        break;
      }
      case "array": {
        const e = t.element;
        ctor.push(`this.$c${i} = undefined;`, `this.$d${i} = -1;`);
        let make: string;
        if (e.kind === "struct") {
          consts.push(e, classFor(e, fieldAlign));
          make = `$r.inlineArray(this.$v, $K[${k}], $K[${k + 1}], p, ${t.length})`;
        } else if (fieldAlign >= e.size) {
          make = `new ${TYPED_ARRAY_OF[e.name]}(this.$v.buffer, p, ${t.length})`;
        } else {
          make = `$r.misalignedArray($L, ${i}, p)`;
        }
        members.push(
          `get ${name}() { const p = ${addr}; let c = this.$c${i}; if (c === undefined || this.$d${i} !== p) { c = this.$c${i} = ${make}; this.$d${i} = p; } return c; }`,
        );
        assignInit = `$r.assign(this, $L, ${i}, t);`;
        break;
      }
    }
    init.push(`if ((t = o.${name}) !== undefined) { ${assignInit} n++; }`);
  });
  const source = `"use strict";
return class ${className(layout.name)} {
  constructor(v, p) { this.$v = v; this.$p = p; ${ctor.join(" ")} }
  get ptr() { return this.$p; }
  $init(o) {
    if (o.$t === $T) { $r.copy(this, o); return; }
    let t, n = 0;
    ${init.join("\n    ")}
    for (const key in o) n--;
    if (n !== 0) $r.checkInit(o, $L);
  }
  ${members.join("\n  ")}
};`;
  const factory = new Function("$r", "$T", "$L", "$K", source);
  const cls = factory(runtime, type, layout, consts) as ViewClass;
  Object.defineProperty(cls.prototype, "$t", { value: type });
  return cls;
}
