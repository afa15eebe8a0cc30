// Generates one record view class per struct type (and per base alignment):
// a getter and setter per field that reads the heap's typed arrays at a
// constant offset, e.g. `get x() { return this.#v.f64[(this.#p >>> 3) + 1]; }`.
// Generated code (rather than closures made in a loop) gives every getter its
// own feedback in V8, so field reads stay monomorphic and inline into the
// caller. Not exported from mod.ts.
//
// Views are sealed and honest: the views and the pointer are private fields
// (`#v`, `#p`; the library reaches them through the prototype accessors `$v`
// and `$p`; they start as an empty HeapViews and 0, values of the types they
// keep, so V8 keeps the fields' representation as specific as plain
// properties set in the constructor: declared without a value they start as
// `undefined`, and field reads measured 20-30% slower), the only own property is `ptr` (a plain data property, so that
// `Object.keys`, spread and `structuredClone` see exactly `{ ptr }`), and the
// prototype's own prototype is a proxy whose `set` trap throws a `TypeError`
// naming the close field for a property that is not a field. Stores to
// fields never reach the proxy: the accessors are found first.
//
// A view passed to `destroy` is marked dead by giving it the runtime's dead
// views (`$kill`): a HeapViews of the same class and shape as the real ones
// whose arrays are all empty. Its hidden class stays the same, so call sites
// that see dead views stay monomorphic and `destroy` costs one store (it
// used to swap the view's prototype, 60-140 ns in V8 and a new map per dead
// view). Every accessor then throws `UseAfterFreeError`: a typed-array
// getter reads `undefined` (out of the empty array's bounds) and tests its
// result, a test V8 drops while every read it saw was in bounds; a
// typed-array setter reads and tests its element the same way before it
// stores; every other accessor (DataView, strings, handles, nested records)
// compares the views with the dead ones first. Had a check been missed, a
// read would give `undefined` and a write would land nowhere.

import { _noField, _scalarValid } from "./_check.ts";
import type { HeapViews } from "./_heap_views.ts";
import { _alignAt, type FieldLayout, type Layout } from "./_layout.ts";
import type { AnyStructType } from "./types.ts";

/** The instance shape of a generated view class. */
export interface ViewInstance {
  /** The heap's shared views (a prototype accessor over a private field). */
  readonly $v: HeapViews;
  /** The record's byte offset (a prototype accessor; setting it moves the view). */
  $p: number;
  /** Applies an init object (generated; checks it whole before writing). */
  $init(init: object): void;
  /** The struct type (on the prototype). */
  readonly $t: AnyStructType;
  /** Whether the view was passed to `destroy` (its views are the dead views). */
  readonly $dead: boolean;
  /**
   * Marks the view destroyed: its views become the runtime's dead views
   * (every accessor then throws `UseAfterFreeError`) and its cached field
   * handles are dropped or killed too.
   */
  $kill(): void;
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
  strRead(views: HeapViews, block: number, lengthBytes: number, field: string): string;
  strSet(views: HeapViews, at: number, value: unknown, field: string): void;
  Vec: new (
    views: HeapViews,
    at: number,
    element: unknown,
    elementClass: ViewClass | null,
    field: string,
  ) => { $a: number };
  /**
   * The error of a scalar setter of `view` given `value` (returned, for a
   * `throw`): `UseAfterFreeError` for a view passed to `destroy`, else the
   * value's `TypeError` or `RangeError`.
   */
  storeError(view: ViewInstance, layout: Layout, index: number, value: unknown): Error;
  readOnly(layout: Layout, index: number): never;
  openRef(views: HeapViews, ptr: number, target: AnyStructType): ViewInstance;
  /** Debug mode: a checked view of the `target` record at `ptr` when it is a record made by `create`. */
  debugOpen(views: HeapViews, ptr: number, target: AnyStructType): ViewInstance;
  /**
   * The error of an accessor of `view` that found it dead or read nothing
   * (returned, for a `throw` in generated code): `UseAfterFreeError` for a
   * view passed to `destroy`, else `InvalidPointerError` for a view moved
   * past the end of the heap (a cursor's `seekUnchecked`).
   */
  accessError(view: ViewInstance): Error;
  /** Debug mode: throws `UseAfterFreeError` for a view whose record was destroyed. */
  stale(view: ViewInstance): never;
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
  /** Throws the error for the first invalid part of an init object (nothing is written). */
  validate(init: object, type: AnyStructType, views: HeapViews, where: string): void;
  /** Throws for a record given as init that cannot be copied into this heap. */
  checkCopy(source: ViewInstance, views: HeapViews, where: string): void;
  copy(target: ViewInstance, source: ViewInstance): void;
  freeOwned(views: HeapViews, heap: { free(ptr: number): void }, ptr: number, layout: Layout): void;
  /** Views of an empty buffer: the first value of every view's views field (same shape as the real ones). */
  emptyViews: HeapViews;
  /**
   * The views of a destroyed view: zero-length arrays over an empty buffer,
   * of the same class and shape as the real ones, so a read or write that
   * got past the accessors' checks would touch no memory.
   */
  deadViews: HeapViews;
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

/** The source of byte address `base + offset`. */
function byteAt(base: string, offset: number): string {
  return offset === 0 ? base : `${base} + ${offset}`;
}

/**
 * The source of the index of byte `base + offset` in an array of
 * `1 << shift`-byte elements, for an address that is a multiple of the
 * element size (`base` is then one too, and `offset` as well): the base is
 * shifted first, `(p >>> 3) + 2`, not `(p + 16) >>> 3`. Measured in a cursor
 * loop over `{ x, y, vx, vy: f64 }` doing `p.x += p.vx; p.y += p.vy`: 1.29x a
 * raw `Float64Array` loop with a shift per field, 1.12x with the shift first
 * (V8 gives the four indexes of a record one shifted base).
 */
function indexAt(base: string, offset: number, shift: number): string {
  const shifted = shift === 0 ? base : `(${base} >>> ${shift})`;
  const words = offset >>> shift;
  return words === 0 ? shifted : `${shifted} + ${words}`;
}

/** Source of a read of scalar `kind` at byte address `base + offset` through views `v`. */
function readScalar(
  kind: string,
  base: string,
  offset: number,
  aligned: boolean,
  v = "this.#v",
): string {
  const size = sizeOf(kind);
  if (size === 1) {
    const read = `${v}.${ARRAY_OF[kind]}[${byteAt(base, offset)}]`;
    return kind === "bool" ? `${read} !== 0` : read;
  }
  if (aligned) return `${v}.${ARRAY_OF[kind]}[${indexAt(base, offset, SHIFT[size])}]`;
  return `${v}.dv.get${DATAVIEW_OF[kind]}(${byteAt(base, offset)}, true)`;
}

/** Source of a write of expression `value` to scalar `kind` at byte address `base + offset`. */
function writeScalar(
  kind: string,
  base: string,
  offset: number,
  aligned: boolean,
  value: string,
  views = "this.#v",
): string {
  const size = sizeOf(kind);
  if (size === 1) {
    const v = kind === "bool" ? `(${value} ? 1 : 0)` : value;
    return `${views}.${ARRAY_OF[kind]}[${byteAt(base, offset)}] = ${v};`;
  }
  if (aligned) {
    return `${views}.${ARRAY_OF[kind]}[${indexAt(base, offset, SHIFT[size])}] = ${value};`;
  }
  return `${views}.dv.set${DATAVIEW_OF[kind]}(${byteAt(base, offset)}, ${value}, true);`;
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
 * Counts generated sources. Each one carries its number: V8 caches
 * `new Function` by source text, and two functions compiled from one text
 * (two struct types with the same name and fields) would share one
 * SharedFunctionInfo and its type feedback, so each type's getters would
 * see the other's view class and go polymorphic.
 */
let generated = 0;

/**
 * The object at the end of a view prototype chain: reads fall through to
 * `Object.prototype`; a store to a string key that is not a field (one the
 * prototype has no accessor for) throws, naming the closest field.
 */
function sealOf(layout: Layout): object {
  const names = layout.fields.map((f) => f.name);
  return new Proxy(Object.create(Object.prototype), {
    set(_target, key, value, receiver): boolean {
      if (typeof key === "symbol") {
        // Symbols are not field names: let libraries tag views (own property).
        return Reflect.defineProperty(receiver, key, {
          value,
          writable: true,
          enumerable: false,
          configurable: true,
        });
      }
      throw new TypeError(`Cannot set property '${key}': ${_noField(layout.name, key, names)}`);
    },
  });
}

/** Generated source that throws the error of a dead view (or of a read past the heap: see `accessError`). */
const DEAD = "throw $r.accessError(this)";
/**
 * Generated source that throws if the view was passed to `destroy`. A
 * `throw` (not a call that throws) tells V8 the code after it is reached
 * only by a live view, so it need not load the views again.
 */
const DEAD_CHECK = `if (this.#v === $D) ${DEAD};`;

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
  debug: DebugBuild | null = null,
): ViewClass {
  const consts: unknown[] = [];
  const privates: string[] = [];
  const members: string[] = [];
  const init: string[] = [];
  const kill: string[] = [];
  layout.fields.forEach((field: FieldLayout, i: number) => {
    const addr = field.offset === 0 ? "this.#p" : `(this.#p + ${field.offset})`;
    const fieldAlign = _alignAt(baseAlign, field.offset);
    const t = field.type;
    // Field names are checked identifiers (letters, digits, _), safe to splice in.
    const name = field.name;
    const label = JSON.stringify(`${layout.name}.${name}`);
    const k = consts.length;
    const readOnly = `set ${name}(a) { $r.readOnly($L, ${i}); }`;
    let assignInit = `this.${name} = t;`;
    switch (t.kind) {
      case "scalar": {
        const aligned = fieldAlign >= t.size;
        // A typed-array read of a destroyed view is out of bounds of the dead
        // views' empty arrays: it gives `undefined`, never a number, so the
        // test of the result is the whole check (and V8 drops it while every
        // read it saw was in bounds). DataView reads test the views first.
        const read = aligned
          ? `const r = ${
            readScalar(t.name === "bool" ? "u8" : t.name, "this.#p", field.offset, true)
          }; if (r === undefined) ${DEAD}; return ${t.name === "bool" ? "r !== 0" : "r"};`
          : `return ${readScalar(t.name, "this.#p", field.offset, false)};`;
        members.push(
          `get ${name}() { ${read} }`,
          // A typed-array setter reads the element first, as the getter does:
          // `undefined` only for a dead view, which throws before the store
          // (V8 drops the test and the read, whose bounds check is the
          // store's). A branch on the views themselves, even one V8 never
          // takes, made `p.x += p.vx` loops 25-60% slower
          // (`bench/struct_program.ts`). DataView setters test the views.
          `set ${name}(a) { const v = this.#v; if (${aligned ? "" : "v === $D || "}!(${
            _scalarValid(t.name, "a")
          })) throw $r.storeError(this, $L, ${i}, a); ${
            aligned
              ? `if (${
                readScalar(t.name === "bool" ? "u8" : t.name, "this.#p", field.offset, true, "v")
              } === undefined) ${DEAD}; `
              : ""
          }${writeScalar(t.name, "this.#p", field.offset, aligned, "a", "v")} }`,
        );
        break;
      }
      case "utf8":
        members.push(
          `get ${name}() { return $r.utf8Read(this.#v.u8, ${addr}, ${t.maxBytes}); }`,
          `set ${name}(a) { $r.utf8Set(this.#v.u8, ${addr}, ${t.maxBytes}, a, $L, ${i}); }`,
        );
        break;
      case "string": {
        const aligned = fieldAlign >= 4;
        members.push(
          `get ${name}() { const v = this.#v, a = this.#p; const q = ${
            readScalar("u32", "a", field.offset, aligned, "v")
          }; return q === 0 ? "" : $r.strRead(v, q, ${
            readScalar("u32", "a", field.offset + 4, aligned, "v")
          }, ${label}); }`,
          `set ${name}(a) { $r.strSet(this.#v, ${addr}, a, ${label}); }`,
        );
        break;
      }
      case "vec": {
        const e = t.element;
        consts.push(e, e.kind === "struct" ? classFor(e, 8) : null);
        privates.push(`#c${i}`);
        members.push(
          `get ${name}() { let h = this.#c${i}; if (h === undefined) { h = this.#c${i} = new $r.Vec(this.#v, ${addr}, $K[${k}], $K[${
            k + 1
          }], ${label}); } else { h.$a = ${addr}; } return h; }`,
          readOnly,
        );
        assignInit = `this.${name}.assign(t);`;
        kill.push(`this.#c${i} = undefined;`);
        break;
      }
      case "ref":
      case "selfref": {
        const aligned = fieldAlign >= 4;
        consts.push(t);
        const target = t.kind === "selfref" ? "$T" : `$K[${k}].target`;
        members.push(
          `get ${name}() { const q = ${
            readScalar("u32", "this.#p", field.offset, aligned)
          }; return q === 0 ? null : $r.${
            debug === null ? "openRef" : "debugOpen"
          }(this.#v, q, ${target}); }`,
          `set ${name}(a) { const q = $r.refPtr(a, this.#v, ${target}, $L, ${i}); ${
            writeScalar("u32", "this.#p", field.offset, aligned, "q")
          } }`,
        );
        break;
      }
      case "atomic": {
        const wide = t.size === 8;
        const arr = `this.#v.${t.element}`;
        const index = `${addr} >>> ${wide ? 3 : 2}`;
        const cls = wide ? "$r.AtomicBigInt" : "$r.AtomicInt";
        privates.push(`#c${i}`);
        members.push(
          `get ${name}() { let h = this.#c${i}; if (h === undefined) { h = this.#c${i} = new ${cls}(${arr}, ${index}); } else { h.$a = ${arr}; h.$i = ${index}; } return h; }`,
          readOnly,
        );
        assignInit = `this.${name}.store(t);`;
        kill.push(`this.#c${i} = undefined;`);
        break;
      }
      case "struct": {
        consts.push(debug === null ? classFor(t, fieldAlign) : debug.classFor(t, fieldAlign));
        privates.push(`#c${i}`);
        const more = debug === null ? "" : ", this.#s, this.#g";
        members.push(
          `get ${name}() { let c = this.#c${i}; if (c === undefined) { c = this.#c${i} = new $K[${k}](this.#v, ${addr}${more}); } else { c.$p = ${addr}; } return c; }`,
          readOnly,
        );
        kill.push(`if (this.#c${i} !== undefined) this.#c${i}.$kill();`);
        assignInit = `$r.assign(this, $L, ${i}, t);`;
        break;
      }
      case "array": {
        const e = t.element;
        privates.push(`#c${i}`, `#d${i} = -1`);
        let make: string;
        if (e.kind === "struct") {
          consts.push(e, classFor(e, fieldAlign));
          make = `$r.inlineArray(this.#v, $K[${k}], $K[${k + 1}], p, ${t.length})`;
        } else if (fieldAlign >= e.size) {
          make = `new ${TYPED_ARRAY_OF[e.name]}(this.#v.buffer, p, ${t.length})`;
        } else {
          make = `$r.misalignedArray($L, ${i}, p)`;
        }
        members.push(
          `get ${name}() { const p = ${addr}; let c = this.#c${i}; if (c === undefined || this.#d${i} !== p) { c = this.#c${i} = ${make}; this.#d${i} = p; } return c; }`,
          readOnly,
        );
        kill.push(`this.#c${i} = undefined; this.#d${i} = -1;`);
        assignInit = `$r.assign(this, $L, ${i}, t);`;
        break;
      }
    }
    init.push(`if ((t = o.${name}) !== undefined) { ${assignInit} }`);
  });
  // Every accessor that does not test its read's result (above) first
  // tests whether the view is dead: one comparison with a constant.
  const checked = members.map((m) =>
    m.includes(DEAD) || m.includes("$r.storeError")
      ? m
      : m.replace(/^((?:get|set) \w+\(a?\) \{ )/, `$1${DEAD_CHECK} `)
  );
  // Debug variant: every field accessor first compares the record's
  // generation word with the one the view was opened with.
  const check = "if (this.#v.u32[this.#s] !== this.#g) $r.stale(this);";
  const body = debug === null
    ? checked
    : checked.map((m) => m.replace(/^((?:get|set) \w+\(a?\) \{ )/, `$1${check} `));
  const source = `"use strict"; // ${debug === null ? "" : "debug "}view class ${++generated}
return class ${className(layout.name)}${debug === null ? "" : "_debug"} {
  #v = $E; #p = 0; ${debug === null ? "" : "#s = 0; #g = 0;"} ${
    privates.map((p) => `${p};`).join(" ")
  }
  ptr = 0;
  constructor(v, p${debug === null ? "" : ", s, g"}) { this.#v = v; this.#p = p; this.ptr = p;${
    debug === null ? "" : " this.#s = s; this.#g = g;"
  } }
  get $v() { ${DEAD_CHECK} return this.#v; }
  get $p() { return this.#p; }
  set $p(q) { this.#p = q; this.ptr = q; }
  get $dead() { return this.#v === $D; }
  $kill() { this.#v = $D; ${kill.join(" ")} }
  $init(o) {
    ${DEAD_CHECK}
    if (o.$t === $T) { $r.copy(this, o); return; }
    $r.validate(o, $T, this.#v, ${JSON.stringify(`Cannot assign to ${layout.name} record`)});
    let t;
    ${init.join("\n    ")}
  }
  ${body.join("\n  ")}
};`;
  const factory = new Function("$r", "$T", "$L", "$K", "$E", "$D", source);
  const cls = factory(
    runtime,
    type,
    layout,
    consts,
    runtime.emptyViews,
    runtime.deadViews,
  ) as ViewClass;
  Object.defineProperty(cls.prototype, "$t", { value: type });
  // A debug class's prototype inherits the normal class's (`instanceof`,
  // printing); its own accessors shadow those.
  Object.setPrototypeOf(cls.prototype, debug === null ? sealOf(layout) : debug.base.prototype);
  return cls;
}

/** A debug view class: a view class whose constructor also takes the generation word's index and value. */
export type DebugViewClass = new (
  views: HeapViews,
  ptr: number,
  stampIndex: number,
  generation: number,
) => ViewInstance;

/** How to build the debug variant of a view class (see `_buildViewClass`). */
export interface DebugBuild {
  /** The normal view class of the same type and base alignment. */
  base: ViewClass;
  /** The debug view class of a nested struct type. */
  classFor: (type: AnyStructType, baseAlign: number) => DebugViewClass;
}

/** What a generated `create` calls on a heap. */
export interface CreateHeap {
  /** The heap's memory. */
  readonly buffer: SharedArrayBuffer;
  /** Allocates a block. */
  alloc(sizeBytes: number, alignBytes: number): number;
  /** Frees a block. */
  free(ptr: number): void;
}

/** A generated `create`: allocates, zeroes and initialises a record (`init` is checked here). */
export type CreateRecord = (heap: CreateHeap, init: unknown) => ViewInstance;

/** The cold paths of a generated `create`. */
export interface CreateHelpers {
  /** The shared views of a heap's buffer. */
  viewsOf(buffer: SharedArrayBuffer): HeapViews;
  /** The error for an `init` that is not an object. */
  initError(init: unknown): Error;
}

/** Records up to this size are zeroed by straight-line stores, larger ones by `fill`. */
const INLINE_ZERO_BYTES = 64;

/** Store widths for zeroing, widest first: bytes, views array, log2 of the element size. */
const WIDTHS = [[8, "f64", 3], [4, "u32", 2], [2, "u16", 1], [1, "u8", 0]] as const;

/**
 * Local variables of a generated `create` that hold typed arrays of the
 * views `v` and element indexes of the record pointer `p`, declared on first use.
 */
class Locals {
  readonly declared = new Set<string>();
  pending: string[] = [];

  /** The local holding array `name` of the views (`v.f64` → `f64`). */
  array(name: string): string {
    if (!this.declared.has(name)) {
      this.declared.add(name);
      this.pending.push(`${name} = v.${name}`);
    }
    return name;
  }

  /** The index of byte `offset` of the record in an array of `1 << shift`-byte elements. */
  index(shift: number, offset: number): string {
    if (shift === 0) return offset === 0 ? "p" : `p + ${offset}`;
    const name = `p${shift}`;
    if (!this.declared.has(name)) {
      this.declared.add(name);
      this.pending.push(`${name} = p >>> ${shift}`);
    }
    const words = offset >>> shift;
    return words === 0 ? name : `${name} + ${words}`;
  }

  /** A `var` statement declaring the locals used since the last call, or nothing. */
  flush(): string {
    const out = this.pending.length === 0 ? "" : `var ${this.pending.join(", ")};`;
    this.pending = [];
    return out;
  }
}

/**
 * Statements that zero bytes `[from, to)` of the record at `p` (a multiple
 * of 8) with the widest stores their alignment allows.
 */
function zeroRange(from: number, to: number, locals: Locals): string[] {
  const out: string[] = [];
  // Bounded: every pass stores at least one byte (a 1-byte store always fits).
  for (let at = from; at < to;) {
    for (const [bytes, array, shift] of WIDTHS) {
      if (at % bytes === 0 && to - at >= bytes) {
        out.push(`${locals.array(array)}[${locals.index(shift, at)}] = 0;`);
        at += bytes;
        break;
      }
    }
  }
  return out;
}

/** Statement that stores expression `value` into scalar field `field` of the record at `p`. */
function storeScalar(
  field: FieldLayout,
  kind: string,
  structAlign: number,
  value: string,
  locals: Locals,
): string {
  const size = sizeOf(kind);
  if (_alignAt(structAlign, field.offset) >= size) {
    const array = locals.array(ARRAY_OF[kind]);
    return `${array}[${locals.index(SHIFT[size], field.offset)}] = ${value};`;
  }
  return `v.dv.set${DATAVIEW_OF[kind]}(p + ${field.offset}, ${value}, true);`;
}

/**
 * `create` of a struct whose fields are all scalars: reads and converts the
 * init values into locals first (anything invalid throws before a byte is
 * allocated), then allocates and writes every field and padding byte once.
 */
function scalarCreate(layout: Layout, allocAlign: number): string {
  const size = layout.size;
  const locals = new Locals();
  const values: string[] = [];
  const reads: string[] = [];
  const valid: string[] = [];
  const stores: string[] = [];
  const fields = [...layout.fields].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const field of fields) {
    const kind = (field.type as { name: string }).name;
    const local = `$${layout.fields.indexOf(field)}`; // the field's init value, as given
    values.push(`${local} = ${kind === "u64" || kind === "i64" ? "0n" : "0"}`);
    reads.push(`if ((t = o.${field.name}) !== undefined) { ${local} = t; n++; }`);
    valid.push(_scalarValid(kind, local));
    if (size <= INLINE_ZERO_BYTES) stores.push(...zeroRange(at, field.offset, locals));
    const value = kind === "bool" ? `${local} ? 1 : 0` : local;
    stores.push(storeScalar(field, kind, layout.align, value, locals));
    at = Math.max(at, field.offset + field.size);
  }
  if (size <= INLINE_ZERO_BYTES) stores.push(...zeroRange(at, size, locals));
  else stores.unshift(`v.u8.fill(0, p, p + ${size});`);
  // Without init, `create` only allocates and zeroes; with init it calls
  // `createFrom`. Both are kept short, since the bytecode size decides
  // whether callers inline them: the init code in `create` itself (311
  // bytes for three f64 fields) left a caller's budget short of the field
  // setters it calls next (see `_buildCreate`).
  const blank = new Locals();
  const zeros = size <= INLINE_ZERO_BYTES
    ? zeroRange(0, size, blank)
    : [`v.u8.fill(0, p, p + ${size});`];
  // One fused test of every value (a type test per field, no call): the
  // cold path finds and throws the first error, in field order, keys last.
  return `function create(heap, o) {
  if (o !== undefined) return createFrom(heap, o);
  var v = heap === lastHeap ? lastViews : refresh(heap);
  var p = heap.alloc(${size}, ${allocAlign}), end = p + ${size};
  if (end > v.byteLength) v.cover(end);
  ${blank.flush()}
  ${zeros.join("\n  ")}
  return new View(v, p);
}
function createFrom(heap, o) {
  var v = heap === lastHeap ? lastViews : refresh(heap);
  var ${values.join(", ")};
  if (typeof o !== "object" || o === null) throw initError(o);
  if (o.$t === $T) return copyNew(heap, o, v);
  var t, n = 0;
  ${reads.join("\n  ")}
  for (var key in o) n--;
  if (n !== 0 || !(${valid.join(" && ")})) $r.validate(o, $T, v, WHERE);
  var p = heap.alloc(${size}, ${allocAlign}), end = p + ${size};
  if (end > v.byteLength) v.cover(end);
  ${locals.flush()}
  ${stores.join("\n  ")}
  return new View(v, p);
}`;
}

/**
 * `create` of any other struct: checks the whole init object first (nothing
 * is allocated for invalid input), then allocates and zeroes the record and
 * applies init through the accessors (direct stores for scalar fields). If
 * a block of a variable-length field cannot be allocated, the blocks made so
 * far and the record are freed before the error goes on.
 */
function generalCreate(layout: Layout, allocAlign: number): string {
  const size = layout.size;
  const locals = new Locals();
  const zero = size > INLINE_ZERO_BYTES
    ? [`v.u8.fill(0, p, p + ${size});`]
    : zeroRange(0, size, locals);
  const zeroLocals = locals.flush();
  const init = layout.fields.map((field: FieldLayout, i: number) => {
    const t = field.type;
    const name = field.name;
    let assign: string;
    switch (t.kind) {
      case "scalar":
        assign = storeScalar(
          field,
          t.name,
          layout.align,
          t.name === "bool" ? "t ? 1 : 0" : "t",
          locals,
        );
        break;
      case "atomic":
        assign = `r.${name}.store(t);`;
        break;
      case "vec":
        assign = `r.${name}.assign(t);`;
        break;
      case "struct":
      case "array":
        assign = `$r.assign(r, $L, ${i}, t);`;
        break;
      default:
        assign = `r.${name} = t;`;
    }
    return `if ((t = o.${name}) !== undefined) { ${assign} }`;
  });
  const owned = layout.owned.length > 0;
  return `function create(heap, o) {
  var v = heap === lastHeap ? lastViews : refresh(heap);
  ${owned ? "v.heap = heap;" : ""}
  if (o !== undefined) {
    if (typeof o !== "object" || o === null) throw initError(o);
    if (o.$t === $T) return copyNew(heap, o, v);
    $r.validate(o, $T, v, WHERE);
  }
  var p = heap.alloc(${size}, ${allocAlign}), end = p + ${size};
  if (end > v.byteLength) v.cover(end);
  ${zeroLocals}
  ${zero.join("\n  ")}
  var r = new View(v, p);
  if (o === undefined) return r;
  try {
    ${locals.flush()}
    var t;
    ${init.join("\n    ")}
  } catch (error) {
    ${owned ? "$r.freeOwned(v, heap, p, $L);" : ""}
    heap.free(p);
    throw error;
  }
  return r;
}`;
}

/**
 * Builds `create` for one struct type, with its size, alignment, view class
 * and field offsets as constants. It checks `init`, allocates the record (at
 * a multiple of `allocAlign`, at least 8), extends the views if the block
 * lies past them, zeroes it (straight-line stores for small records: a call
 * to `fill` costs more than the whole record) and writes the init values,
 * with direct stores for scalar fields; if `init` is invalid, nothing stays
 * allocated. It remembers the last heap it saw, if that heap's buffer is
 * growable (it then stays the same object as it grows), and its buffer's
 * views: the heap's `buffer` getter reads a growable buffer's length, about
 * 8 ns, a fifth of a create + destroy.
 *
 * It is kept small: V8 inlines a call only while the bytecode it adds (the
 * callee's, plus what the callee's own optimized code inlined, such as the
 * heap's allocation path) fits its budget, and inlining lets it drop the
 * view of a record that is created and destroyed in one function. Measured
 * in Deno 2.9 for `{ x: f64, y: f64, z: f64 }`: with the init code in
 * `create` it was 311 bytes of bytecode (value checks fused into one test; a
 * check and an error call per field made it 369 and cost create + destroy
 * 3-9%), plus the inlined `Heap.alloc`, `tryAlloc`, `allocSmall` and view
 * constructor. The caller's budget is 920 and V8 spends it by call
 * frequency, field setters (97-104 bytes each) last: once the heap's free
 * path also inlined `Heap.free` and `freeRaw` (155 bytes), the struct loop
 * of `bench/small_object.ts` had 835 spent and called all three setters out
 * of line (by view 2.5-2.7x the object literal, median). `create` without
 * init now leaves the init code to `createFrom`, and the setters fit again.
 * Check with `--v8-flags=--trace-turbo-inlining` after growing either side.
 */
export function _buildCreate(
  type: AnyStructType,
  layout: Layout,
  View: ViewClass,
  allocAlign: number,
  runtime: Runtime,
  helpers: CreateHelpers,
): CreateRecord {
  const scalarsOnly = layout.fields.every((field) => field.type.kind === "scalar");
  const source = `"use strict"; // create ${++generated}
var viewsOf = $h.viewsOf, initError = $h.initError;
var asUintN = BigInt.asUintN, asIntN = BigInt.asIntN;
var lastHeap = null, lastViews = null;
function refresh(heap) {
  var b = heap.buffer;
  lastViews = viewsOf(b);
  lastHeap = b.growable === true ? heap : null;
  return lastViews;
}
var WHERE = ${JSON.stringify(`Cannot create ${layout.name}`)};
function copyNew(heap, o, v) {
  $r.checkCopy(o, v, WHERE);
  var r = create(heap);
  try {
    $r.copy(r, o);
  } catch (error) {
    $r.freeOwned(v, heap, r.$p, $L);
    heap.free(r.$p);
    throw error;
  }
  return r;
}
${scalarsOnly ? scalarCreate(layout, allocAlign) : generalCreate(layout, allocAlign)}
return create;
//# sourceURL=typedheap:${className(layout.name)}.create`;
  const factory = new Function("View", "$r", "$T", "$L", "$h", source);
  return factory(View, runtime, type, layout, helpers) as CreateRecord;
}
