/**
 * `SharedVec`: a growable array in a shared heap. A 64-byte header holds the
 * element kind, a lock word, the length, the capacity and the data pointer;
 * every operation that reads or writes elements holds the lock, so pushes from
 * several workers are safe and a growth (which may move the data) never races
 * with a reader.
 *
 * @module
 */

import { HeapCorruptionError } from "../errors.ts";
import { lockWord, unlockWord } from "../sync/mod.ts";
import type { StructCursor } from "../../structs/struct_array.ts";
import type { AnyStructType, StructFields } from "../../structs/types.ts";
import {
  checkOptions,
  checkValue,
  type CollectionHeap,
  createHeader,
  describe,
  elementCode,
  type HeaderSpec,
  integerOption,
  KIND_SIZES,
  openAt,
  readScalar,
  type ScalarValue,
  STRUCT_CODE,
  timeoutOfWord,
  timeoutWord,
  Views,
  writeScalar,
} from "./_common.ts";
import { CollectionStateError } from "./errors.ts";
import type { ElementInit, ElementType, ElementValue } from "./types.ts";

const MAGIC = 0x56454331; // "VEC1"
const DEAD = 0x56454330;
const H_MAGIC = 0;
const H_CODE = 1;
const H_SIZE = 2;
const H_LOCK = 3;
const H_LENGTH = 4;
const H_CAP = 5;
const H_DATA = 6;
const H_TIMEOUT = 7;
const HEADER_BYTES = 64;
const MIN_CAP = 4;
/** What `at()` checks (it reads the magic from word 0: H_MAGIC). */
const HEADER: HeaderSpec = {
  noun: "vector",
  records: "records",
  bytes: HEADER_BYTES,
  magic: MAGIC,
  dead: DEAD,
  codeWord: H_CODE,
  sizeWord: H_SIZE,
};
const DEFAULT_TIMEOUT_MS = 10_000;
let backup = new Uint8Array(64);

/**
 * Options for {@linkcode SharedVec.create}.
 *
 * @example
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedVec, type SharedVecOptions } from "@typedheap/typedheap/collections";
 * import { f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const options: SharedVecOptions<typeof f64> = { element: f64, capacity: 100 };
 * assert.equal(SharedVec.create(Heap.create(), options).length, 0);
 * ```
 */
export interface SharedVecOptions<T extends ElementType> {
  /** The element type: a scalar field type or a struct type. */
  element: T;
  /**
   * Room to reserve up front, in elements.
   *
   * @default {0}
   */
  capacity?: number;
  /**
   * How long an operation waits for the lock before it throws `LockTimeoutError`.
   *
   * @default {10000}
   */
  lockTimeoutMs?: number;
}

/**
 * Walks a vector's elements by index without creating an object per element.
 *
 * @example
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedVec } from "@typedheap/typedheap/collections";
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const vec = SharedVec.create(Heap.create(), { element: u32 });
 * vec.push(1);
 * vec.push(2);
 * let sum = 0;
 * for (const c = vec.cursor(); c.next();) sum += c.value;
 * assert.equal(sum, 3);
 * ```
 */
export interface SharedVecCursor<T extends ElementType> {
  /**
   * Moves to the next element.
   *
   * @returns `false` past the last element.
   */
  next(): boolean;
  /** The current index. */
  readonly index: number;
  /** The current element: a scalar, or a view of the record (reused by the cursor). */
  readonly value: ElementValue<T>;
}

/**
 * A growable array of a scalar or struct type in a shared heap.
 *
 * Safe from any number of workers at once: `push`, `pop`, `get`, `set`,
 * `insert`, `remove`, `swapRemove`, `clear` (each holds the vector's lock).
 * Not safe while other workers change the vector: indices (another worker may
 * remove elements in between), record views returned by `get` for struct
 * elements (they move when the vector grows), the cursor and iteration (they
 * read without the lock), and `destroy()`.
 *
 * @example
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedVec } from "@typedheap/typedheap/collections";
 * import { i32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const vec = SharedVec.create(heap, { element: i32 });
 * for (let i = 0; i < 5; i++) vec.push(i * 10);
 * vec.swapRemove(0);
 * assert.deepEqual([...vec], [40, 10, 20, 30]);
 * // In a worker: SharedVec.at(Heap.attach(buffer), ptr).
 * assert.equal(SharedVec.at(Heap.attach(heap.buffer), vec.ptr).get(1), 10);
 * ```
 */
export class SharedVec<T extends ElementType> {
  /** The byte offset of the vector's header in the heap. */
  readonly ptr: number;
  /** The heap the vector lives in. */
  readonly heap: CollectionHeap;
  /** The element type. */
  readonly element: T;
  readonly #v: Views;
  readonly #hw: number;
  readonly #code: number;
  readonly #size: number;
  readonly #struct: AnyStructType | null;
  readonly #timeoutMs: number;
  readonly #wid: number;

  private constructor(heap: CollectionHeap, ptr: number, element: T) {
    this.heap = heap;
    this.ptr = ptr;
    this.element = element;
    const v = new Views(heap.buffer);
    this.#v = v;
    this.#hw = ptr >>> 2;
    this.#code = v.u32[this.#hw + H_CODE];
    this.#size = v.u32[this.#hw + H_SIZE];
    this.#struct = this.#code === STRUCT_CODE ? element as AnyStructType : null;
    this.#timeoutMs = timeoutOfWord(v.u32[this.#hw + H_TIMEOUT]);
    this.#wid = heap.workerId;
  }

  /**
   * Creates an empty vector in `heap`.
   *
   * @param heap The heap to allocate in.
   * @param options The element type and capacity; see {@linkcode SharedVecOptions}.
   * @returns The vector.
   * @throws {TypeError} If `element` is not a scalar field type or a struct type.
   * @throws {RangeError} If `capacity` or `lockTimeoutMs` is out of range.
   *
   * @example A vector of records
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const P = defineStruct("P", { x: f64, y: f64 });
   * const points = SharedVec.create(Heap.create(), { element: P });
   * points.push({ x: 1, y: 2 });
   * assert.equal(points.get(0).y, 2);
   * ```
   */
  static create<T extends ElementType>(
    heap: CollectionHeap,
    options: SharedVecOptions<T>,
  ): SharedVec<T> {
    const op = "create vector";
    checkOptions(op, options);
    const code = elementCode(op, "element", options.element);
    const capacity = integerOption(op, "capacity", options.capacity ?? 0, [
      0,
      2 ** 28,
      "0 to 2^28",
    ]);
    const timeout = timeoutWord(op, options.lockTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    const struct = code === STRUCT_CODE ? options.element as AnyStructType : null;
    const size = struct === null ? KIND_SIZES[code] : struct.size;
    const cap = Math.max(MIN_CAP, capacity);
    const header = { bytes: HEADER_BYTES, magic: MAGIC, dataWord: H_DATA };
    const ptr = createHeader(heap, header, (u32, hw) => {
      u32[hw + H_CODE] = code;
      u32[hw + H_SIZE] = size;
      u32[hw + H_CAP] = cap;
      u32[hw + H_TIMEOUT] = timeout;
    }, () => allocData(heap, struct, cap, size));
    return new SharedVec(heap, ptr, options.element);
  }

  /**
   * Opens a vector made by {@linkcode SharedVec.create}, typically in another worker.
   *
   * @param heap The heap holding the vector (attached in this worker).
   * @param ptr The vector's `ptr`.
   * @param element The element type, required for a vector of records; checked against the vector's.
   * @returns A handle on the same vector.
   * @throws {CollectionStateError} If `ptr` does not hold a live vector.
   * @throws {TypeError} If `element` does not match.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const vec = SharedVec.create(heap, { element: u8 });
   * vec.push(7);
   * assert.equal(SharedVec.at(Heap.attach(heap.buffer), vec.ptr).pop(), 7);
   * ```
   */
  static at<T extends ElementType = ElementType>(
    heap: CollectionHeap,
    ptr: number,
    element?: T,
  ): SharedVec<T> {
    return new SharedVec(heap, ptr, openAt(heap.buffer, ptr, element, HEADER) as T);
  }

  /**
   * The number of elements (read atomically).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(1);
   * assert.equal(vec.length, 1);
   * ```
   */
  get length(): number {
    this.#live("read vector length");
    return Atomics.load(this.#v.u32, this.#hw + H_LENGTH);
  }

  /**
   * Appends `value`; safe from several workers at once.
   *
   * @param value The value (for records: field values or a record of the type).
   * @returns The new length.
   * @throws {TypeError} If `value` is of the wrong kind (the vector is unchanged).
   * @throws {RangeError} If `value` does not fit (the vector is unchanged).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * assert.equal(vec.push(5), 1);
   * assert.throws(() => vec.push(-1), RangeError);
   * assert.equal(vec.length, 1);
   * ```
   */
  push(value: ElementInit<T>): number {
    return this.insert(-1, value);
  }

  /**
   * Inserts `value` at `index`, moving the later elements up.
   *
   * @param index Where to insert, from 0 to `length` (`-1` means `length`).
   * @param value The value.
   * @returns The new length.
   * @throws {RangeError} If `index` is out of range or `value` does not fit (the vector is unchanged).
   * @throws {TypeError} If `value` is of the wrong kind (the vector is unchanged).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(1);
   * vec.push(3);
   * vec.insert(1, 2);
   * assert.deepEqual([...vec], [1, 2, 3]);
   * ```
   */
  insert(index: number, value: ElementInit<T>): number {
    const op = "insert into vector";
    this.#live(op);
    const struct = this.#struct;
    checkValue(op, this.#code, struct, value);
    if (!Number.isInteger(index) || index < -1) {
      throw new RangeError(`Cannot ${op}: index must be an integer from -1: ${describe(index)}`);
    }
    this.#lock();
    try {
      const v = this.#v;
      const length = v.u32[this.#hw + H_LENGTH];
      const at = index === -1 ? length : index;
      if (at > length) {
        throw new RangeError(`Cannot ${op}: index must be at most the length ${length}: ${index}`);
      }
      if (length === v.u32[this.#hw + H_CAP]) this.#grow(length + 1);
      const size = this.#size;
      const data = v.u32[this.#hw + H_DATA];
      const p = data + at * size;
      v.cover(data + (length + 1) * size); // another worker may have grown the heap
      if (at < length) v.u8.copyWithin(p + size, p, data + length * size);
      if (struct === null) writeScalar(v, this.#code, p, value as ScalarValue);
      else {
        v.u8.fill(0, p, p + size);
        try {
          struct.assign(this.#record(p) as never, value as never);
        } catch (error) {
          v.u8.copyWithin(p, p + size, data + (length + 1) * size);
          throw error;
        }
      }
      Atomics.store(v.u32, this.#hw + H_LENGTH, length + 1);
      return length + 1;
    } finally {
      this.#unlock();
    }
  }

  /**
   * Removes and returns the last element. For records it returns a new record
   * in the heap that the caller destroys.
   *
   * @returns The element, or `undefined` if the vector is empty.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(4);
   * assert.equal(vec.pop(), 4);
   * assert.equal(vec.pop(), undefined);
   * ```
   */
  pop(): ElementValue<T> | undefined {
    this.#live("pop from vector");
    this.#lock();
    try {
      const length = this.#v.u32[this.#hw + H_LENGTH];
      if (length === 0) return undefined;
      return this.#take(length - 1, false);
    } finally {
      this.#unlock();
    }
  }

  /**
   * Removes the element at `index`, moving the later ones down (order kept).
   *
   * @param index An index below `length`.
   * @returns The removed element (for records: a new record the caller destroys).
   * @throws {RangeError} If `index` is out of range.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * [1, 2, 3].forEach((x) => vec.push(x));
   * assert.equal(vec.remove(0), 1);
   * assert.deepEqual([...vec], [2, 3]);
   * ```
   */
  remove(index: number): ElementValue<T> {
    return this.#removeAt("remove from vector", index, false);
  }

  /**
   * Removes the element at `index` by moving the last element into its place (O(1), order not kept).
   *
   * @param index An index below `length`.
   * @returns The removed element (for records: a new record the caller destroys).
   * @throws {RangeError} If `index` is out of range.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * [1, 2, 3].forEach((x) => vec.push(x));
   * assert.equal(vec.swapRemove(0), 1);
   * assert.deepEqual([...vec], [3, 2]);
   * ```
   */
  swapRemove(index: number): ElementValue<T> {
    return this.#removeAt("swap-remove from vector", index, true);
  }

  /**
   * Reads the element at `index`.
   *
   * @param index An index below `length`.
   * @returns The element: a scalar, or a new view of the record in the vector
   *   (valid until the vector grows or the element moves).
   * @throws {RangeError} If `index` is out of range.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(9);
   * assert.equal(vec.get(0), 9);
   * assert.throws(() => vec.get(1), RangeError);
   * ```
   */
  get(index: number): ElementValue<T> {
    const op = "read vector";
    this.#live(op);
    this.#lock();
    try {
      const p = this.#at(op, index);
      return (this.#struct === null
        ? readScalar(this.#v, this.#code, p)
        : this.#struct.at(this.heap, p)) as ElementValue<T>;
    } finally {
      this.#unlock();
    }
  }

  /**
   * Reads the element at `index`, counting from the end when negative (like `Array.prototype.at`).
   *
   * @param index An index in `[-length, length)`.
   * @returns The element, or `undefined` if out of range.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(1);
   * vec.push(2);
   * assert.equal(vec.at(-1), 2);
   * assert.equal(vec.at(5), undefined);
   * ```
   */
  at(index: number): ElementValue<T> | undefined {
    this.#live("read vector");
    const length = this.length;
    const i = index < 0 ? length + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= length) return undefined;
    try {
      return this.get(i);
    } catch (error) {
      if (error instanceof RangeError) return undefined; // shrunk by another worker meanwhile
      throw error;
    }
  }

  /**
   * Writes the element at `index` (a record is replaced as a whole).
   *
   * @param index An index below `length`.
   * @param value The value.
   * @throws {RangeError} If `index` is out of range or `value` does not fit (the vector is unchanged).
   * @throws {TypeError} If `value` is of the wrong kind (the vector is unchanged).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(1);
   * vec.set(0, 2);
   * assert.equal(vec.get(0), 2);
   * ```
   */
  set(index: number, value: ElementInit<T>): void {
    const op = "write vector";
    this.#live(op);
    const struct = this.#struct;
    checkValue(op, this.#code, struct, value);
    this.#lock();
    try {
      const p = this.#at(op, index);
      const v = this.#v;
      if (struct === null) {
        writeScalar(v, this.#code, p, value as ScalarValue);
        return;
      }
      const size = this.#size;
      const record = this.#record(p);
      if ((value as { ptr?: unknown }).ptr === p) return;
      if (backup.length < size) backup = new Uint8Array(size);
      backup.set(v.u8.subarray(p, p + size));
      v.u8.fill(0, p, p + size);
      try {
        struct.assign(record as never, value as never);
      } catch (error) {
        v.u8.set(backup.subarray(0, size), p);
        throw error;
      }
    } finally {
      this.#unlock();
    }
  }

  /**
   * Removes every element (the capacity is kept).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(1);
   * vec.clear();
   * assert.equal(vec.length, 0);
   * ```
   */
  clear(): void {
    this.#live("clear vector");
    this.#lock();
    try {
      Atomics.store(this.#v.u32, this.#hw + H_LENGTH, 0);
    } finally {
      this.#unlock();
    }
  }

  /**
   * A cursor over the elements (reads without the lock: use it when no other
   * worker changes the vector).
   *
   * @returns A cursor before the first element.
   *
   * @example Walking records in place
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { defineStruct, f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const P = defineStruct("P", { x: f64 });
   * const vec = SharedVec.create(Heap.create(), { element: P });
   * for (let i = 0; i < 4; i++) vec.push({ x: i });
   * for (const c = vec.cursor(); c.next();) c.value.x *= 2;
   * assert.equal(vec.get(3).x, 6);
   * ```
   */
  cursor(): SharedVecCursor<T> {
    this.#live("walk vector");
    const v = this.#v;
    const data = v.u32[this.#hw + H_DATA];
    const length = Atomics.load(v.u32, this.#hw + H_LENGTH);
    v.cover(data + length * this.#size);
    const struct = this.#struct;
    const records = struct === null ? null : struct.arrayAt(this.heap, data).cursor();
    return new VecCursorImpl<T>(v, this.#code, this.#size, data, length, records);
  }

  /**
   * The elements in order (struct elements as new views); reads without the lock, as the cursor.
   *
   * @returns An iterator over the elements.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * vec.push(1);
   * assert.deepEqual(Array.from(vec), [1]);
   * ```
   */
  *[Symbol.iterator](): IterableIterator<ElementValue<T>> {
    const struct = this.#struct;
    for (const c = this.cursor(); c.next();) {
      yield struct === null
        ? c.value
        : struct.at(this.heap, (c.value as unknown as { ptr: number }).ptr) as ElementValue<T>;
    }
  }

  /**
   * Frees the vector. Call it only once no worker uses the vector any more.
   *
   * @throws {CollectionStateError} If the vector was already destroyed.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * SharedVec.create(heap, { element: u8 }).destroy();
   * assert.equal(heap.stats().liveAllocations, 0);
   * ```
   */
  destroy(): void {
    this.#live("destroy vector");
    const v = this.#v;
    if (Atomics.compareExchange(v.u32, this.#hw + H_MAGIC, MAGIC, DEAD) !== MAGIC) {
      throw new CollectionStateError("destroy vector", this.ptr, "was destroyed");
    }
    freeData(this.heap, this.#struct, v.u32[this.#hw + H_DATA]);
    this.heap.free(this.ptr);
  }

  /**
   * Verifies the vector's invariants (length within capacity, data inside the heap), under its lock.
   *
   * @throws {HeapCorruptionError} Naming the first broken invariant.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedVec } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   *
   * const vec = SharedVec.create(Heap.create(), { element: u8 });
   * for (let i = 0; i < 100; i++) vec.push(i);
   * vec.check();
   * ```
   */
  check(): void {
    this.#live("check vector");
    this.#lock();
    try {
      const v = this.#v;
      const length = v.u32[this.#hw + H_LENGTH];
      const cap = v.u32[this.#hw + H_CAP];
      const data = v.u32[this.#hw + H_DATA];
      if (cap < MIN_CAP || length > cap) {
        throw new HeapCorruptionError(`vector length ${length} exceeds capacity ${cap}`, this.ptr);
      }
      if (data === 0 || !v.cover(data + cap * this.#size)) {
        throw new HeapCorruptionError(`vector data ${data} is outside the heap`, this.ptr);
      }
    } finally {
      this.#unlock();
    }
  }

  // -------------------------------------------------------------------------

  #live(operation: string): void {
    if (this.#v.u32[this.#hw + H_MAGIC] !== MAGIC) {
      throw new CollectionStateError(
        operation,
        this.ptr,
        "is not a live vector (it was destroyed)",
      );
    }
  }

  #lock(): void {
    lockWord(this.#v.i32, this.#hw + H_LOCK, this.#wid, this.#timeoutMs);
  }

  #unlock(): void {
    unlockWord(this.#v.i32, this.#hw + H_LOCK, this.#wid);
  }

  /** The byte offset of element `index` (locked), or a RangeError. */
  #at(op: string, index: number): number {
    const v = this.#v;
    const length = v.u32[this.#hw + H_LENGTH];
    if (!Number.isInteger(index) || index < 0 || index >= length) {
      throw new RangeError(
        `Cannot ${op}: index must be an integer below the length ${length}: ${describe(index)}`,
      );
    }
    const p = v.u32[this.#hw + H_DATA] + index * this.#size;
    v.cover(p + this.#size);
    return p;
  }

  #record(p: number): { ptr: number } {
    return (this.#struct as AnyStructType).at(this.heap, p);
  }

  /** Copies element `index` out (locked); the caller then removes it. */
  #take(index: number, swap: boolean): ElementValue<T> {
    const v = this.#v;
    const size = this.#size;
    const struct = this.#struct;
    const data = v.u32[this.#hw + H_DATA];
    const length = v.u32[this.#hw + H_LENGTH];
    const p = data + index * size;
    v.cover(data + length * size);
    let out: unknown;
    if (struct === null) out = readScalar(v, this.#code, p);
    else {
      const record = struct.create(this.heap);
      v.cover(record.ptr + size);
      v.u8.copyWithin(record.ptr, p, p + size);
      out = record;
    }
    const end = data + length * size;
    if (swap) v.u8.copyWithin(p, end - size, end);
    else v.u8.copyWithin(p, p + size, end);
    Atomics.store(v.u32, this.#hw + H_LENGTH, length - 1);
    return out as ElementValue<T>;
  }

  #removeAt(op: string, index: number, swap: boolean): ElementValue<T> {
    this.#live(op);
    this.#lock();
    try {
      this.#at(op, index);
      return this.#take(index, swap);
    } finally {
      this.#unlock();
    }
  }

  /** Grows the data (locked) to hold at least `need` elements. */
  #grow(need: number): void {
    const v = this.#v;
    const cap = v.u32[this.#hw + H_CAP];
    const next = Math.max(need, cap * 2);
    const data = v.u32[this.#hw + H_DATA];
    const size = this.#size;
    const struct = this.#struct;
    let moved: number;
    if (struct === null) {
      moved = this.heap.realloc(data, next * size);
    } else {
      moved = allocData(this.heap, struct, next, size);
      v.cover(moved + next * size);
      v.u8.copyWithin(moved, data, data + v.u32[this.#hw + H_LENGTH] * size);
      freeData(this.heap, struct, data);
    }
    v.cover(moved + next * size);
    v.u32[this.#hw + H_DATA] = moved;
    v.u32[this.#hw + H_CAP] = next;
  }
}

function allocData(
  heap: CollectionHeap,
  struct: AnyStructType | null,
  cap: number,
  size: number,
): number {
  return struct === null ? heap.alloc(cap * size, 8) : struct.createArray(heap, cap).ptr;
}

function freeData(heap: CollectionHeap, struct: AnyStructType | null, data: number): void {
  if (struct === null) heap.free(data);
  else struct.arrayAt(heap, data).destroy();
}

class VecCursorImpl<T extends ElementType> implements SharedVecCursor<T> {
  readonly #v: Views;
  readonly #code: number;
  readonly #size: number;
  readonly #data: number;
  readonly #length: number;
  readonly #records: StructCursor<StructFields> | null;
  #index = -1;

  constructor(
    v: Views,
    code: number,
    size: number,
    data: number,
    length: number,
    records: StructCursor<StructFields> | null,
  ) {
    this.#v = v;
    this.#code = code;
    this.#size = size;
    this.#data = data;
    this.#length = length;
    this.#records = records;
  }

  get index(): number {
    return this.#index;
  }

  get value(): ElementValue<T> {
    const records = this.#records;
    if (records !== null) return records.seek(this.#index) as ElementValue<T>;
    return readScalar(this.#v, this.#code, this.#data + this.#index * this.#size) as ElementValue<
      T
    >;
  }

  next(): boolean {
    if (this.#index + 1 >= this.#length) return false;
    this.#index++;
    return true;
  }
}
