/**
 * `SharedMap`: a hash map whose whole state lives in a shared heap, usable
 * from every worker that attached it.
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
 * Concurrency: every operation that writes, and every read on maps other
 * than the fast ones, holds the lock of the key's segment, so operations on
 * different segments run in parallel and a segment grows under its own lock.
 *
 * Reads without the lock: on a map with 32-bit keys and u32, i32 or f64 values
 * `get` reads without taking the lock where the CPU keeps loads in order and
 * stores in order (x86-64). A lock compare-exchange costs little by itself, but
 * in V8 every `Atomics` operation also waits for all earlier loads, so a locked
 * `get` cannot overlap its cache miss with anything: a lookup in a 1M-entry map
 * cost 194 ns with the lock and 102 ns without it (same run). The read is
 * validated by the segment's epoch word, which the lock holder makes odd (with
 * `Atomics.add`) before it moves entries or tables (growth, deletion, clear)
 * and even again after: `get` reads the epoch, the capacity and table, probes,
 * reads the value and reads the epoch again, all with plain loads; an odd or
 * changed epoch, or a table outside its views, sends it to the locked path. An
 * insert writes the value before the key, so a key seen is a key with its value.
 * On other CPUs (or where the architecture is unknown, as in browsers) `get`
 * takes the lock.
 *
 * Atomic: each `get`, `set`, `has`, `delete` and `update` of one key. Not
 * atomic: `size` (segment by segment), iteration, `clear` (segment by
 * segment); a `get` racing a `set` of the same key returns the old or the new value.
 *
 * @module
 */

import { HeapCorruptionError } from "../errors.ts";
import { lockWord, unlockWord } from "../sync/mod.ts";
import type { StructArray, StructCursor } from "../../structs/struct_array.ts";
import type { AnyStructType, StructFields } from "../../structs/types.ts";
import {
  checkScalar,
  checkValue,
  type CollectionHeap,
  decodeUtf8,
  describe,
  elementCode,
  encodedLength,
  encodeUtf8,
  hashBytes,
  type HeaderSpec,
  KIND_CODES,
  KIND_SIZES,
  mix32,
  openAt,
  readScalar,
  roundUp,
  type ScalarValue,
  STRUCT_CODE,
  Views,
  writeScalar,
} from "./_common.ts";
import { CollectionStateError } from "./errors.ts";
import type { ElementInit, ElementType, ElementValue, MapKey, MapKeyKind } from "./types.ts";

const MAGIC = 0x4d415031; // "MAP1"
const DEAD = 0x4d415030;
// Header words.
const H_MAGIC = 0;
const H_KEY = 1;
const H_VALUE = 2;
const H_VALUE_SIZE = 3;
const H_SEG_LOG = 4;
const H_STRIDE = 5;
const H_VALUE_OFFSET = 6;
const H_TIMEOUT = 7;
const H_SEGMENTS = 16;
/** What `at()` checks (it reads the magic from word 0: H_MAGIC). */
const HEADER: HeaderSpec = {
  noun: "map",
  records: "struct values",
  bytes: 64,
  magic: MAGIC,
  dead: DEAD,
  codeWord: H_VALUE,
  sizeWord: H_VALUE_SIZE,
};

// Segment words (16 per segment).
const SEG_WORDS = 16;
const S_LOCK = 0;
const S_COUNT = 1;
const S_CAP = 2;
const S_TABLE = 3;
const S_VALUES = 4;
const S_ZERO = 5;
const S_MAX_FILL = 6;
/** Odd while the lock holder moves entries or tables (fast maps): lock-free readers retry. */
const S_EPOCH = 7;

/**
 * Whether `get` may read without the lock: only where loads are not reordered
 * with loads nor stores with stores (x86-64), known from Deno or Node.
 */
const LOCK_FREE_READS = ((): boolean => {
  const g = globalThis as { Deno?: { build?: { arch?: string } }; process?: { arch?: string } };
  return g.Deno?.build?.arch === "x86_64" || g.process?.arch === "x64";
})();

const KEY_CODES: Readonly<Record<string, number>> = {
  u32: 1,
  i32: 2,
  u64: 3,
  i64: 4,
  f64: 5,
  string: 6,
};
const KEY_NAMES = ["", "u32", "i32", "u64", "i64", "f64", "string"];
const MIN_CAP = 8;
const DEFAULT_SEG_LOG = 6;
const DEFAULT_TIMEOUT_MS = 10_000;
const TWO_32 = 4294967296;

const f64Scratch = new Float64Array(1);
const u32Scratch = new Uint32Array(f64Scratch.buffer);
/** Scratch for a struct record's bytes while a failed assignment is undone. */
let backup = new Uint8Array(64);

/**
 * Options for {@linkcode SharedMap.create}.
 *
 * @example A map from strings to f64 with room for 1000 entries
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedMap, type SharedMapOptions } from "@typedheap/typedheap/collections";
 * import { f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const options: SharedMapOptions<"string", typeof f64> = { key: "string", value: f64, capacity: 1000 };
 * const map = SharedMap.create(Heap.create(), options);
 * map.set("pi", 3.14);
 * assert.equal(map.get("pi"), 3.14);
 * ```
 */
export interface SharedMapOptions<K extends MapKeyKind, V extends ElementType> {
  /** The key kind: `"u32"`, `"i32"`, `"u64"`, `"i64"`, `"f64"` or `"string"`. */
  key: K;
  /** The value type: a scalar field type (`u32`, `f64`, ...) or a struct type. */
  value: V;
  /**
   * How many entries to make room for up front (the map grows past it).
   *
   * @default {0}
   */
  capacity?: number;
  /**
   * The number of segments, each with its own lock (a power of two from 1 to
   * 1024). More segments let more workers write at once.
   *
   * @default {64}
   */
  segments?: number;
  /**
   * How long an operation waits for a segment lock before it throws
   * `LockTimeoutError`.
   *
   * @default {10000}
   */
  lockTimeoutMs?: number;
}

/**
 * Walks a map's entries without creating an object per entry: `next()`
 * moves to the next entry and `key`/`value` read it.
 *
 * @example Summing the values
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedMap } from "@typedheap/typedheap/collections";
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const map = SharedMap.create(Heap.create(), { key: "u32", value: u32 });
 * map.set(1, 10).set(2, 20);
 * let sum = 0;
 * for (const c = map.cursor(); c.next();) sum += c.value;
 * assert.equal(sum, 30);
 * ```
 */
export interface SharedMapCursor<K extends MapKeyKind, V extends ElementType> {
  /**
   * Moves to the next entry.
   *
   * @returns `false` once every entry was visited.
   */
  next(): boolean;
  /** The current entry's key. */
  readonly key: MapKey<K>;
  /**
   * The current entry's value: a scalar, or for a struct a view of the record
   * in the map (one view reused by the cursor).
   */
  readonly value: ElementValue<V>;
}

/**
 * A hash map in a shared heap that every worker can use at once.
 *
 * Keys are `u32 | i32 | u64 | i64 | f64 | string`; values are a scalar field
 * type or a struct type (the value is then a record inside the map). All state
 * is in the heap: pass `map.ptr` to another worker and open it there with
 * {@linkcode SharedMap.at}. Each operation locks one segment of the map, so
 * workers touching different keys mostly run in parallel; on x86-64, `get` on
 * a map with 32-bit keys and u32, i32 or f64 values reads without the lock
 * (validated by the segment's epoch; see the module's notes).
 *
 * Not safe under concurrency: a record view returned by `get` for a struct
 * value moves when its segment grows (use {@linkcode SharedMap.update} from
 * several workers); iteration while other workers write may miss or repeat
 * entries (each entry read is consistent); `destroy()` while another worker
 * uses the map.
 *
 * @example Counting words
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedMap } from "@typedheap/typedheap/collections";
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const counts = SharedMap.create(heap, { key: "string", value: u32 });
 * for (const word of "a b a c a".split(" ")) counts.update(word, (n) => (n ?? 0) + 1);
 * assert.equal(counts.get("a"), 3);
 * assert.equal(counts.size, 3);
 * // In a worker: SharedMap.at(Heap.attach(buffer), ptr) with the pointer received by postMessage.
 * assert.equal(SharedMap.at(Heap.attach(heap.buffer), counts.ptr).get("c"), 1);
 * counts.destroy();
 * heap.check();
 * ```
 */
export class SharedMap<K extends MapKeyKind, V extends ElementType> {
  /** The byte offset of the map's header in the heap. */
  readonly ptr: number;
  /** The heap the map lives in. */
  readonly heap: CollectionHeap;
  /** The key kind. */
  readonly keyKind: K;
  /** The value type. */
  readonly valueType: V;
  readonly #v: Views;
  readonly #hw: number; // header word index
  readonly #keyCode: number;
  readonly #valueCode: number;
  readonly #struct: AnyStructType | null;
  readonly #valueSize: number;
  readonly #segMask: number;
  readonly #stride: number;
  readonly #valueOffset: number;
  readonly #timeoutMs: number;
  readonly #wid: number;
  /** 32-bit keys and a u32, i32 or f64 value: `get` and `set` take a path of their own. */
  readonly #fast: boolean;
  // The encoded key of the current operation.
  #k0 = 0;
  #k1 = 0;
  #h = 0;
  #str: Uint8Array | null = null;
  /** The last word `set` read before taking the lock (kept so the read is not dropped). */
  #hint: number | undefined = 0;
  // Per segment, a cursor over its struct array (struct values only).
  readonly #arrays: (StructCursor<StructFields> | null)[] = [];
  readonly #arrayPtrs: number[] = [];

  private constructor(heap: CollectionHeap, ptr: number, valueType: V) {
    this.heap = heap;
    this.ptr = ptr;
    const v = new Views(heap.buffer);
    this.#v = v;
    const hw = ptr >>> 2;
    this.#hw = hw;
    this.#keyCode = v.u32[hw + H_KEY];
    this.keyKind = KEY_NAMES[this.#keyCode] as K;
    this.#valueCode = v.u32[hw + H_VALUE];
    this.valueType = valueType;
    this.#struct = this.#valueCode === STRUCT_CODE ? valueType as AnyStructType : null;
    this.#valueSize = v.u32[hw + H_VALUE_SIZE];
    this.#segMask = (1 << v.u32[hw + H_SEG_LOG]) - 1;
    this.#stride = v.u32[hw + H_STRIDE];
    this.#valueOffset = v.u32[hw + H_VALUE_OFFSET];
    this.#timeoutMs = v.u32[hw + H_TIMEOUT] === 0xffffffff ? Infinity : v.u32[hw + H_TIMEOUT];
    this.#wid = heap.workerId;
    this.#fast = this.#keyCode <= 2 &&
      (this.#valueCode === 5 || this.#valueCode === 6 || this.#valueCode === 8);
  }

  /**
   * Creates an empty map in `heap`.
   *
   * @param heap The heap to allocate in.
   * @param options The key kind, the value type and sizes; see {@linkcode SharedMapOptions}.
   * @returns The map.
   * @throws {TypeError} If the key kind or value type is not one of the supported ones.
   * @throws {RangeError} If `capacity`, `segments` or `lockTimeoutMs` is out of range.
   *
   * @example A map with struct values
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Pos = defineStruct("Pos", { x: f64, y: f64 });
   * const map = SharedMap.create(Heap.create(), { key: "u32", value: Pos });
   * map.set(7, { x: 1, y: 2 });
   * assert.deepEqual(map.get(7)?.toJSON(), { x: 1, y: 2 });
   * ```
   */
  static create<K extends MapKeyKind, V extends ElementType>(
    heap: CollectionHeap,
    options: SharedMapOptions<K, V>,
  ): SharedMap<K, V> {
    const op = "create map";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Cannot ${op}: options must be an object: ${describe(options)}`);
    }
    const keyCode = KEY_CODES[options.key as string];
    if (typeof options.key !== "string" || keyCode === undefined) {
      throw new TypeError(
        `Cannot ${op}: key must be one of u32, i32, u64, i64, f64, string: ${
          describe(options.key)
        }`,
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
    const capacity = options.capacity ?? 0;
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 2 ** 28) {
      throw new RangeError(
        `Cannot ${op}: capacity must be an integer from 0 to 2^28: ${describe(capacity)}`,
      );
    }
    const timeoutMs = options.lockTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
      throw new RangeError(
        `Cannot ${op}: lockTimeoutMs must be a number from 0: ${describe(timeoutMs)}`,
      );
    }
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
    const cap = Math.max(MIN_CAP, perSegment);
    const ptr = heap.alloc((H_SEGMENTS + segments * SEG_WORDS) * 4, 64);
    const v = new Views(heap.buffer);
    const hw = ptr >>> 2;
    v.u32.fill(0, hw, hw + H_SEGMENTS + segments * SEG_WORDS);
    v.u32[hw + H_KEY] = keyCode;
    v.u32[hw + H_VALUE] = valueCode;
    v.u32[hw + H_VALUE_SIZE] = valueSize;
    v.u32[hw + H_SEG_LOG] = segLog;
    v.u32[hw + H_STRIDE] = stride;
    v.u32[hw + H_VALUE_OFFSET] = valueOffset;
    v.u32[hw + H_TIMEOUT] = timeoutMs === Infinity ? 0xffffffff : Math.min(timeoutMs, 0xfffffffe);
    const map = new SharedMap(heap, ptr, options.value);
    let made = 0;
    try {
      for (; made < segments; made++) map.#allocTable(hw + H_SEGMENTS + made * SEG_WORDS, cap);
    } catch (error) {
      for (let s = 0; s < made; s++) map.#freeTable(hw + H_SEGMENTS + s * SEG_WORDS);
      heap.free(ptr);
      throw error;
    }
    Atomics.store(v.u32, hw + H_MAGIC, MAGIC);
    return map as SharedMap<K, V>;
  }

  /**
   * Opens a map made by {@linkcode SharedMap.create}, typically in another worker.
   *
   * @param heap The heap holding the map (attached in this worker).
   * @param ptr The map's `ptr`.
   * @param value The value type, required for a map of struct values (their
   *   layout is not stored in the heap); checked against the map's.
   * @returns A handle on the same map.
   * @throws {CollectionStateError} If `ptr` does not hold a live map.
   * @throws {TypeError} If `value` does not match the map's value type.
   *
   * @example Opening a map by pointer
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { i64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const map = SharedMap.create(heap, { key: "i64", value: i64 });
   * map.set(-1n, 2n);
   * const same = SharedMap.at<"i64", typeof i64>(Heap.attach(heap.buffer), map.ptr);
   * assert.equal(same.get(-1n), 2n);
   * ```
   */
  static at<K extends MapKeyKind = MapKeyKind, V extends ElementType = ElementType>(
    heap: CollectionHeap,
    ptr: number,
    value?: V,
  ): SharedMap<K, V> {
    return new SharedMap(heap, ptr, openAt(heap.buffer, ptr, value, HEADER) as V);
  }

  /**
   * The number of entries (a sum over the segments, each read atomically).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "f64", value: u8 });
   * map.set(0.5, 1).set(-0, 2).set(0, 3);
   * assert.equal(map.size, 2); // -0 and 0 are the same key, as in a JS Map
   * ```
   */
  get size(): number {
    this.#live("read size of map");
    const u32 = this.#v.u32;
    let n = 0;
    for (let s = 0; s <= this.#segMask; s++) {
      n += Atomics.load(u32, this.#hw + H_SEGMENTS + s * SEG_WORDS + S_COUNT);
    }
    return n;
  }

  /**
   * Reads the value of `key`.
   *
   * @param key The key.
   * @returns The value, or `undefined` if the key is absent. For struct values,
   *   a new view of the record in the map: valid until the key is deleted or
   *   its segment grows (use {@linkcode SharedMap.update} when other workers write).
   * @throws {TypeError} If `key` is not of the map's key kind.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "u32", value: u32 });
   * map.set(1, 2);
   * assert.equal(map.get(1), 2);
   * assert.equal(map.get(3), undefined);
   * assert.throws(() => map.get(-1), TypeError);
   * ```
   */
  get(key: MapKey<K>): ElementValue<V> | undefined {
    if (this.#fast && typeof key === "number" && key !== 0) {
      const k = this.#keyCode === 1 ? key : key >>> 0;
      if (this.#keyCode === 1 ? (key >>> 0) === key : (key | 0) === key) {
        return this.#get32(k) as ElementValue<V> | undefined;
      }
    }
    this.#key("get from map", key);
    const sw = this.#hw + H_SEGMENTS + ((this.#h & this.#segMask) << 4);
    lockWord(this.#v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    const slot = this.#find(sw);
    let out: ScalarValue | undefined | ElementValue<V> = undefined;
    if (slot >= 0) {
      if (this.#struct === null) {
        out = readScalar(
          this.#v,
          this.#valueCode,
          this.#v.u32[sw + S_TABLE] + slot * this.#stride + this.#valueOffset,
        );
      } else {
        out = this.#struct.at(
          this.heap,
          this.#v.u32[sw + S_VALUES] + slot * this.#valueSize,
        ) as ElementValue<V>;
      }
    }
    unlockWord(this.#v.i32, sw + S_LOCK, this.#wid);
    return out as ElementValue<V> | undefined;
  }

  /**
   * Whether `key` is in the map.
   *
   * @param key The key.
   * @returns `true` if present.
   * @throws {TypeError} If `key` is not of the map's key kind.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { bool } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "string", value: bool });
   * map.set("", false);
   * assert.equal(map.has(""), true);
   * assert.equal(map.has("x"), false);
   * ```
   */
  has(key: MapKey<K>): boolean {
    this.#key("look up in map", key);
    const sw = this.#hw + H_SEGMENTS + ((this.#h & this.#segMask) << 4);
    lockWord(this.#v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    const slot = this.#find(sw);
    unlockWord(this.#v.i32, sw + S_LOCK, this.#wid);
    return slot >= 0;
  }

  /**
   * Sets the value of `key`, adding the key if it is absent. A struct value is
   * replaced as a whole (fields not given are zero).
   *
   * @param key The key.
   * @param value The value (for struct values: field values or a record of the type).
   * @returns The map, for chaining.
   * @throws {TypeError} If `key` or `value` is of the wrong kind (the map is unchanged).
   * @throws {RangeError} If `value` does not fit the value type (the map is unchanged).
   * @throws {OutOfMemoryError} If the map must grow and the heap is full (the map is unchanged).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "u64", value: u8 });
   * map.set(1n << 40n, 200);
   * assert.equal(map.get(1n << 40n), 200);
   * assert.throws(() => map.set(1n, 256), RangeError);
   * assert.equal(map.size, 1);
   * ```
   */
  set(key: MapKey<K>, value: ElementInit<V>): this {
    if (
      this.#fast && typeof key === "number" && key !== 0 && typeof value === "number" &&
      (this.#keyCode === 1 ? (key >>> 0) === key : (key | 0) === key) &&
      (this.#valueCode === 5
        ? (value >>> 0) === value
        : this.#valueCode === 8 || (value | 0) === value)
    ) {
      this.#set32(this.#keyCode === 1 ? key : key >>> 0, value);
      return this;
    }
    const op = "set in map";
    this.#key(op, key);
    const struct = this.#struct;
    checkValue(op, this.#valueCode, struct, value);
    const sw = this.#hw + H_SEGMENTS + ((this.#h & this.#segMask) << 4);
    lockWord(this.#v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    try {
      let slot = this.#find(sw);
      let added = false;
      if (slot < 0) {
        slot = this.#insert(sw, slot, struct === null ? value as ScalarValue : undefined);
        added = true;
      }
      const v = this.#v;
      if (struct === null) {
        if (!added) {
          writeScalar(
            v,
            this.#valueCode,
            v.u32[sw + S_TABLE] + slot * this.#stride + this.#valueOffset,
            value as ScalarValue,
          );
        }
      } else {
        this.#assign(sw, slot, value, added);
      }
    } finally {
      unlockWord(this.#v.i32, sw + S_LOCK, this.#wid);
    }
    return this;
  }

  /**
   * Reads and writes the value of `key` under the key's segment lock, so
   * concurrent updates from several workers do not lose each other's writes.
   * `fn` must not use this map (its segment is locked: that throws
   * `LockStateError`, except a `get` that reads without the lock).
   *
   * For scalar values `fn` receives the current value (`undefined` if absent)
   * and returns the new one. For struct values the key is added (zeroed) if
   * absent, and `fn` receives a view of the record and whether it was just
   * added; it writes the fields it wants (a throw leaves what it wrote).
   *
   * @param key The key.
   * @param fn The update.
   * @returns The new value (for struct values, the view passed to `fn`, valid
   *   as long as a view from `get`).
   * @throws {TypeError} If `key` is of the wrong kind, or `fn` returns a value of the wrong kind (the map is unchanged).
   * @throws {RangeError} If `fn` returns a value that does not fit (the map is unchanged).
   *
   * @example Adding to a counter from any worker
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { defineStruct, u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const counts = SharedMap.create(Heap.create(), { key: "u32", value: u32 });
   * counts.update(5, (n) => (n ?? 0) + 1);
   * assert.equal(counts.update(5, (n) => (n ?? 0) + 1), 2);
   *
   * const Stat = defineStruct("Stat", { n: u32, max: u32 });
   * const stats = SharedMap.create(Heap.create(), { key: "string", value: Stat });
   * for (const x of [3, 9, 4]) {
   *   stats.update("a", (s) => {
   *     s.n++;
   *     s.max = Math.max(s.max, x);
   *   });
   * }
   * assert.deepEqual(stats.get("a")?.toJSON(), { n: 3, max: 9 });
   * ```
   */
  update(
    key: MapKey<K>,
    fn: V extends AnyStructType ? (record: ElementValue<V>, added: boolean) => void
      : (value: ElementValue<V> | undefined) => ElementValue<V>,
  ): ElementValue<V> {
    const op = "update map";
    this.#key(op, key);
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot ${op}: fn must be a function: ${describe(fn)}`);
    }
    const struct = this.#struct;
    const sw = this.#hw + H_SEGMENTS + ((this.#h & this.#segMask) << 4);
    lockWord(this.#v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    try {
      let slot = this.#find(sw);
      const v = this.#v;
      if (struct === null) {
        const old = slot >= 0
          ? readScalar(
            v,
            this.#valueCode,
            v.u32[sw + S_TABLE] + slot * this.#stride + this.#valueOffset,
          )
          : undefined;
        const next = (fn as (value: unknown) => ScalarValue)(old);
        checkScalar(op, this.#valueCode, next);
        if (slot < 0) {
          this.#insert(sw, slot, next);
          return next as ElementValue<V>;
        }
        writeScalar(
          v,
          this.#valueCode,
          v.u32[sw + S_TABLE] + slot * this.#stride + this.#valueOffset,
          next,
        );
        return next as ElementValue<V>;
      }
      const added = slot < 0;
      if (added) slot = this.#insert(sw, slot, undefined);
      const record = this.#recordCursor(sw).seek(slot);
      (fn as (record: unknown, added: boolean) => void)(record, added);
      return record as ElementValue<V>;
    } finally {
      unlockWord(this.#v.i32, sw + S_LOCK, this.#wid);
    }
  }

  /**
   * Removes `key`.
   *
   * @param key The key.
   * @returns `true` if the key was present.
   * @throws {TypeError} If `key` is not of the map's key kind.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "string", value: u32 });
   * map.set("a", 1);
   * assert.equal(map.delete("a"), true);
   * assert.equal(map.delete("a"), false);
   * assert.equal(map.size, 0);
   * ```
   */
  delete(key: MapKey<K>): boolean {
    this.#key("delete from map", key);
    const sw = this.#hw + H_SEGMENTS + ((this.#h & this.#segMask) << 4);
    lockWord(this.#v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    try {
      const slot = this.#find(sw);
      if (slot < 0) return false;
      this.#remove(sw, slot);
      return true;
    } finally {
      unlockWord(this.#v.i32, sw + S_LOCK, this.#wid);
    }
  }

  /**
   * Removes every entry (the tables keep their capacity).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const map = SharedMap.create(heap, { key: "string", value: u32 });
   * map.set("a", 1).set("b", 2);
   * map.clear();
   * assert.equal(map.size, 0);
   * assert.equal(map.get("a"), undefined);
   * ```
   */
  clear(): void {
    this.#live("clear map");
    this.#eachSegmentLocked((sw) => this.#clearSegment(sw));
  }

  /**
   * Frees the map and everything in it. No worker may use it afterwards (each
   * handle then throws `CollectionStateError`); call it only once every other
   * worker is done with the map.
   *
   * @throws {CollectionStateError} If the map was already destroyed.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { CollectionStateError, SharedMap } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const map = SharedMap.create(heap, { key: "string", value: u32 });
   * map.set("a", 1);
   * map.destroy();
   * assert.equal(heap.stats().liveAllocations, 0);
   * assert.throws(() => map.destroy(), CollectionStateError);
   * ```
   */
  destroy(): void {
    this.#live("destroy map");
    const v = this.#v;
    if (Atomics.compareExchange(v.u32, this.#hw + H_MAGIC, MAGIC, DEAD) !== MAGIC) {
      throw new CollectionStateError("destroy map", this.ptr, "was destroyed");
    }
    for (let s = 0; s <= this.#segMask; s++) {
      const sw = this.#hw + H_SEGMENTS + s * SEG_WORDS;
      this.#freeKeys(sw);
      this.#freeTable(sw);
    }
    this.heap.free(this.ptr);
  }

  /**
   * A cursor over the entries: no object is created per entry.
   *
   * @returns A cursor before the first entry.
   *
   * @example Walking struct values in place
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const P = defineStruct("P", { x: f64 });
   * const map = SharedMap.create(Heap.create(), { key: "u32", value: P });
   * for (let i = 0; i < 10; i++) map.set(i, { x: i });
   * let sum = 0;
   * for (const c = map.cursor(); c.next();) sum += c.value.x;
   * assert.equal(sum, 45);
   * ```
   */
  cursor(): SharedMapCursor<K, V> {
    this.#live("walk map");
    return new MapCursorImpl<K, V>(this);
  }

  /**
   * The keys, in table order.
   *
   * @returns An iterator over the keys.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "string", value: u32 });
   * map.set("x", 1).set("y", 2);
   * assert.deepEqual([...map.keys()].sort(), ["x", "y"]);
   * ```
   */
  *keys(): IterableIterator<MapKey<K>> {
    for (const c = this.cursor(); c.next();) yield c.key;
  }

  /**
   * The entries as `[key, value]` pairs (struct values as new views).
   *
   * @returns An iterator over the entries.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { i32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "i32", value: i32 });
   * map.set(-1, 1);
   * assert.deepEqual([...map.entries()], [[-1, 1]]);
   * ```
   */
  *entries(): IterableIterator<[MapKey<K>, ElementValue<V>]> {
    const struct = this.#struct;
    for (const c = this.cursor(); c.next();) {
      const value = struct === null
        ? c.value
        : struct.at(this.heap, (c.value as unknown as { ptr: number }).ptr) as ElementValue<V>;
      yield [c.key, value];
    }
  }

  /**
   * The entries, as {@linkcode SharedMap.entries}.
   *
   * @returns An iterator over the entries.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const map = SharedMap.create(Heap.create(), { key: "u32", value: u32 });
   * map.set(1, 2);
   * assert.deepEqual(new Map(map), new Map([[1, 2]]));
   * ```
   */
  [Symbol.iterator](): IterableIterator<[MapKey<K>, ElementValue<V>]> {
    return this.entries();
  }

  /**
   * Verifies the map's invariants, segment by segment under its lock: counts
   * match the occupied slots, every key is reachable from its home slot, keys
   * sit in their own segment, string keys are well-formed.
   *
   * @throws {HeapCorruptionError} Naming the first broken invariant.
   * @throws {CollectionStateError} If the map was destroyed.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedMap } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   *
   * const map = SharedMap.create(Heap.create(), { key: "u32", value: u32 });
   * for (let i = 0; i < 1000; i++) map.set(i, i);
   * for (let i = 0; i < 1000; i += 3) map.delete(i);
   * map.check();
   * ```
   */
  check(): void {
    this.#live("check map");
    this.#eachSegmentLocked((sw, s) => this.#checkSegment(sw, s));
  }

  // -------------------------------------------------------------------------
  // Internals (also used by the cursor).

  /** Runs `fn` on each segment in turn (its header word and number), holding that segment's lock. */
  #eachSegmentLocked(fn: (sw: number, s: number) => void): void {
    for (let s = 0; s <= this.#segMask; s++) {
      const sw = this.#hw + H_SEGMENTS + s * SEG_WORDS;
      lockWord(this.#v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
      try {
        fn(sw, s);
      } finally {
        unlockWord(this.#v.i32, sw + S_LOCK, this.#wid);
      }
    }
  }

  /** Empties segment `sw` (its lock held): frees its keys, zeroes its table and values. */
  #clearSegment(sw: number): void {
    this.#epochOdd(sw);
    try {
      this.#zeroSegment(sw);
    } finally {
      this.#epochEven(sw);
    }
  }

  /** The body of `#clearSegment`. */
  #zeroSegment(sw: number): void {
    this.#freeKeys(sw);
    const v = this.#v;
    const cap = v.u32[sw + S_CAP];
    const table = v.u32[sw + S_TABLE];
    v.cover(table + (cap + 1) * this.#stride);
    v.u8.fill(0, table, table + (cap + 1) * this.#stride);
    if (this.#struct !== null) {
      const values = v.u32[sw + S_VALUES];
      v.cover(values + (cap + 1) * this.#valueSize);
      v.u8.fill(0, values, values + (cap + 1) * this.#valueSize);
    }
    v.u32[sw + S_ZERO] = 0;
    Atomics.store(v.u32, sw + S_COUNT, 0);
  }

  /** @internal The number of segments. */
  get _segments(): number {
    return this.#segMask + 1;
  }

  /**
   * @internal Reads the entry after slot `from` of segment `s` into `out`;
   * returns its slot, or -1 if none.
   */
  _nextEntry(s: number, from: number, out: MapCursorImpl<K, V>): number {
    this.#live("walk map");
    const sw = this.#hw + H_SEGMENTS + s * SEG_WORDS;
    lockWord(this.#v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    try {
      const v = this.#v;
      const cap = v.u32[sw + S_CAP];
      const table = v.u32[sw + S_TABLE];
      const stride = this.#stride;
      v.cover(table + (cap + 1) * stride);
      const u32 = v.u32;
      const kc = this.#keyCode;
      for (let i = from + 1; i <= cap; i++) {
        const w = (table + i * stride) >>> 2;
        let used: boolean;
        if (i === cap) used = kc !== 6 && v.u32[sw + S_ZERO] !== 0;
        else if (kc === 6) used = u32[w + 1] !== 0;
        else if (kc <= 2) used = u32[w] !== 0;
        else used = (u32[w] | u32[w + 1]) !== 0;
        if (!used) continue;
        out._key = this.#decodeKey(w) as MapKey<K>;
        out._value = (this.#struct === null
          ? readScalar(v, this.#valueCode, table + i * stride + this.#valueOffset)
          : this.#recordCursor(sw).seek(i)) as ElementValue<V>;
        return i;
      }
      return -1;
    } finally {
      unlockWord(this.#v.i32, sw + S_LOCK, this.#wid);
    }
  }

  /**
   * `get` for 32-bit keys (not 0) and u32/i32/f64 values: one function, nothing
   * to dispatch. Reads without the lock where it may (see the module's notes).
   */
  #get32(k: number): number | undefined {
    const v = this.#v;
    let u32 = v.u32;
    const hw = this.#hw;
    if (u32[hw + H_MAGIC] !== MAGIC) this.#live("get from map");
    const h = mix32(k);
    const sw = hw + H_SEGMENTS + ((h & this.#segMask) << 4);
    const stride = this.#stride;
    const words = stride >>> 2;
    const code = this.#valueCode;
    if (LOCK_FREE_READS) {
      // Plain loads, in this order: epoch, table, probe and value, epoch again.
      const epoch = u32[sw + S_EPOCH];
      const cap = u32[sw + S_CAP];
      const table = u32[sw + S_TABLE];
      if ((epoch & 1) === 0 && table + (cap + 1) * stride <= v.bytes) {
        const base = table >>> 2;
        let i = Math.floor(h * cap / TWO_32);
        let out: number | undefined = undefined;
        // Bounded by the capacity (a table being rebuilt may have no empty slot).
        for (let n = 0; n < cap; n++) {
          const w = base + i * words;
          const kk = u32[w];
          if (kk === k) {
            out = code === 5 ? u32[w + 1] : code === 6 ? u32[w + 1] | 0 : v.f64[(w + 2) >>> 1];
            break;
          }
          if (kk === 0) break;
          if (++i === cap) i = 0;
        }
        if (u32[sw + S_EPOCH] === epoch) return out;
      }
    }
    lockWord(v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    const cap = u32[sw + S_CAP];
    const table = u32[sw + S_TABLE];
    if (table + (cap + 1) * stride > v.bytes) {
      v.refresh(); // another worker grew the heap
      u32 = v.u32;
    }
    const base = table >>> 2;
    let i = Math.floor(h * cap / TWO_32);
    let out: number | undefined = undefined;
    // Bounded: the table always has an empty slot.
    for (let n = 0; n < cap; n++) {
      const w = base + i * words;
      const kk = u32[w];
      if (kk === k) {
        out = code === 5 ? u32[w + 1] : code === 6 ? u32[w + 1] | 0 : v.f64[(w + 2) >>> 1];
        break;
      }
      if (kk === 0) break;
      if (++i === cap) i = 0;
    }
    unlockWord(v.i32, sw + S_LOCK, this.#wid);
    return out;
  }

  /** `set` for 32-bit keys (not 0) and checked u32/i32/f64 values. */
  #set32(k: number, value: number): void {
    const v = this.#v;
    const hw = this.#hw;
    if (v.u32[hw + H_MAGIC] !== MAGIC) this.#live("set in map");
    const h = mix32(k);
    const sw = hw + H_SEGMENTS + ((h & this.#segMask) << 4);
    // Read the key's home slot before taking the lock (a hint: the table may
    // change meanwhile): the cache miss then falls outside the critical
    // section, which a worker preempted while holding the lock makes the
    // others wait for.
    const hint = v.u32[
      (v.u32[sw + S_TABLE] >>> 2) +
      Math.floor(h * v.u32[sw + S_CAP] / TWO_32) * (this.#stride >>> 2)
    ];
    lockWord(v.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
    this.#hint = hint;
    try {
      let u32 = v.u32;
      const cap = u32[sw + S_CAP];
      const table = u32[sw + S_TABLE];
      const stride = this.#stride;
      if (table + (cap + 1) * stride > v.bytes) {
        v.refresh();
        u32 = v.u32;
      }
      const words = stride >>> 2;
      const base = table >>> 2;
      const f64 = this.#valueCode === 8;
      let i = Math.floor(h * cap / TWO_32);
      let w = 0;
      // Bounded: the table always has an empty slot.
      for (let n = 0; n < cap; n++) {
        w = base + i * words;
        const kk = u32[w];
        if (kk === k) break;
        if (kk === 0) {
          const count = u32[sw + S_COUNT];
          if (count < u32[sw + S_MAX_FILL]) {
            // Room without growing: the common insert, inline. The value goes in
            // before the key (for lock-free readers). A plain store of the count
            // is enough: the unlock publishes it, and `size` reads it whole.
            if (f64) v.f64[(w + 2) >>> 1] = value;
            else u32[w + 1] = value;
            u32[w] = k;
            u32[sw + S_COUNT] = count + 1;
            return;
          }
          this.#k0 = k;
          this.#h = h;
          this.#insert(sw, -1 - i, value);
          return;
        }
        if (++i === cap) i = 0;
      }
      if (f64) v.f64[(w + 2) >>> 1] = value;
      else u32[w + 1] = value;
    } finally {
      unlockWord(v.i32, sw + S_LOCK, this.#wid);
    }
  }

  #live(operation: string): void {
    if (this.#v.u32[this.#hw + H_MAGIC] !== MAGIC) {
      throw new CollectionStateError(operation, this.ptr, "is not a live map (it was destroyed)");
    }
  }

  /** Checks and encodes `key` into #k0/#k1/#h (and the scratch bytes for a string). */
  #key(operation: string, key: unknown): void {
    this.#live(operation);
    const kc = this.#keyCode;
    if (kc === 1) {
      if (typeof key === "number" && (key >>> 0) === key) {
        this.#k0 = key;
        this.#h = mix32(key);
        return;
      }
    } else if (kc === 2) {
      if (typeof key === "number" && (key | 0) === key) {
        this.#k0 = key >>> 0;
        this.#h = mix32(key);
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
        this.#str = bytes;
        this.#k1 = n;
        this.#h = hashBytes(bytes, 0, n);
        this.#k0 = this.#h;
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
    this.#k0 = lo;
    this.#k1 = hi;
    this.#h = mix32(lo ^ Math.imul(hi ^ 0x5bd1e995, 0x9e3779b1));
  }

  /** The hash of the key stored at word `w`. */
  #hashAt(w: number): number {
    const u32 = this.#v.u32;
    const kc = this.#keyCode;
    if (kc <= 2) return mix32(u32[w] | 0);
    if (kc === 6) return u32[w];
    return mix32(u32[w] ^ Math.imul(u32[w + 1] ^ 0x5bd1e995, 0x9e3779b1));
  }

  /** Decodes the key stored at word `w`. */
  #decodeKey(w: number): unknown {
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

  /**
   * Finds the current key in segment `sw` (locked): its slot, or `-1 - slot`
   * of the empty slot where it would go.
   */
  #find(sw: number): number {
    const v = this.#v;
    let u32 = v.u32;
    const cap = u32[sw + S_CAP];
    const table = u32[sw + S_TABLE];
    const stride = this.#stride;
    if (table + (cap + 1) * stride > v.bytes) {
      v.refresh(); // another worker grew the heap
      u32 = v.u32;
    }
    const kc = this.#keyCode;
    const k0 = this.#k0;
    let i = Math.floor(this.#h * cap / TWO_32);
    if (kc <= 2) {
      if (k0 === 0) return u32[sw + S_ZERO] !== 0 ? cap : -1 - cap;
      const words = stride >>> 2;
      const base = table >>> 2;
      // Bounded: the table always has an empty slot (its load stays under 3/4).
      for (let n = 0; n < cap; n++) {
        const k = u32[base + i * words];
        if (k === k0) return i;
        if (k === 0) return -1 - i;
        if (++i === cap) i = 0;
      }
    } else if (kc === 6) {
      const words = stride >>> 2;
      const base = table >>> 2;
      const str = this.#str as Uint8Array;
      const len = this.#k1;
      let u8 = v.u8;
      for (let n = 0; n < cap; n++) {
        const w = base + i * words;
        const p = u32[w + 1];
        if (p === 0) return -1 - i;
        if (p + 4 + len > v.bytes && u32[w] === k0) {
          // A key block another worker allocated after growing the heap.
          v.refresh();
          u32 = v.u32;
          u8 = v.u8;
        }
        if (u32[w] === k0 && u32[p >>> 2] === len) {
          let j = 0;
          const at = p + 4;
          while (j < len && u8[at + j] === str[j]) j++;
          if (j === len) return i;
        }
        if (++i === cap) i = 0;
      }
    } else {
      const k1 = this.#k1;
      if ((k0 | k1) === 0) return u32[sw + S_ZERO] !== 0 ? cap : -1 - cap;
      const words = stride >>> 2;
      const base = table >>> 2;
      for (let n = 0; n < cap; n++) {
        const w = base + i * words;
        const a = u32[w];
        const b = u32[w + 1];
        if (a === k0 && b === k1) return i;
        if ((a | b) === 0) return -1 - i;
        if (++i === cap) i = 0;
      }
    }
    throw new HeapCorruptionError(`map segment has no empty slot (capacity ${cap})`, table);
  }

  /**
   * Adds the current key at `-1 - miss` (growing first if full); returns its
   * slot. A scalar `value` is written before the key, so a lock-free reader
   * that sees the key sees its value.
   */
  #insert(sw: number, miss: number, value: ScalarValue | undefined): number {
    const v = this.#v;
    const count = v.u32[sw + S_COUNT];
    let slot = -1 - miss;
    if (slot !== v.u32[sw + S_CAP] && count + 1 > v.u32[sw + S_MAX_FILL]) {
      this.#grow(sw);
      slot = -1 - this.#find(sw);
    }
    const kc = this.#keyCode;
    const cap = v.u32[sw + S_CAP];
    const w = (v.u32[sw + S_TABLE] + slot * this.#stride) >>> 2;
    if (value !== undefined) writeScalar(v, this.#valueCode, w * 4 + this.#valueOffset, value);
    if (kc === 6) {
      const n = this.#k1;
      const p = this.heap.alloc(4 + n, 4);
      v.cover(p + 4 + n);
      v.u32[p >>> 2] = n;
      v.u8.set((this.#str as Uint8Array).subarray(0, n), p + 4);
      v.u32[w] = this.#k0;
      v.u32[w + 1] = p;
    } else if (slot === cap) {
      v.u32[sw + S_ZERO] = 1;
    } else {
      v.u32[w] = this.#k0;
      if (kc > 2) v.u32[w + 1] = this.#k1;
    }
    Atomics.store(v.u32, sw + S_COUNT, count + 1);
    return slot;
  }

  /** Writes a struct value into `slot`, undoing everything on a bad init. */
  #assign(sw: number, slot: number, value: unknown, added: boolean): void {
    const struct = this.#struct as AnyStructType;
    const v = this.#v;
    const size = this.#valueSize;
    const at = v.u32[sw + S_VALUES] + slot * size;
    v.cover(at + size); // the values may lie past this handle's views
    if (backup.length < size) backup = new Uint8Array(size);
    backup.set(v.u8.subarray(at, at + size));
    const record = this.#recordCursor(sw).seek(slot);
    if ((value as { ptr?: unknown }).ptr !== record.ptr) {
      v.u8.fill(0, at, at + size);
      try {
        struct.assign(record as never, value as never);
      } catch (error) {
        v.u8.set(backup.subarray(0, size), at);
        if (added) this.#remove(sw, slot);
        throw error;
      }
    }
  }

  /** Removes the entry at `slot` (backward-shift deletion). */
  #remove(sw: number, slot: number): void {
    this.#epochOdd(sw);
    try {
      this.#shiftOut(sw, slot);
    } finally {
      this.#epochEven(sw);
    }
  }

  /** The body of `#remove`. */
  #shiftOut(sw: number, slot: number): void {
    const v = this.#v;
    const u32 = v.u32;
    const cap = u32[sw + S_CAP];
    const table = u32[sw + S_TABLE];
    const stride = this.#stride;
    const struct = this.#struct;
    const size = this.#valueSize;
    const values = u32[sw + S_VALUES];
    const count = u32[sw + S_COUNT];
    if (struct !== null) v.cover(values + (cap + 1) * size);
    if (this.#keyCode === 6) this.heap.free(u32[((table + slot * stride) >>> 2) + 1]);
    if (slot === cap) {
      u32[sw + S_ZERO] = 0;
    } else {
      let i = slot;
      let j = slot;
      // Bounded by the capacity: the table has an empty slot.
      for (let n = 0; n < cap; n++) {
        if (++j === cap) j = 0;
        const wj = (table + j * stride) >>> 2;
        if (this.#keyCode === 6 ? u32[wj + 1] === 0 : this.#emptyAt(wj)) break;
        const home = Math.floor(this.#hashAt(wj) * cap / TWO_32);
        const stays = i <= j ? home > i && home <= j : home > i || home <= j;
        if (stays) continue;
        v.u8.copyWithin(table + i * stride, table + j * stride, table + (j + 1) * stride);
        if (struct !== null) {
          v.u8.copyWithin(values + i * size, values + j * size, values + (j + 1) * size);
        }
        i = j;
      }
      v.u8.fill(0, table + i * stride, table + (i + 1) * stride);
      slot = i;
    }
    if (struct !== null) v.u8.fill(0, values + slot * size, values + (slot + 1) * size);
    Atomics.store(u32, sw + S_COUNT, count - 1);
  }

  #emptyAt(w: number): boolean {
    const u32 = this.#v.u32;
    return this.#keyCode <= 2 ? u32[w] === 0 : (u32[w] | u32[w + 1]) === 0;
  }

  /** Allocates a zeroed table of `cap` slots (+1) for segment `sw`. */
  #allocTable(sw: number, cap: number): void {
    const bytes = (cap + 1) * this.#stride;
    const table = this.heap.alloc(bytes, 8);
    let values = 0;
    if (this.#struct !== null) {
      try {
        values = this.#struct.createArray(this.heap, cap + 1).ptr;
      } catch (error) {
        this.heap.free(table);
        throw error;
      }
    }
    const v = this.#v;
    v.cover(Math.max(table + bytes, values + (cap + 1) * this.#valueSize));
    v.u8.fill(0, table, table + bytes);
    v.u32[sw + S_CAP] = cap;
    v.u32[sw + S_TABLE] = table;
    v.u32[sw + S_VALUES] = values;
    v.u32[sw + S_MAX_FILL] = Math.floor(cap * 0.75);
  }

  #freeTable(sw: number): void {
    const v = this.#v;
    this.heap.free(v.u32[sw + S_TABLE]);
    if (this.#struct !== null) {
      this.#struct.arrayAt(this.heap, v.u32[sw + S_VALUES]).destroy();
    }
  }

  #freeKeys(sw: number): void {
    if (this.#keyCode !== 6) return;
    const v = this.#v;
    const cap = v.u32[sw + S_CAP];
    const table = v.u32[sw + S_TABLE];
    v.cover(table + (cap + 1) * this.#stride);
    for (let i = 0; i < cap; i++) {
      const p = v.u32[((table + i * this.#stride) >>> 2) + 1];
      if (p !== 0) this.heap.free(p);
    }
  }

  /** Grows segment `sw` (locked) by 1.5x, rehashing every entry, its epoch odd meanwhile. */
  #grow(sw: number): void {
    this.#epochOdd(sw);
    try {
      this.#rehash(sw);
    } finally {
      this.#epochEven(sw);
    }
  }

  /**
   * Makes segment `sw`'s epoch odd (fast maps): lock-free readers then retry
   * under the lock. Its lock is held.
   */
  #epochOdd(sw: number): void {
    if (this.#fast) Atomics.add(this.#v.u32, sw + S_EPOCH, 1);
  }

  /** Makes segment `sw`'s epoch even again after `#epochOdd`. */
  #epochEven(sw: number): void {
    if (this.#fast) Atomics.add(this.#v.u32, sw + S_EPOCH, 1);
  }

  /** The body of `#grow`. */
  #rehash(sw: number): void {
    const v = this.#v;
    const oldCap = v.u32[sw + S_CAP];
    const oldTable = v.u32[sw + S_TABLE];
    const oldValues = v.u32[sw + S_VALUES];
    const cap = oldCap + (oldCap >>> 1);
    this.#allocTable(sw, cap); // on failure the old table is still in place
    const u32 = v.u32;
    const u8 = v.u8;
    const table = u32[sw + S_TABLE];
    const values = u32[sw + S_VALUES];
    const stride = this.#stride;
    const words = stride >>> 2;
    const size = this.#valueSize;
    const struct = this.#struct;
    const str = this.#keyCode === 6;
    const k32 = this.#keyCode <= 2;
    for (let j = 0; j < oldCap; j++) {
      const wj = (oldTable + j * stride) >>> 2;
      let i: number;
      if (k32) {
        // 32-bit keys inline: the common case, and most of an insert's cost.
        const k = u32[wj];
        if (k === 0) continue;
        i = Math.floor(mix32(k) * cap / TWO_32);
        let wi = (table >>> 2) + i * words;
        // Bounded: the new table has more empty slots than the old had entries.
        for (let n = 0; n < cap && u32[wi] !== 0; n++) {
          if (++i === cap) i = 0;
          wi = (table >>> 2) + i * words;
        }
        for (let c = 0; c < words; c++) u32[wi + c] = u32[wj + c];
        if (struct !== null) {
          u8.copyWithin(values + i * size, oldValues + j * size, oldValues + (j + 1) * size);
        }
        continue;
      }
      if (str ? u32[wj + 1] === 0 : this.#emptyAt(wj)) continue;
      i = Math.floor(this.#hashAt(wj) * cap / TWO_32);
      let wi = 0;
      // Bounded: the new table has more empty slots than the old had entries.
      for (let n = 0; n < cap; n++) {
        wi = (table >>> 2) + i * words;
        if (str ? u32[wi + 1] === 0 : this.#emptyAt(wi)) break;
        if (++i === cap) i = 0;
      }
      // Word by word: a slot is a few words, and copyWithin costs a call each.
      for (let k = 0; k < words; k++) u32[wi + k] = u32[wj + k];
      if (struct !== null) {
        u8.copyWithin(values + i * size, oldValues + j * size, oldValues + (j + 1) * size);
      }
    }
    // The all-zero key's slot.
    u8.copyWithin(
      table + cap * stride,
      oldTable + oldCap * stride,
      oldTable + (oldCap + 1) * stride,
    );
    if (struct !== null) {
      u8.copyWithin(
        values + cap * size,
        oldValues + oldCap * size,
        oldValues + (oldCap + 1) * size,
      );
      struct.arrayAt(this.heap, oldValues).destroy();
    }
    this.heap.free(oldTable);
  }

  /** A cursor over segment `sw`'s struct array, cached per handle. */
  #recordCursor(sw: number): StructCursor<StructFields> {
    const s = (sw - this.#hw - H_SEGMENTS) >>> 4;
    const ptr = this.#v.u32[sw + S_VALUES];
    if (this.#arrayPtrs[s] !== ptr) {
      const array: StructArray<StructFields> = (this.#struct as AnyStructType).arrayAt(
        this.heap,
        ptr,
      );
      this.#arrays[s] = array.cursor();
      this.#arrayPtrs[s] = ptr;
    }
    return this.#arrays[s] as StructCursor<StructFields>;
  }

  #checkSegment(sw: number, s: number): void {
    const v = this.#v;
    v.refresh(); // every block of the map lies inside the buffer as it is now
    const u32 = v.u32;
    const cap = u32[sw + S_CAP];
    const table = u32[sw + S_TABLE];
    const stride = this.#stride;
    if (cap < MIN_CAP || !v.cover(table + (cap + 1) * stride)) {
      throw new HeapCorruptionError(`map segment ${s} has a bad table`, table);
    }
    const str = this.#keyCode === 6;
    let used = 0;
    for (let j = 0; j < cap; j++) {
      const wj = (table + j * stride) >>> 2;
      if (str ? u32[wj + 1] === 0 : this.#emptyAt(wj)) continue;
      used++;
      if (str) {
        const p = u32[wj + 1];
        if (!v.cover(p + 4) || !v.cover(p + 4 + u32[p >>> 2])) {
          throw new HeapCorruptionError(`map string key at slot ${j} is outside the heap`, p);
        }
        if (hashBytes(v.u8, p + 4, u32[p >>> 2]) !== u32[wj]) {
          throw new HeapCorruptionError(`map string key at slot ${j} does not match its hash`, p);
        }
      }
      const h = this.#hashAt(wj);
      if ((h & this.#segMask) !== s) {
        throw new HeapCorruptionError(`map key at slot ${j} is in the wrong segment ${s}`, table);
      }
      // Every slot from the key's home to its slot is occupied.
      let i = Math.floor(h * cap / TWO_32);
      for (let n = 0; i !== j; n++) {
        const wi = (table + i * stride) >>> 2;
        if (n >= cap || (str ? u32[wi + 1] === 0 : this.#emptyAt(wi))) {
          throw new HeapCorruptionError(`map key at slot ${j} is unreachable from its home`, table);
        }
        if (++i === cap) i = 0;
      }
    }
    if (!str && u32[sw + S_ZERO] !== 0) used++;
    if (used !== u32[sw + S_COUNT] || used > u32[sw + S_MAX_FILL] + 1) {
      throw new HeapCorruptionError(
        `map segment ${s} counts ${u32[sw + S_COUNT]} entries but holds ${used}`,
        table,
      );
    }
  }
}

/** The cursor behind {@linkcode SharedMap.cursor}. */
class MapCursorImpl<K extends MapKeyKind, V extends ElementType> implements SharedMapCursor<K, V> {
  readonly #map: SharedMap<K, V>;
  #segment = 0;
  #slot = -1;
  _key!: MapKey<K>;
  _value!: ElementValue<V>;

  constructor(map: SharedMap<K, V>) {
    this.#map = map;
  }

  get key(): MapKey<K> {
    return this._key;
  }

  get value(): ElementValue<V> {
    return this._value;
  }

  next(): boolean {
    const map = this.#map;
    const segments = map._segments;
    while (this.#segment < segments) {
      const slot = map._nextEntry(this.#segment, this.#slot, this);
      if (slot >= 0) {
        this.#slot = slot;
        return true;
      }
      this.#segment++;
      this.#slot = -1;
    }
    return false;
  }
}

// Layout constants checked against each other once.
if (KIND_CODES.u32 !== 5 || SEG_WORDS !== 16) throw new Error("collections: bad layout constants");
