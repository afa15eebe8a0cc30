// Shared internals of the collections: element kinds, value checks, heap views,
// hashing, a UTF-8 codec for shared views, and blocking helpers. Not exported
// from mod.ts.

import type { CollectionHeap } from "./types.ts";
import * as scalars from "../../structs/scalar.ts";
import { ScalarType, type ScalarValues } from "../../structs/scalar.ts";
import type { AnyStructType } from "../../structs/types.ts";
import { StructType } from "../../structs/struct_type.ts";
import { CollectionStateError } from "./errors.ts";

/** A scalar kind as stored in a collection header. */
export const KIND_CODES: Readonly<Record<string, number>> = {
  u8: 1,
  i8: 2,
  u16: 3,
  i16: 4,
  u32: 5,
  i32: 6,
  f32: 7,
  f64: 8,
  bool: 9,
  u64: 10,
  i64: 11,
};
/** The header code of a struct element type. */
export const STRUCT_CODE = 0xff;
/** Scalar kinds by code. */
export const KIND_NAMES: readonly string[] = [
  "",
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "f64",
  "bool",
  "u64",
  "i64",
];
/** Byte size by code. */
export const KIND_SIZES: readonly number[] = [0, 1, 1, 2, 2, 4, 4, 4, 8, 1, 8, 8];

/** An element type of a collection: a scalar field type or a struct type. */
export type ElementType = ScalarType | AnyStructType;

/** Describes a value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "object" && value !== null) {
    return (value as object).constructor?.name ?? "object";
  }
  return String(value);
}

/** The header code of an element type, or throws a TypeError naming `what`. */
export function elementCode(operation: string, what: string, type: unknown): number {
  if (type instanceof ScalarType) return KIND_CODES[type.name];
  if (type instanceof StructType) return STRUCT_CODE;
  throw new TypeError(
    `Cannot ${operation}: ${what} must be a scalar field type (u32, f64, ...) or a struct type: ${
      describe(type)
    }`,
  );
}

/**
 * Checks that `value` fits the scalar kind `code`; throws a TypeError for a
 * value of the wrong JS type and a RangeError for one out of range.
 */
export function checkScalar(operation: string, code: number, value: unknown): void {
  switch (code) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6: {
      if (typeof value !== "number") break;
      const bits = KIND_SIZES[code] * 8;
      const signed = (code & 1) === 0;
      const lo = signed ? -(2 ** (bits - 1)) : 0;
      const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
      if (!Number.isInteger(value) || value < lo || value > hi) {
        throw new RangeError(
          `Cannot ${operation}: value does not fit ${
            KIND_NAMES[code]
          } (an integer in [${lo}, ${hi}]): ${describe(value)}`,
        );
      }
      return;
    }
    case 7:
    case 8:
      if (typeof value === "number") return;
      break;
    case 9:
      if (typeof value === "boolean") return;
      break;
    case 10:
    case 11: {
      if (typeof value !== "bigint") break;
      const ok = code === 10
        ? value >= 0n && value <= 0xffff_ffff_ffff_ffffn
        : value >= -(2n ** 63n) && value < 2n ** 63n;
      if (!ok) {
        throw new RangeError(
          `Cannot ${operation}: value does not fit ${KIND_NAMES[code]}: ${describe(value)}`,
        );
      }
      return;
    }
  }
  const want = code === 9 ? "a boolean" : code >= 10 ? "a bigint" : "a number";
  throw new TypeError(
    `Cannot ${operation}: value must be ${want} for ${KIND_NAMES[code]}: ${describe(value)}`,
  );
}

/** The scalar field type of a scalar kind code (from KIND_NAMES). */
export function scalarOfCode(code: number): ElementType {
  return (scalars as unknown as Record<string, ElementType>)[KIND_NAMES[code]];
}

/** What `at()` checks a collection's header against; the magic is word 0 of the header. */
export interface HeaderSpec {
  /** The collection's name in messages: "vector", "map", "queue". */
  readonly noun: string;
  /** How the header names a struct element type in messages: "records", "struct values". */
  readonly records: string;
  /** Bytes from the pointer that must lie inside the buffer. */
  readonly bytes: number;
  /** Word 0 of a live header. */
  readonly magic: number;
  /** Word 0 of a destroyed header. */
  readonly dead: number;
  /** Header word holding the element's kind code. */
  readonly codeWord: number;
  /** Header word holding the element's size in bytes. */
  readonly sizeWord: number;
}

/**
 * The checks of `at()`: `ptr` must be a 64-aligned pointer whose header lies in
 * `buffer` and holds `spec.magic` (else a CollectionStateError), and `element`
 * must match the element type the header records: required for records,
 * optional for scalars (else a TypeError). Returns that element type.
 */
export function openAt(
  buffer: SharedArrayBuffer,
  ptr: number,
  element: unknown,
  spec: HeaderSpec,
): ElementType {
  const operation = `open ${spec.noun}`;
  const v = new Views(buffer);
  if (!Number.isInteger(ptr) || ptr <= 0 || ptr % 64 !== 0 || !v.cover(ptr + spec.bytes)) {
    throw new CollectionStateError(operation, ptr, `is not a ${spec.noun} pointer`);
  }
  const hw = ptr >>> 2;
  const magic = Atomics.load(v.u32, hw);
  if (magic !== spec.magic) {
    throw new CollectionStateError(
      operation,
      ptr,
      magic === spec.dead ? "was destroyed" : `does not hold a ${spec.noun}`,
    );
  }
  const code = v.u32[hw + spec.codeWord];
  if (code === STRUCT_CODE) {
    const sizeBytes = v.u32[hw + spec.sizeWord];
    if (!(element instanceof StructType) || element.size !== sizeBytes) {
      throw new TypeError(
        `Cannot ${operation}: the ${spec.noun} holds ${spec.records} of ${sizeBytes} bytes; ` +
          `pass their struct type: ${describe(element)}`,
      );
    }
    return element as ElementType;
  }
  const type = scalarOfCode(code);
  if (element !== undefined && element !== type) {
    throw new TypeError(
      `Cannot ${operation}: the ${spec.noun} holds ${KIND_NAMES[code]} values: ${
        describe(element)
      }`,
    );
  }
  return type;
}

/**
 * Checks a value to store: against the scalar kind `code`, or, for a collection
 * of `struct` records, that it is an object (the record or its field values).
 */
export function checkValue(
  operation: string,
  code: number,
  struct: AnyStructType | null,
  value: unknown,
): void {
  if (struct === null) checkScalar(operation, code, value);
  else if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `Cannot ${operation}: value must be ${struct.name} field values or record: ${
        describe(value)
      }`,
    );
  }
}

/** The JS value type of a scalar kind. */
export type ScalarValue = ScalarValues[keyof ScalarValues];

/** Fixed-length views over a heap's buffer, rebuilt when a pointer lies past them. */
export class Views {
  readonly buffer: SharedArrayBuffer;
  u8!: Uint8Array;
  i8!: Int8Array;
  u16!: Uint16Array;
  i16!: Int16Array;
  i32!: Int32Array;
  u32!: Uint32Array;
  f32!: Float32Array;
  f64!: Float64Array;
  b64!: BigInt64Array;
  bu64!: BigUint64Array;
  bytes = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.refresh();
  }

  /** Rebuilds the views over the buffer's current length. */
  refresh(): void {
    const b = this.buffer;
    const n = b.byteLength;
    this.u8 = new Uint8Array(b, 0, n);
    this.i8 = new Int8Array(b, 0, n);
    this.u16 = new Uint16Array(b, 0, n >>> 1);
    this.i16 = new Int16Array(b, 0, n >>> 1);
    this.i32 = new Int32Array(b, 0, n >>> 2);
    this.u32 = new Uint32Array(b, 0, n >>> 2);
    this.f32 = new Float32Array(b, 0, n >>> 2);
    this.f64 = new Float64Array(b, 0, n >>> 3);
    this.b64 = new BigInt64Array(b, 0, n >>> 3);
    this.bu64 = new BigUint64Array(b, 0, n >>> 3);
    this.bytes = n;
  }

  /** Makes sure the views reach byte `end`; returns false if the buffer does not. */
  cover(end: number): boolean {
    if (end <= this.bytes) return true;
    this.refresh();
    return end <= this.bytes;
  }
}

/** Reads the scalar of kind `code` at byte offset `at` (aligned to its size). */
export function readScalar(v: Views, code: number, at: number): ScalarValue {
  switch (code) {
    case 5:
      return v.u32[at >>> 2];
    case 8:
      return v.f64[at >>> 3];
    case 6:
      return v.i32[at >>> 2];
    case 1:
      return v.u8[at];
    case 2:
      return v.i8[at];
    case 3:
      return v.u16[at >>> 1];
    case 4:
      return v.i16[at >>> 1];
    case 7:
      return v.f32[at >>> 2];
    case 9:
      return v.u8[at] !== 0;
    case 10:
      return v.bu64[at >>> 3];
    default:
      return v.b64[at >>> 3];
  }
}

/** Writes a checked scalar of kind `code` at byte offset `at`. */
export function writeScalar(v: Views, code: number, at: number, value: ScalarValue): void {
  switch (code) {
    case 5:
      v.u32[at >>> 2] = value as number;
      return;
    case 8:
      v.f64[at >>> 3] = value as number;
      return;
    case 6:
      v.i32[at >>> 2] = value as number;
      return;
    case 1:
      v.u8[at] = value as number;
      return;
    case 2:
      v.i8[at] = value as number;
      return;
    case 3:
      v.u16[at >>> 1] = value as number;
      return;
    case 4:
      v.i16[at >>> 1] = value as number;
      return;
    case 7:
      v.f32[at >>> 2] = value as number;
      return;
    case 9:
      v.u8[at] = value ? 1 : 0;
      return;
    case 10:
      v.bu64[at >>> 3] = value as bigint;
      return;
    default:
      v.b64[at >>> 3] = value as bigint;
  }
}

/** A 32-bit integer mix (the murmur3 finalizer): every input bit affects every output bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** What {@linkcode inOrderCpu} reads from the global object. */
export interface RuntimeFacts {
  Deno?: { build?: { arch?: string } };
  process?: { arch?: string; versions?: { v8?: string; bun?: string } };
}

/**
 * Whether plain typed-array loads stay in order with loads and stores with
 * stores, both in the compiled code and on the CPU: V8 (Deno, Node), whose
 * compilers keep typed-array accesses in program order around `Atomics`
 * operations, on x86-64. `false` where either is unknown (browsers, other
 * engines such as Bun's JavaScriptCore, other CPUs): the map then keeps its
 * locked paths.
 */
export function inOrderCpu(g: RuntimeFacts = globalThis as RuntimeFacts): boolean {
  if (g.Deno !== undefined) return g.Deno.build?.arch === "x86_64";
  const p = g.process;
  return p?.arch === "x64" && typeof p.versions?.v8 === "string" && p.versions.bun === undefined;
}

/** Rounds `n` up to a multiple of `align` (a power of two). */
export function roundUp(n: number, align: number): number {
  return (n + align - 1) & -align;
}

// ---------------------------------------------------------------------------
// UTF-8 for shared views (TextEncoder/TextDecoder reject them in browsers).

let scratch = new Uint8Array(256);

/**
 * Encodes `text` into a reused scratch array; returns it and sets
 * `encodedLength` (to -1 if `text` has a lone surrogate, which has no UTF-8 form).
 */
export function encodeUtf8(text: string): Uint8Array {
  const n = text.length;
  if (scratch.length < n * 3) scratch = new Uint8Array(n * 3 + 64);
  const out = scratch;
  let p = 0;
  let wellFormed = true;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[p++] = c;
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[p++] = 0xf0 | (c >> 18);
          out[p++] = 0x80 | ((c >> 12) & 0x3f);
          out[p++] = 0x80 | ((c >> 6) & 0x3f);
          out[p++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd; // a lone surrogate
        wellFormed = false;
      }
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  encodedLength = wellFormed ? p : -1;
  return out;
}

/** The length of the last `encodeUtf8` result. */
export let encodedLength = 0;

/** Decodes `length` bytes of UTF-8 at `offset` (written by `encodeUtf8`). */
export function decodeUtf8(u8: Uint8Array, offset: number, length: number): string {
  let out = "";
  const end = offset + length;
  let chunk: number[] = [];
  for (let p = offset; p < end;) {
    const b = u8[p++];
    let c: number;
    if (b < 0x80) c = b;
    else if (b < 0xe0) c = ((b & 0x1f) << 6) | (u8[p++] & 0x3f);
    else if (b < 0xf0) c = ((b & 0x0f) << 12) | ((u8[p++] & 0x3f) << 6) | (u8[p++] & 0x3f);
    else {
      c = ((b & 0x07) << 18) | ((u8[p++] & 0x3f) << 12) | ((u8[p++] & 0x3f) << 6) |
        (u8[p++] & 0x3f);
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else {
      chunk.push(c);
    }
    if (chunk.length >= 4096) {
      out += String.fromCharCode(...chunk);
      chunk = [];
    }
  }
  return out + String.fromCharCode(...chunk);
}

/** FNV-1a over bytes, then mixed. */
export function hashBytes(bytes: Uint8Array, offset: number, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[offset + i], 0x01000193);
  return mix32(h ^ length);
}

// ---------------------------------------------------------------------------
// Blocking.

let blockable: boolean | undefined;

/** Whether this thread may block in `Atomics.wait` (a browser's main thread may not). */
export function canBlock(): boolean {
  if (blockable === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockable = true;
    } catch {
      blockable = false;
    }
  }
  return blockable;
}

/** Longest single wait: every wake-up re-checks the state, so a lost wake-up costs latency only. */
export const WAIT_SLICE_MS = 50;

/** Sleeps while `i32[index] === value`, at most `ms` (spins where the thread may not block). */
export function waitSlice(i32: Int32Array, index: number, value: number, ms: number): void {
  if (canBlock()) {
    Atomics.wait(i32, index, value, ms);
    return;
  }
  const deadline = performance.now() + ms;
  // Bounded by the deadline.
  for (let spin = 1;; spin++) {
    if (Atomics.load(i32, index) !== value) return;
    if ((spin & 1023) === 0 && performance.now() >= deadline) return;
  }
}

/** Sleeps asynchronously while `i32[index] === value`, at most `ms` (finite). */
export function waitSliceAsync(
  i32: Int32Array,
  index: number,
  value: number,
  ms: number,
): Promise<unknown> {
  if (typeof Atomics.waitAsync !== "function") {
    return new Promise((resolve) => setTimeout(resolve, ms < 1 ? ms : 1));
  }
  const result = Atomics.waitAsync(i32, index, value, ms);
  if (!result.async) return Promise.resolve();
  // Deno neither keeps the event loop alive for a pending waitAsync nor fires
  // its timeout by itself; a timer does both.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const backstop = new Promise((resolve) => {
    timer = setTimeout(resolve, ms + 1);
  });
  return Promise.race([result.value, backstop]).finally(() => clearTimeout(timer));
}

/** The timeout checks shared by every blocking call. */
export function checkTimeout(operation: string, timeoutMs: unknown): number {
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new RangeError(
      `Cannot ${operation}: timeoutMs must be a number from 0 (Infinity for no limit): ${
        describe(timeoutMs)
      }`,
    );
  }
  return timeoutMs;
}

// ---------------------------------------------------------------------------
// What every collection's `create` does.

/** `create`'s first check: `options` is an object. */
export function checkOptions(operation: string, options: unknown): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot ${operation}: options must be an object: ${describe(options)}`);
  }
}

/** Checks an integer option from `min` to `max` (`range` spells them in the message). */
export function integerOption(
  operation: string,
  name: string,
  value: unknown,
  [min, max, range]: [number, number, string],
): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new RangeError(
      `Cannot ${operation}: ${name} must be an integer from ${range}: ${describe(value)}`,
    );
  }
  return value as number;
}

/** Checks the `lockTimeoutMs` option; returns the header word that keeps it (0xffffffff: none). */
export function timeoutWord(operation: string, timeoutMs: unknown): number {
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new RangeError(
      `Cannot ${operation}: lockTimeoutMs must be a number from 0: ${describe(timeoutMs)}`,
    );
  }
  return timeoutMs === Infinity ? 0xffffffff : Math.min(timeoutMs, 0xfffffffe);
}

/** Reads a lock timeout kept by {@linkcode timeoutWord}. */
export function timeoutOfWord(word: number): number {
  return word === 0xffffffff ? Infinity : word;
}

/**
 * Makes a collection's header: allocates `bytes` (64-byte aligned) and zeroes
 * them, lets `init` write the header words, allocates the data with
 * `allocData(ptr)` (freeing the header if that throws) and stores its pointer
 * at `dataWord` (unless -1), then publishes `magic` in word 0, last.
 *
 * @returns The header's pointer.
 */
export function createHeader(
  heap: CollectionHeap,
  layout: { bytes: number; magic: number; dataWord: number },
  init: (u32: Uint32Array, hw: number) => void,
  allocData: (ptr: number) => number,
): number {
  const ptr = heap.alloc(layout.bytes, 64);
  const v = new Views(heap.buffer);
  const hw = ptr >>> 2;
  v.u8.fill(0, ptr, ptr + layout.bytes);
  init(v.u32, hw);
  let data: number;
  try {
    data = allocData(ptr);
  } catch (error) {
    heap.free(ptr);
    throw error;
  }
  v.refresh(); // the data may have grown the heap
  if (layout.dataWord >= 0) v.u32[hw + layout.dataWord] = data;
  Atomics.store(v.u32, hw, layout.magic);
  return ptr;
}

export type { CollectionHeap } from "./types.ts";
