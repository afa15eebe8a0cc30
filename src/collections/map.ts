/**
 * `SharedMap`: a hash map whose whole state lives in a shared heap, usable
 * from every worker that attached it. This module is its public face; the
 * segment tables, probing, growth and the lock-free read are in
 * `_map_table.ts`, the segment lock in `_map_lock.ts`, the key codec and
 * layout in `_map_layout.ts`, `check()` in `_map_check.ts`.
 *
 * Concurrency: every operation that writes, and every read on maps other
 * than the fast ones, holds the lock of the key's segment, so operations on
 * different segments run in parallel and a segment grows under its own lock.
 * The lock is one compare-exchange to take and, on x86-64, a plain store to
 * release: its word never holds a waiters bit (a waiter spins, then sleeps in
 * 0.1 ms slices), so the release needs no notify.
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

import type { AnyStructType } from "../../structs/types.ts";
import { type CollectionHeap, openAt } from "./_common.ts";
import { checkMap } from "./_map_check.ts";
import { MAP_HEADER, MapTable } from "./_map_table.ts";
import type { ElementInit, ElementType, ElementValue, MapKey, MapKeyKind } from "./types.ts";

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
  readonly #t: MapTable<K, V>;

  private constructor(table: MapTable<K, V>) {
    this.#t = table;
    this.ptr = table.ptr;
    this.heap = table.heap;
    this.keyKind = table.keyKind;
    this.valueType = table.valueType;
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
    return new SharedMap(MapTable.create(heap, options));
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
    return new SharedMap(new MapTable(heap, ptr, openAt(heap.buffer, ptr, value, MAP_HEADER) as V));
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
    return this.#t.size;
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
    return this.#t.get(key);
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
    return this.#t.has(key);
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
    this.#t.set(key, value);
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
    return this.#t.update(key, fn as never);
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
    return this.#t.delete(key);
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
    this.#t.clear();
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
    this.#t.destroy();
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
    this.#t.live("walk map");
    return new MapCursorImpl<K, V>(this.#t);
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
    const struct = this.#t.struct;
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
    checkMap(this.#t);
  }
}

/** The cursor behind {@linkcode SharedMap.cursor}. */
class MapCursorImpl<K extends MapKeyKind, V extends ElementType> implements SharedMapCursor<K, V> {
  readonly #table: MapTable<K, V>;
  #segment = 0;
  #slot = -1;
  _key!: MapKey<K>;
  _value!: ElementValue<V>;

  constructor(table: MapTable<K, V>) {
    this.#table = table;
  }

  get key(): MapKey<K> {
    return this._key;
  }

  get value(): ElementValue<V> {
    return this._value;
  }

  next(): boolean {
    const table = this.#table;
    const segments = table.segments;
    while (this.#segment < segments) {
      const slot = table.nextEntry(this.#segment, this.#slot, this);
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
