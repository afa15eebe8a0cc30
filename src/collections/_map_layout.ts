/**
 * `SharedMap`'s key codec and table layout: which key kinds there are, how a
 * key is checked, encoded and hashed, and how `create`'s options become the
 * sizes of a map's header and slots.
 *
 * Layout: a header block holds the key and value kinds and `2^segLog`
 * segments of 64 bytes (one cache line each): a lock word, the entry count,
 * the capacity and the pointer of the segment's table. A key's hash picks its
 * segment (low bits) and its home slot in that segment's table (high bits).
 * Each table is open addressing with linear probing and backward-shift
 * deletion (no tombstones); it grows by 1.5x past a load of 3/4. Numeric keys
 * are stored in place, and the key whose bits are all zero lives in an extra
 * slot at the end of the table, so an all-zero slot means "empty" and no
 * state byte is needed. String keys are UTF-8 blocks in the heap (length, then
 * bytes); a slot holds their hash and pointer. Scalar values sit next to the
 * key in the slot; struct values are records of a `StructArray` parallel to
 * the table.
 *
 * @module
 */

import type { AnyStructType } from "../../structs/types.ts";
import {
  checkOptions,
  decodeUtf8,
  describe,
  elementCode,
  encodedLength,
  encodeUtf8,
  hashBytes,
  integerOption,
  KIND_SIZES,
  mix32,
  roundUp,
  STRUCT_CODE,
  timeoutWord,
  type Views,
} from "./_common.ts";
import type { SharedMapOptions } from "./map.ts";
import type { ElementType, MapKeyKind } from "./types.ts";

/** Key kind codes as stored in a map's header. */
export const KEY_CODES: Readonly<Record<string, number>> = {
  u32: 1,
  i32: 2,
  u64: 3,
  i64: 4,
  f64: 5,
  string: 6,
};
/** Key kind names by code. */
export const KEY_NAMES = ["", "u32", "i32", "u64", "i64", "f64", "string"];
/** The smallest table of a segment. */
export const MIN_TABLE = 8;
const DEFAULT_SEG_LOG = 6;
const DEFAULT_TIMEOUT_MS = 10_000;

const f64Scratch = new Float64Array(1);
const u32Scratch = new Uint32Array(f64Scratch.buffer);

/** The sizes `create` lays a map out with. */
export interface MapLayout {
  keyCode: number;
  valueCode: number;
  valueSize: number;
  valueOffset: number;
  stride: number;
  segLog: number;
  segments: number;
  /** Each segment's first table capacity. */
  cap: number;
  /** The lock timeout as its header word (`timeoutWord`). */
  timeout: number;
}

/** Checks `create`'s options and computes the map's layout from them. */
export function mapLayout<K extends MapKeyKind, V extends ElementType>(
  options: SharedMapOptions<K, V>,
): MapLayout {
  const op = "create map";
  checkOptions(op, options);
  const keyCode = KEY_CODES[options.key as string];
  if (typeof options.key !== "string" || keyCode === undefined) {
    throw new TypeError(
      `Cannot ${op}: key must be one of u32, i32, u64, i64, f64, string: ${describe(options.key)}`,
    );
  }
  const valueCode = elementCode(op, "value", options.value);
  const segments = options.segments ?? 1 << DEFAULT_SEG_LOG;
  if (
    !Number.isInteger(segments) || segments < 1 || segments > 1024 || (segments & (segments - 1))
  ) {
    throw new RangeError(
      `Cannot ${op}: segments must be a power of two from 1 to 1024: ${describe(segments)}`,
    );
  }
  const capacity = integerOption(op, "capacity", options.capacity ?? 0, [0, 2 ** 28, "0 to 2^28"]);
  const timeout = timeoutWord(op, options.lockTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  const keyBytes = keyCode === 1 || keyCode === 2 ? 4 : 8;
  const keyAlign = keyCode === 6 ? 4 : keyBytes;
  let valueSize: number, valueOffset: number, stride: number;
  if (valueCode === STRUCT_CODE) {
    valueSize = (options.value as AnyStructType).size;
    valueOffset = 0;
    stride = keyBytes;
  } else {
    valueSize = KIND_SIZES[valueCode];
    valueOffset = roundUp(keyBytes, valueSize);
    stride = roundUp(valueOffset + valueSize, Math.max(keyAlign, valueSize));
  }
  const segLog = 31 - Math.clz32(segments);
  const perSegment = Math.ceil(capacity / segments / 0.75) + 1;
  const cap = Math.max(MIN_TABLE, perSegment);
  return { keyCode, valueCode, valueSize, valueOffset, stride, segLog, segments, cap, timeout };
}

/**
 * Checks and encodes keys of one kind: the encoded key of the current
 * operation is left in `k0`, `k1`, `h` and `str`.
 */
export class KeyCodec {
  /** The key's low word (a string's hash). */
  k0 = 0;
  /** The key's high word (a string's byte length). */
  k1 = 0;
  /** The key's hash. */
  h = 0;
  /** A string key's UTF-8 bytes (scratch, valid until the next string key). */
  str: Uint8Array | null = null;
  readonly #keyCode: number;
  readonly #v: Views;

  constructor(keyCode: number, v: Views) {
    this.#keyCode = keyCode;
    this.#v = v;
  }

  /** Checks and encodes `key` into `k0`/`k1`/`h` (and `str` for a string). */
  encode(operation: string, key: unknown): void {
    const kc = this.#keyCode;
    if (kc === 1) {
      if (typeof key === "number" && (key >>> 0) === key) {
        this.k0 = key;
        this.h = mix32(key);
        return;
      }
    } else if (kc === 2) {
      if (typeof key === "number" && (key | 0) === key) {
        this.k0 = key >>> 0;
        this.h = mix32(key);
        return;
      }
    } else if (kc === 5) {
      if (typeof key === "number") {
        f64Scratch[0] = key === 0 ? 0 : key !== key ? NaN : key;
        this.#setWide(u32Scratch[0], u32Scratch[1]);
        return;
      }
    } else if (kc === 6) {
      if (typeof key === "string") {
        const bytes = encodeUtf8(key);
        const n = encodedLength;
        if (n < 0) {
          throw new TypeError(
            `Cannot ${operation}: key must be well-formed UTF-16 (it has a lone surrogate): ${
              describe(key)
            }`,
          );
        }
        this.str = bytes;
        this.k1 = n;
        this.h = hashBytes(bytes, 0, n);
        this.k0 = this.h;
        return;
      }
    } else if (typeof key === "bigint") {
      const unsigned = kc === 3;
      if (unsigned ? key >= 0n && key <= 0xffff_ffff_ffff_ffffn : BigInt.asIntN(64, key) === key) {
        const bits = BigInt.asUintN(64, key);
        this.#setWide(Number(bits & 0xffffffffn), Number(bits >> 32n));
        return;
      }
    }
    const kind = KEY_NAMES[kc];
    const want = kc === 6
      ? "a string"
      : kc === 3 || kc === 4
      ? `a bigint that fits ${kind}`
      : kc === 5
      ? "a number"
      : `an integer that fits ${kind}`;
    throw new TypeError(`Cannot ${operation}: key must be ${want}: ${describe(key)}`);
  }

  #setWide(lo: number, hi: number): void {
    this.k0 = lo;
    this.k1 = hi;
    this.h = mix32(lo ^ Math.imul(hi ^ 0x5bd1e995, 0x9e3779b1));
  }

  /** The hash of the key stored at word `w`. */
  hashAt(w: number): number {
    const u32 = this.#v.u32;
    const kc = this.#keyCode;
    if (kc <= 2) return mix32(u32[w] | 0);
    if (kc === 6) return u32[w];
    return mix32(u32[w] ^ Math.imul(u32[w + 1] ^ 0x5bd1e995, 0x9e3779b1));
  }

  /** Decodes the key stored at word `w`. */
  decode(w: number): unknown {
    const u32 = this.#v.u32;
    switch (this.#keyCode) {
      case 1:
        return u32[w];
      case 2:
        return u32[w] | 0;
      case 5:
        u32Scratch[0] = u32[w];
        u32Scratch[1] = u32[w + 1];
        return f64Scratch[0];
      case 6: {
        const p = u32[w + 1];
        if (p + 4 > this.#v.bytes) this.#v.refresh(); // a block from after a heap growth
        const n = this.#v.u32[p >>> 2];
        this.#v.cover(p + 4 + n);
        return decodeUtf8(this.#v.u8, p + 4, n);
      }
      default: {
        const bits = (BigInt(u32[w + 1]) << 32n) | BigInt(u32[w]);
        return this.#keyCode === 3 ? bits : BigInt.asIntN(64, bits);
      }
    }
  }
}
