/**
 * The engine of `SharedMap` (see `map.ts` for the public API): the header,
 * the segment tables, probing, growth, the locks and the lock-free read.
 *
 * Layout: see `_map_layout.ts`.
 *
 * Concurrency (what is and is not atomic): see `map.ts`.
 *
 * @module
 */

import { HeapCorruptionError } from "../errors.ts";
import type { StructArray, StructCursor } from "../../structs/struct_array.ts";
import type { AnyStructType, StructFields } from "../../structs/types.ts";
import {
  checkScalar,
  checkValue,
  type CollectionHeap,
  createHeader,
  describe,
  type HeaderSpec,
  inOrderCpu,
  KIND_CODES,
  mix32,
  readScalar,
  type ScalarValue,
  STRUCT_CODE,
  timeoutOfWord,
  Views,
  writeScalar,
} from "./_common.ts";
import { lockSegment, unlockSegment } from "./_map_lock.ts";
import { KEY_NAMES, KeyCodec, mapLayout } from "./_map_layout.ts";
import { CollectionStateError } from "./errors.ts";
import type { SharedMapOptions } from "./map.ts";
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
export const MAP_HEADER: HeaderSpec = {
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

/** Whether `get` may read without the lock (x86-64: loads stay in order, stores too). */
const TSO = inOrderCpu();

const TWO_32 = 4294967296;

/** Scratch for a struct record's bytes while a failed assignment is undone. */
let backup = new Uint8Array(64);
/**
 * A map's state in the heap and the operations on it; {@linkcode SharedMap}
 * is the public handle around one.
 */
export class MapTable<K extends MapKeyKind, V extends ElementType> {
  /** The byte offset of the map's header in the heap. */
  readonly ptr: number;
  /** The heap the map lives in. */
  readonly heap: CollectionHeap;
  /** The key kind. */
  readonly keyKind: K;
  /** The value type. */
  readonly valueType: V;
  /** The handle's views of the heap. */
  readonly views: Views;
  readonly #hw: number; // header word index
  /** The key kind's code (`KEY_CODES`). */
  readonly keyCode: number;
  readonly #valueCode: number;
  readonly #struct: AnyStructType | null;
  readonly #valueSize: number;
  /** The number of segments minus 1. */
  readonly segMask: number;
  /** The bytes of one slot. */
  readonly stride: number;
  readonly #valueOffset: number;
  readonly #timeoutMs: number;
  readonly #wid: number;
  /** 32-bit keys and a u32, i32 or f64 value: `get` and `set` take a path of their own. */
  readonly #fast: boolean;
  /** The key codec, holding the encoded key of the current operation. */
  readonly keys: KeyCodec;
  /** The last word `set` read before taking the lock (kept so the read is not dropped). */
  #hint: number | undefined = 0;
  // Per segment, a cursor over its struct array (struct values only).
  readonly #arrays: (StructCursor<StructFields> | null)[] = [];
  readonly #arrayPtrs: number[] = [];

  constructor(heap: CollectionHeap, ptr: number, valueType: V) {
    this.heap = heap;
    this.ptr = ptr;
    const v = new Views(heap.buffer);
    this.views = v;
    const hw = ptr >>> 2;
    this.#hw = hw;
    this.keyCode = v.u32[hw + H_KEY];
    this.keyKind = KEY_NAMES[this.keyCode] as K;
    this.#valueCode = v.u32[hw + H_VALUE];
    this.valueType = valueType;
    this.#struct = this.#valueCode === STRUCT_CODE ? valueType as AnyStructType : null;
    this.#valueSize = v.u32[hw + H_VALUE_SIZE];
    this.segMask = (1 << v.u32[hw + H_SEG_LOG]) - 1;
    this.stride = v.u32[hw + H_STRIDE];
    this.#valueOffset = v.u32[hw + H_VALUE_OFFSET];
    this.#timeoutMs = timeoutOfWord(v.u32[hw + H_TIMEOUT]);
    this.#wid = heap.workerId;
    this.keys = new KeyCodec(this.keyCode, v);
    this.#fast = this.keyCode <= 2 &&
      (this.#valueCode === 5 || this.#valueCode === 6 || this.#valueCode === 8);
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  static create<K extends MapKeyKind, V extends ElementType>(
    heap: CollectionHeap,
    options: SharedMapOptions<K, V>,
  ): MapTable<K, V> {
    const L = mapLayout(options);
    let map: MapTable<K, V> | undefined;
    const header = { bytes: (H_SEGMENTS + L.segments * SEG_WORDS) * 4, magic: MAGIC, dataWord: -1 };
    createHeader(heap, header, (u32, hw) => {
      u32[hw + H_KEY] = L.keyCode;
      u32[hw + H_VALUE] = L.valueCode;
      u32[hw + H_VALUE_SIZE] = L.valueSize;
      u32[hw + H_SEG_LOG] = L.segLog;
      u32[hw + H_STRIDE] = L.stride;
      u32[hw + H_VALUE_OFFSET] = L.valueOffset;
      u32[hw + H_TIMEOUT] = L.timeout;
    }, (ptr) => {
      // The segments' tables; on failure the ones made are freed (and the header by createHeader).
      const m = new MapTable<K, V>(heap, ptr, options.value);
      const first = (ptr >>> 2) + H_SEGMENTS;
      let made = 0;
      try {
        for (; made < L.segments; made++) m.#allocTable(first + made * SEG_WORDS, L.cap);
      } catch (error) {
        for (let s = 0; s < made; s++) m.#freeTable(first + s * SEG_WORDS);
        throw error;
      }
      map = m;
      return 0;
    });
    return map as MapTable<K, V>;
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  get size(): number {
    this.live("read size of map");
    const u32 = this.views.u32;
    let n = 0;
    for (let s = 0; s <= this.segMask; s++) {
      n += Atomics.load(u32, this.#hw + H_SEGMENTS + s * SEG_WORDS + S_COUNT);
    }
    return n;
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  get(key: MapKey<K>): ElementValue<V> | undefined {
    if (this.#fast && typeof key === "number" && key !== 0) {
      const k = this.keyCode === 1 ? key : key >>> 0;
      if (this.keyCode === 1 ? (key >>> 0) === key : (key | 0) === key) {
        return this.#get32(k) as ElementValue<V> | undefined;
      }
    }
    const sw = this.#key("get from map", key);
    this.#lock(sw);
    const slot = this.#find(sw);
    let out: ScalarValue | undefined | ElementValue<V> = undefined;
    if (slot >= 0) {
      if (this.#struct === null) {
        out = readScalar(
          this.views,
          this.#valueCode,
          this.views.u32[sw + S_TABLE] + slot * this.stride + this.#valueOffset,
        );
      } else {
        out = this.#struct.at(
          this.heap,
          this.views.u32[sw + S_VALUES] + slot * this.#valueSize,
        ) as ElementValue<V>;
      }
    }
    this.#unlock(sw);
    return out as ElementValue<V> | undefined;
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  has(key: MapKey<K>): boolean {
    const sw = this.#key("look up in map", key);
    this.#lock(sw);
    const slot = this.#find(sw);
    this.#unlock(sw);
    return slot >= 0;
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  set(key: MapKey<K>, value: ElementInit<V>): void {
    if (
      this.#fast && typeof key === "number" && key !== 0 && typeof value === "number" &&
      (this.keyCode === 1 ? (key >>> 0) === key : (key | 0) === key) &&
      (this.#valueCode === 5
        ? (value >>> 0) === value
        : this.#valueCode === 8 || (value | 0) === value)
    ) {
      this.#set32(this.keyCode === 1 ? key : key >>> 0, value);
      return;
    }
    const op = "set in map";
    const sw = this.#key(op, key);
    const struct = this.#struct;
    checkValue(op, this.#valueCode, struct, value);
    this.#lock(sw);
    try {
      let slot = this.#find(sw);
      let added = false;
      if (slot < 0) {
        slot = this.#insert(sw, slot, struct === null ? value as ScalarValue : undefined);
        added = true;
      }
      const v = this.views;
      if (struct === null) {
        if (!added) {
          writeScalar(
            v,
            this.#valueCode,
            v.u32[sw + S_TABLE] + slot * this.stride + this.#valueOffset,
            value as ScalarValue,
          );
        }
      } else {
        this.#assign(sw, slot, value, added);
      }
    } finally {
      this.#unlock(sw);
    }
    return;
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  update(
    key: MapKey<K>,
    fn: V extends AnyStructType ? (record: ElementValue<V>, added: boolean) => void
      : (value: ElementValue<V> | undefined) => ElementValue<V>,
  ): ElementValue<V> {
    const op = "update map";
    const sw = this.#key(op, key);
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot ${op}: fn must be a function: ${describe(fn)}`);
    }
    const struct = this.#struct;
    this.#lock(sw);
    try {
      let slot = this.#find(sw);
      const v = this.views;
      if (struct === null) {
        const old = slot >= 0
          ? readScalar(
            v,
            this.#valueCode,
            v.u32[sw + S_TABLE] + slot * this.stride + this.#valueOffset,
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
          v.u32[sw + S_TABLE] + slot * this.stride + this.#valueOffset,
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
      this.#unlock(sw);
    }
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  delete(key: MapKey<K>): boolean {
    const sw = this.#key("delete from map", key);
    this.#lock(sw);
    try {
      const slot = this.#find(sw);
      if (slot < 0) return false;
      this.#remove(sw, slot);
      return true;
    } finally {
      this.#unlock(sw);
    }
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  clear(): void {
    this.live("clear map");
    this.eachSegmentLocked((sw) => this.#clearSegment(sw));
  }

  /** See the method of the same name on {@linkcode SharedMap}. */
  destroy(): void {
    this.live("destroy map");
    const v = this.views;
    if (Atomics.compareExchange(v.u32, this.#hw + H_MAGIC, MAGIC, DEAD) !== MAGIC) {
      throw new CollectionStateError("destroy map", this.ptr, "was destroyed");
    }
    for (let s = 0; s <= this.segMask; s++) {
      const sw = this.#hw + H_SEGMENTS + s * SEG_WORDS;
      this.#freeKeys(sw);
      this.#freeTable(sw);
    }
    this.heap.free(this.ptr);
  }

  // -------------------------------------------------------------------------
  // Internals (also used by the cursor).

  /** Runs `fn` on each segment in turn (its header word and number), holding that segment's lock. */
  eachSegmentLocked(fn: (sw: number, s: number) => void): void {
    for (let s = 0; s <= this.segMask; s++) {
      const sw = this.#hw + H_SEGMENTS + s * SEG_WORDS;
      this.#lock(sw);
      try {
        fn(sw, s);
      } finally {
        this.#unlock(sw);
      }
    }
  }

  /** Empties segment `sw` (its lock held): frees its keys, zeroes its table and values. */
  #clearSegment(sw: number): void {
    this.#epochOdd(sw);
    try {
      this.#freeKeys(sw);
      const v = this.views;
      const cap = v.u32[sw + S_CAP];
      const table = v.u32[sw + S_TABLE];
      v.cover(table + (cap + 1) * this.stride);
      v.u8.fill(0, table, table + (cap + 1) * this.stride);
      if (this.#struct !== null) {
        const values = v.u32[sw + S_VALUES];
        v.cover(values + (cap + 1) * this.#valueSize);
        v.u8.fill(0, values, values + (cap + 1) * this.#valueSize);
      }
      v.u32[sw + S_ZERO] = 0;
      Atomics.store(v.u32, sw + S_COUNT, 0);
    } finally {
      this.#epochEven(sw);
    }
  }

  /** The struct value type, or `null` for scalar values. */
  get struct(): AnyStructType | null {
    return this.#struct;
  }

  /** The number of segments. */
  get segments(): number {
    return this.segMask + 1;
  }

  /**
   * Reads the entry after slot `from` of segment `s` into `out`;
   * returns its slot, or -1 if none.
   */
  nextEntry(s: number, from: number, out: { _key: MapKey<K>; _value: ElementValue<V> }): number {
    this.live("walk map");
    const sw = this.#hw + H_SEGMENTS + s * SEG_WORDS;
    this.#lock(sw);
    try {
      const v = this.views;
      const cap = v.u32[sw + S_CAP];
      const table = v.u32[sw + S_TABLE];
      const stride = this.stride;
      v.cover(table + (cap + 1) * stride);
      const u32 = v.u32;
      const kc = this.keyCode;
      for (let i = from + 1; i <= cap; i++) {
        const w = (table + i * stride) >>> 2;
        let used: boolean;
        if (i === cap) used = kc !== 6 && v.u32[sw + S_ZERO] !== 0;
        else if (kc === 6) used = u32[w + 1] !== 0;
        else if (kc <= 2) used = u32[w] !== 0;
        else used = (u32[w] | u32[w + 1]) !== 0;
        if (!used) continue;
        out._key = this.keys.decode(w) as MapKey<K>;
        out._value = (this.#struct === null
          ? readScalar(v, this.#valueCode, table + i * stride + this.#valueOffset)
          : this.#recordCursor(sw).seek(i)) as ElementValue<V>;
        return i;
      }
      return -1;
    } finally {
      this.#unlock(sw);
    }
  }

  /**
   * `get` for 32-bit keys (not 0) and u32/i32/f64 values: one function, nothing
   * to dispatch. Reads without the lock where it may (see the module's notes).
   */
  #get32(k: number): number | undefined {
    const v = this.views;
    const u32 = v.u32;
    const hw = this.#hw;
    if (u32[hw + H_MAGIC] !== MAGIC) this.live("get from map");
    const h = mix32(k);
    const sw = hw + H_SEGMENTS + ((h & this.segMask) << 4);
    if (TSO) {
      // Plain loads, in this order: epoch, table, probe and value, epoch again.
      const epoch = u32[sw + S_EPOCH];
      if ((epoch & 1) === 0) {
        const out = this.#probe32(sw, h, k, false);
        if (out !== null && u32[sw + S_EPOCH] === epoch) return out;
      }
    }
    this.#lock(sw);
    const out = this.#probe32(sw, h, k, true);
    this.#unlock(sw);
    return out as number | undefined;
  }

  /** Takes segment `sw`'s lock (see `_map_lock.ts`). */
  #lock(sw: number): void {
    lockSegment(this.views.i32, sw + S_LOCK, this.#wid, this.#timeoutMs);
  }

  /** Releases segment `sw`'s lock, held by this handle. */
  #unlock(sw: number): void {
    unlockSegment(this.views.i32, sw + S_LOCK);
  }

  /**
   * Looks up 32-bit key `k` (hash `h`) in segment `sw`: its value, or
   * `undefined`; without the lock (`locked` false), `null` if the table is
   * past this handle's views.
   */
  #probe32(sw: number, h: number, k: number, locked: boolean): number | undefined | null {
    const v = this.views;
    let u32 = v.u32;
    const cap = u32[sw + S_CAP];
    const table = u32[sw + S_TABLE];
    const stride = this.stride;
    if (table + (cap + 1) * stride > v.bytes) {
      if (!locked) return null;
      v.refresh(); // another worker grew the heap
      u32 = v.u32;
    }
    const words = stride >>> 2;
    const base = table >>> 2;
    const code = this.#valueCode;
    let i = Math.floor(h * cap / TWO_32);
    // Bounded by the capacity (without the lock, a table being rebuilt may have no empty slot).
    for (let n = 0; n < cap; n++) {
      const w = base + i * words;
      const kk = u32[w];
      if (kk === k) {
        return code === 5 ? u32[w + 1] : code === 6 ? u32[w + 1] | 0 : v.f64[(w + 2) >>> 1];
      }
      if (kk === 0) return undefined;
      if (++i === cap) i = 0;
    }
    return undefined;
  }

  /** `set` for 32-bit keys (not 0) and checked u32/i32/f64 values. */
  #set32(k: number, value: number): void {
    const v = this.views;
    const hw = this.#hw;
    if (v.u32[hw + H_MAGIC] !== MAGIC) this.live("set in map");
    const h = mix32(k);
    const sw = hw + H_SEGMENTS + ((h & this.segMask) << 4);
    // Read the key's home slot before taking the lock (a hint: the table may
    // change meanwhile): the cache miss then falls outside the critical
    // section, which a worker preempted while holding the lock makes the
    // others wait for.
    const hint = v.u32[
      (v.u32[sw + S_TABLE] >>> 2) +
      Math.floor(h * v.u32[sw + S_CAP] / TWO_32) * (this.stride >>> 2)
    ];
    this.#lock(sw);
    this.#hint = hint;
    try {
      const cap = v.u32[sw + S_CAP];
      const table = v.u32[sw + S_TABLE];
      const stride = this.stride;
      v.cover(table + (cap + 1) * stride); // another worker may have grown the heap
      const u32 = v.u32;
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
          this.keys.k0 = k;
          this.keys.h = h;
          this.#insert(sw, -1 - i, value);
          return;
        }
        if (++i === cap) i = 0;
      }
      if (f64) v.f64[(w + 2) >>> 1] = value;
      else u32[w + 1] = value;
    } finally {
      this.#unlock(sw);
    }
  }

  /** Throws `CollectionStateError` if the map was destroyed. */
  live(operation: string): void {
    if (this.views.u32[this.#hw + H_MAGIC] !== MAGIC) {
      throw new CollectionStateError(operation, this.ptr, "is not a live map (it was destroyed)");
    }
  }

  /**
   * Checks `key` and encodes it into the codec (after checking the map is
   * live); returns its segment's header word.
   */
  #key(operation: string, key: unknown): number {
    this.live(operation);
    this.keys.encode(operation, key);
    return this.#hw + H_SEGMENTS + ((this.keys.h & this.segMask) << 4);
  }

  /**
   * Finds the current key in segment `sw` (locked): its slot, or `-1 - slot`
   * of the empty slot where it would go.
   */
  #find(sw: number): number {
    const v = this.views;
    const cap = v.u32[sw + S_CAP];
    const table = v.u32[sw + S_TABLE];
    const stride = this.stride;
    v.cover(table + (cap + 1) * stride); // another worker may have grown the heap
    let u32 = v.u32;
    const kc = this.keyCode;
    const k0 = this.keys.k0;
    let i = Math.floor(this.keys.h * cap / TWO_32);
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
      const str = this.keys.str as Uint8Array;
      const len = this.keys.k1;
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
      const k1 = this.keys.k1;
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
    const v = this.views;
    const count = v.u32[sw + S_COUNT];
    let slot = -1 - miss;
    if (slot !== v.u32[sw + S_CAP] && count + 1 > v.u32[sw + S_MAX_FILL]) {
      this.#grow(sw);
      slot = -1 - this.#find(sw);
    }
    const kc = this.keyCode;
    const cap = v.u32[sw + S_CAP];
    const w = (v.u32[sw + S_TABLE] + slot * this.stride) >>> 2;
    if (value !== undefined) writeScalar(v, this.#valueCode, w * 4 + this.#valueOffset, value);
    if (kc === 6) {
      const n = this.keys.k1;
      const p = this.heap.alloc(4 + n, 4);
      v.cover(p + 4 + n);
      v.u32[p >>> 2] = n;
      v.u8.set((this.keys.str as Uint8Array).subarray(0, n), p + 4);
      v.u32[w] = this.keys.k0;
      v.u32[w + 1] = p;
    } else if (slot === cap) {
      v.u32[sw + S_ZERO] = 1;
    } else {
      v.u32[w] = this.keys.k0;
      if (kc > 2) v.u32[w + 1] = this.keys.k1;
    }
    Atomics.store(v.u32, sw + S_COUNT, count + 1);
    return slot;
  }

  /** Writes a struct value into `slot`, undoing everything on a bad init. */
  #assign(sw: number, slot: number, value: unknown, added: boolean): void {
    const struct = this.#struct as AnyStructType;
    const v = this.views;
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
      const v = this.views;
      const u32 = v.u32;
      const cap = u32[sw + S_CAP];
      const table = u32[sw + S_TABLE];
      const stride = this.stride;
      const struct = this.#struct;
      const size = this.#valueSize;
      const values = u32[sw + S_VALUES];
      const count = u32[sw + S_COUNT];
      if (struct !== null) v.cover(values + (cap + 1) * size);
      if (this.keyCode === 6) this.heap.free(u32[((table + slot * stride) >>> 2) + 1]);
      if (slot === cap) {
        u32[sw + S_ZERO] = 0;
      } else {
        let i = slot;
        let j = slot;
        // Bounded by the capacity: the table has an empty slot.
        for (let n = 0; n < cap; n++) {
          if (++j === cap) j = 0;
          const wj = (table + j * stride) >>> 2;
          if (this.keyCode === 6 ? u32[wj + 1] === 0 : this.emptyAt(wj)) break;
          const home = Math.floor(this.keys.hashAt(wj) * cap / TWO_32);
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
    } finally {
      this.#epochEven(sw);
    }
  }

  /** Whether the numeric key at word `w` is the empty one (all bits zero). */
  emptyAt(w: number): boolean {
    const u32 = this.views.u32;
    return this.keyCode <= 2 ? u32[w] === 0 : (u32[w] | u32[w + 1]) === 0;
  }

  /** Allocates a zeroed table of `cap` slots (+1) for segment `sw`. */
  #allocTable(sw: number, cap: number): void {
    const bytes = (cap + 1) * this.stride;
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
    const v = this.views;
    v.cover(Math.max(table + bytes, values + (cap + 1) * this.#valueSize));
    v.u8.fill(0, table, table + bytes);
    v.u32[sw + S_CAP] = cap;
    v.u32[sw + S_TABLE] = table;
    v.u32[sw + S_VALUES] = values;
    v.u32[sw + S_MAX_FILL] = Math.floor(cap * 0.75);
  }

  #freeTable(sw: number): void {
    const v = this.views;
    this.heap.free(v.u32[sw + S_TABLE]);
    if (this.#struct !== null) {
      this.#struct.arrayAt(this.heap, v.u32[sw + S_VALUES]).destroy();
    }
  }

  #freeKeys(sw: number): void {
    if (this.keyCode !== 6) return;
    const v = this.views;
    const cap = v.u32[sw + S_CAP];
    const table = v.u32[sw + S_TABLE];
    v.cover(table + (cap + 1) * this.stride);
    for (let i = 0; i < cap; i++) {
      const p = v.u32[((table + i * this.stride) >>> 2) + 1];
      if (p !== 0) this.heap.free(p);
    }
  }

  /** Grows segment `sw` (locked) by 1.5x, rehashing every entry, its epoch odd meanwhile. */
  #grow(sw: number): void {
    this.#epochOdd(sw);
    try {
      const v = this.views;
      const oldCap = v.u32[sw + S_CAP];
      const oldTable = v.u32[sw + S_TABLE];
      const oldValues = v.u32[sw + S_VALUES];
      const cap = oldCap + (oldCap >>> 1);
      this.#allocTable(sw, cap); // on failure the old table is still in place
      const u32 = v.u32;
      const u8 = v.u8;
      const table = u32[sw + S_TABLE];
      const values = u32[sw + S_VALUES];
      const stride = this.stride;
      const words = stride >>> 2;
      const size = this.#valueSize;
      const struct = this.#struct;
      const str = this.keyCode === 6;
      const k32 = this.keyCode <= 2;
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
        if (str ? u32[wj + 1] === 0 : this.emptyAt(wj)) continue;
        i = Math.floor(this.keys.hashAt(wj) * cap / TWO_32);
        let wi = 0;
        // Bounded: the new table has more empty slots than the old had entries.
        for (let n = 0; n < cap; n++) {
          wi = (table >>> 2) + i * words;
          if (str ? u32[wi + 1] === 0 : this.emptyAt(wi)) break;
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
    } finally {
      this.#epochEven(sw);
    }
  }

  /**
   * Makes segment `sw`'s epoch odd (fast maps): lock-free readers then retry
   * under the lock. Its lock is held.
   */
  #epochOdd(sw: number): void {
    if (this.#fast) Atomics.add(this.views.u32, sw + S_EPOCH, 1);
  }

  /** Makes segment `sw`'s epoch even again after `#epochOdd`. */
  #epochEven(sw: number): void {
    if (this.#fast) Atomics.add(this.views.u32, sw + S_EPOCH, 1);
  }

  /** A cursor over segment `sw`'s struct array, cached per handle. */
  #recordCursor(sw: number): StructCursor<StructFields> {
    const s = (sw - this.#hw - H_SEGMENTS) >>> 4;
    const ptr = this.views.u32[sw + S_VALUES];
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
}

/** Segment word offsets, for `_map_check.ts` (the hot paths use the constants above). */
export const SEGMENT_WORDS = {
  cap: S_CAP,
  table: S_TABLE,
  count: S_COUNT,
  zero: S_ZERO,
  maxFill: S_MAX_FILL,
} as const;

// Layout constants checked against each other once.
if (KIND_CODES.u32 !== 5 || SEG_WORDS !== 16) throw new Error("collections: bad layout constants");
