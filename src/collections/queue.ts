/**
 * `SharedQueue`: a bounded multi-producer multi-consumer queue in a shared heap.
 *
 * The ring is Dmitry Vyukov's bounded MPMC design: each cell has a sequence
 * word; a producer claims the cell at the enqueue position with one
 * compare-and-swap when the cell's sequence equals the position, writes the
 * value, then publishes it by storing `position + 1`; a consumer does the
 * mirror image and hands the cell back with `position + capacity`. No lock is
 * held while a value is copied, so producers and consumers on different cells
 * never wait for each other.
 *
 * Blocking calls sleep on two event counters ("not empty", "not full") next to
 * counts of sleepers: a sleeper registers, re-checks the ring, then waits on
 * the counter value it read before; the other side bumps and notifies the
 * counter only when someone is registered, so the fast path has no notify.
 * Every wait is sliced (at most 50 ms) and bounded by the caller's timeout.
 *
 * @module
 */

import { HeapCorruptionError } from "../errors.ts";
import type { StructCursor } from "../../structs/struct_array.ts";
import type { AnyStructType, StructFields } from "../../structs/types.ts";
import {
  checkOptions,
  checkScalar,
  checkTimeout,
  type CollectionHeap,
  createHeader,
  describe,
  elementCode,
  type HeaderSpec,
  integerOption,
  KIND_NAMES,
  KIND_SIZES,
  openAt,
  readScalar,
  roundUp,
  type ScalarValue,
  STRUCT_CODE,
  Views,
  WAIT_SLICE_MS,
  waitSlice,
  waitSliceAsync,
  writeScalar,
} from "./_common.ts";
import { CollectionStateError, QueueClosedError } from "./errors.ts";
import type { ElementInit, ElementType, ElementValue } from "./types.ts";

const MAGIC = 0x51554531; // "QUE1"
const DEAD = 0x51554530;
// Header words; the hot words sit on their own cache lines.
const H_MAGIC = 0;
const H_CODE = 1;
const H_SIZE = 2;
const H_CAP = 3;
const H_CLOSED = 4;
const H_DATA = 5;
const H_ENQ = 16;
const H_DEQ = 32;
const H_NOT_EMPTY = 48;
const H_WAIT_CONSUMERS = 49;
const H_NOT_FULL = 64;
const H_WAIT_PRODUCERS = 65;
const H_SEQ = 80;
/** What `at()` checks (it reads the magic from word 0: H_MAGIC). */
const HEADER: HeaderSpec = {
  noun: "queue",
  records: "records",
  bytes: H_SEQ * 4,
  magic: MAGIC,
  dead: DEAD,
  codeWord: H_CODE,
  sizeWord: H_SIZE,
};
/** A compare-and-swap that keeps failing means others keep winning; this many tries, then "busy". */
const RETRY_LIMIT = 1 << 20;
/**
 * A blocking push or pop retries this often before it registers and sleeps:
 * when the other side is running, a cell frees up within a few retries, and a
 * sleep and wake-up per element would cost far more.
 */
const SPIN_TRIES = 20;

/**
 * Options for {@linkcode SharedQueue.create}.
 *
 * @example A queue of 1024 f64 values
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedQueue, type SharedQueueOptions } from "@typedheap/typedheap/collections";
 * import { f64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const options: SharedQueueOptions<typeof f64> = { element: f64, capacity: 1000 };
 * const queue = SharedQueue.create(Heap.create(), options);
 * assert.equal(queue.capacity, 1024); // rounded up to a power of two
 * ```
 */
export interface SharedQueueOptions<T extends ElementType> {
  /** The element type: a scalar field type or a struct type. */
  element: T;
  /**
   * The most elements the queue holds (rounded up to a power of two, from 2 to 2^24).
   *
   * @default {1024}
   */
  capacity?: number;
}

/**
 * A bounded queue in a shared heap that any number of workers push to and pop
 * from at once (Vyukov's bounded MPMC ring). Blocking calls take a timeout;
 * async ones (`pushAsync`, `popAsync`) never block the thread; `close()` wakes
 * every waiter.
 *
 * Not safe: a worker that dies between claiming a cell and publishing it
 * stalls the consumers at that cell; `destroy()` while others use the queue;
 * `close()` while producers still push (items claimed before the close are
 * still delivered, but a consumer may see "closed" first).
 *
 * @example Producer and consumer
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { SharedQueue } from "@typedheap/typedheap/collections";
 * import { u32 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const queue = SharedQueue.create(heap, { element: u32, capacity: 8 });
 * queue.push(1, 1000);
 * assert.equal(queue.tryPush(2), true);
 * assert.equal(queue.pop(1000), 1);
 * // In a worker: SharedQueue.at(Heap.attach(buffer), ptr).
 * assert.equal(SharedQueue.at(Heap.attach(heap.buffer), queue.ptr).tryPop(), 2);
 * assert.equal(queue.tryPop(), undefined);
 * ```
 */
export class SharedQueue<T extends ElementType> {
  /** The byte offset of the queue in the heap. */
  readonly ptr: number;
  /** The heap the queue lives in. */
  readonly heap: CollectionHeap;
  /** The element type. */
  readonly element: T;
  /** The most elements the queue holds. */
  readonly capacity: number;
  readonly #v: Views;
  readonly #hw: number;
  readonly #code: number;
  readonly #size: number;
  readonly #mask: number;
  readonly #data: number;
  readonly #struct: AnyStructType | null;
  #cursor: StructCursor<StructFields> | null = null;

  private constructor(heap: CollectionHeap, ptr: number, element: T) {
    this.heap = heap;
    this.ptr = ptr;
    this.element = element;
    const v = new Views(heap.buffer);
    this.#v = v;
    const hw = ptr >>> 2;
    this.#hw = hw;
    this.#code = v.u32[hw + H_CODE];
    this.#size = v.u32[hw + H_SIZE];
    this.capacity = v.u32[hw + H_CAP];
    this.#mask = this.capacity - 1;
    this.#data = v.u32[hw + H_DATA];
    this.#struct = this.#code === STRUCT_CODE ? element as AnyStructType : null;
    v.cover(this.#data + this.capacity * this.#size);
  }

  /**
   * Creates an empty queue in `heap`.
   *
   * @param heap The heap to allocate in.
   * @param options The element type and capacity; see {@linkcode SharedQueueOptions}.
   * @returns The queue.
   * @throws {TypeError} If `element` is not a scalar field type or a struct type.
   * @throws {RangeError} If `capacity` is out of range.
   *
   * @example A queue of records
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { defineStruct, f64, u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Job = defineStruct("Job", { id: u32, cost: f64 });
   * const heap = Heap.create();
   * const jobs = SharedQueue.create(heap, { element: Job, capacity: 16 });
   * jobs.push({ id: 1, cost: 2.5 }, 1000);
   * const out = Job.create(heap);
   * assert.equal(jobs.tryPopInto(out), true);
   * assert.deepEqual(out.toJSON(), { id: 1, cost: 2.5 });
   * ```
   */
  static create<T extends ElementType>(
    heap: CollectionHeap,
    options: SharedQueueOptions<T>,
  ): SharedQueue<T> {
    const op = "create queue";
    checkOptions(op, options);
    const code = elementCode(op, "element", options.element);
    const range: [number, number, string] = [1, 1 << 24, "1 to 2^24"];
    const requested = integerOption(op, "capacity", options.capacity ?? 1024, range);
    const cap = Math.max(2, 2 ** Math.ceil(Math.log2(requested)));
    const struct = code === STRUCT_CODE ? options.element as AnyStructType : null;
    const size = struct === null ? KIND_SIZES[code] : struct.size;
    const seqEnd = (H_SEQ + cap) * 4;
    // Scalars sit inline after the sequence words; records in a struct array.
    const inline = struct === null ? roundUp(seqEnd, 8) + cap * size : seqEnd;
    const header = { bytes: inline, magic: MAGIC, dataWord: H_DATA };
    const ptr = createHeader(heap, header, (u32, hw) => {
      for (let i = 0; i < cap; i++) u32[hw + H_SEQ + i] = i;
      u32[hw + H_CODE] = code;
      u32[hw + H_SIZE] = size;
      u32[hw + H_CAP] = cap;
    }, (p) => struct === null ? p + roundUp(seqEnd, 8) : struct.createArray(heap, cap).ptr);
    return new SharedQueue(heap, ptr, options.element);
  }

  /**
   * Opens a queue made by {@linkcode SharedQueue.create}, typically in another worker.
   *
   * @param heap The heap holding the queue (attached in this worker).
   * @param ptr The queue's `ptr`.
   * @param element The element type, required for a queue of records; checked against the queue's.
   * @returns A handle on the same queue.
   * @throws {CollectionStateError} If `ptr` does not hold a live queue.
   * @throws {TypeError} If `element` does not match.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { i64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * const queue = SharedQueue.create(heap, { element: i64 });
   * queue.tryPush(-5n);
   * assert.equal(SharedQueue.at<typeof i64>(Heap.attach(heap.buffer), queue.ptr).tryPop(), -5n);
   * ```
   */
  static at<T extends ElementType = ElementType>(
    heap: CollectionHeap,
    ptr: number,
    element?: T,
  ): SharedQueue<T> {
    return new SharedQueue(heap, ptr, openAt(heap.buffer, ptr, element, HEADER) as T);
  }

  /**
   * The number of elements in the queue right now (a snapshot: other workers may change it at once).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u8, capacity: 4 });
   * queue.tryPush(1);
   * queue.tryPush(2);
   * assert.equal(queue.length, 2);
   * ```
   */
  get length(): number {
    this.#live("read queue length");
    const i32 = this.#v.i32;
    const n = (Atomics.load(i32, this.#hw + H_ENQ) - Atomics.load(i32, this.#hw + H_DEQ)) | 0;
    return n < 0 ? 0 : n > this.capacity ? this.capacity : n;
  }

  /**
   * Whether {@linkcode SharedQueue.close} was called.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u8 });
   * assert.equal(queue.closed, false);
   * queue.close();
   * assert.equal(queue.closed, true);
   * ```
   */
  get closed(): boolean {
    return Atomics.load(this.#v.i32, this.#hw + H_CLOSED) !== 0;
  }

  /**
   * Adds `value` if there is room, without waiting.
   *
   * @param value The value (for a queue of records: a record of the type, or field values).
   * @returns `true` if added, `false` if the queue is full.
   * @throws {QueueClosedError} If the queue is closed.
   * @throws {TypeError} If `value` is of the wrong kind (nothing is added).
   * @throws {RangeError} If `value` does not fit the element type (nothing is added).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u8, capacity: 2 });
   * assert.deepEqual([queue.tryPush(1), queue.tryPush(2), queue.tryPush(3)], [true, true, false]);
   * assert.throws(() => queue.tryPush(300), RangeError);
   * ```
   */
  tryPush(value: ElementInit<T>): boolean {
    const op = "push to queue";
    const staged = this.#stage(op, value);
    try {
      if (Atomics.load(this.#v.i32, this.#hw + H_CLOSED) !== 0) {
        throw new QueueClosedError(op, this.ptr);
      }
      return this.#tryPush(staged);
    } finally {
      this.#unstage(staged, value);
    }
  }

  /**
   * Adds `value`, waiting at most `timeoutMs` for room.
   *
   * @param value The value (for a queue of records: a record of the type, or field values).
   * @param timeoutMs How long to wait at most, in milliseconds (`Infinity` for no limit).
   * @returns `true` if added, `false` if the queue stayed full until the deadline.
   * @throws {QueueClosedError} If the queue is closed (also while waiting).
   * @throws {TypeError} If `value` is of the wrong kind (nothing is added).
   * @throws {RangeError} If `value` does not fit or `timeoutMs` is negative (nothing is added).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u8, capacity: 2 });
   * assert.equal(queue.push(1, 100), true);
   * queue.push(2, 100);
   * assert.equal(queue.push(3, 10), false); // full until the deadline
   * ```
   */
  push(value: ElementInit<T>, timeoutMs: number): boolean {
    const op = "push to queue";
    checkTimeout(op, timeoutMs);
    const staged = this.#stage(op, value);
    try {
      if (Atomics.load(this.#v.i32, this.#hw + H_CLOSED) !== 0) {
        throw new QueueClosedError(op, this.ptr);
      }
      // The clock is read only once the queue turns out to be full.
      return this.#tryPush(staged) || this.#waitFor(true, staged, 0, timeoutMs);
    } finally {
      this.#unstage(staged, value);
    }
  }

  /**
   * The blocking part of `push` (`push` true, `staged` the value) and `pop`
   * (`into` the record pointer, 0 for a scalar): spins a little, then sleeps
   * in slices until the deadline. A closed queue refuses pushes at once;
   * pops drain it first.
   */
  #waitFor(push: boolean, staged: ScalarValue | number, into: number, timeoutMs: number): boolean {
    const op = push ? "push to queue" : "pop from queue";
    const i32 = this.#v.i32;
    const hw = this.#hw;
    const event = hw + (push ? H_NOT_FULL : H_NOT_EMPTY);
    const waiters = hw + (push ? H_WAIT_PRODUCERS : H_WAIT_CONSUMERS);
    let deadline = -1; // read the clock only once spinning did not help
    // Bounded by the deadline: after SPIN_TRIES passes, each pass sleeps at most one slice
    // and reads the clock.
    for (let spin = 0;; spin++) {
      if (Atomics.load(i32, hw + H_CLOSED) !== 0) {
        if (!push && this.#tryPopTo(into)) return true;
        throw new QueueClosedError(op, this.ptr);
      }
      if (push ? this.#tryPush(staged) : this.#tryPopTo(into)) return true;
      if (spin < SPIN_TRIES) continue;
      const seen = Atomics.load(i32, event);
      Atomics.add(i32, waiters, 1);
      try {
        if (push ? this.#tryPush(staged) : this.#tryPopTo(into)) return true;
        const t = performance.now();
        if (deadline < 0) deadline = t + timeoutMs;
        const remainingMs = deadline - t;
        if (remainingMs <= 0) return false;
        if (Atomics.load(i32, hw + H_CLOSED) !== 0) continue;
        waitSlice(i32, event, seen, Math.min(remainingMs, WAIT_SLICE_MS));
      } finally {
        Atomics.sub(i32, waiters, 1);
      }
    }
  }

  /** `#waitFor` with `Atomics.waitAsync`, for `pushAsync` and `popAsync` (no spinning). */
  async #waitForAsync(
    push: boolean,
    staged: ScalarValue | number,
    into: number,
    timeoutMs: number,
  ): Promise<boolean> {
    const op = push ? "push to queue" : "pop from queue";
    const hw = this.#hw;
    const event = hw + (push ? H_NOT_FULL : H_NOT_EMPTY);
    const waiters = hw + (push ? H_WAIT_PRODUCERS : H_WAIT_CONSUMERS);
    const deadline = performance.now() + timeoutMs;
    // Bounded by the deadline.
    for (;;) {
      const i32 = this.#v.i32;
      if (Atomics.load(i32, hw + H_CLOSED) !== 0) {
        if (!push && this.#tryPopTo(into)) return true;
        throw new QueueClosedError(op, this.ptr);
      }
      if (push ? this.#tryPush(staged) : this.#tryPopTo(into)) return true;
      const seen = Atomics.load(i32, event);
      Atomics.add(i32, waiters, 1);
      try {
        if (push ? this.#tryPush(staged) : this.#tryPopTo(into)) return true;
        const remainingMs = deadline - performance.now();
        if (remainingMs <= 0) return false;
        if (Atomics.load(i32, hw + H_CLOSED) !== 0) continue;
        await waitSliceAsync(i32, event, seen, Math.min(remainingMs, WAIT_SLICE_MS));
      } finally {
        Atomics.sub(this.#v.i32, waiters, 1);
      }
    }
  }

  /**
   * Like {@linkcode SharedQueue.push}, but waits with `Atomics.waitAsync`, so
   * the thread keeps running (for a browser's main thread or an event loop).
   *
   * @param value The value.
   * @param timeoutMs How long to wait at most, in milliseconds (`Infinity` for no limit).
   * @returns A promise of `true` once added, or `false` at the deadline; it
   *   rejects with `QueueClosedError` if the queue is closed.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u8 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u8, capacity: 2 });
   * queue.tryPush(1);
   * queue.tryPush(2);
   * const pushed = queue.pushAsync(3, 5000);
   * assert.equal(queue.tryPop(), 1);
   * assert.equal(await pushed, true);
   * ```
   */
  async pushAsync(value: ElementInit<T>, timeoutMs: number): Promise<boolean> {
    const op = "push to queue";
    checkTimeout(op, timeoutMs);
    const staged = this.#stage(op, value);
    try {
      return await this.#waitForAsync(true, staged, 0, timeoutMs);
    } finally {
      this.#unstage(staged, value);
    }
  }

  /**
   * Removes the oldest value if there is one, without waiting. For a queue of
   * records it returns a new record in the heap that the caller destroys
   * (use {@linkcode SharedQueue.tryPopInto} to reuse one).
   *
   * @returns The value, or `undefined` if the queue is empty (closed or not).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { f64 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: f64 });
   * queue.tryPush(0.5);
   * assert.equal(queue.tryPop(), 0.5);
   * assert.equal(queue.tryPop(), undefined);
   * ```
   */
  tryPop(): ElementValue<T> | undefined {
    this.#live("pop from queue");
    if (this.#struct === null) return this.#tryPopScalar() as ElementValue<T> | undefined;
    const record = this.#struct.create(this.heap);
    if (this.#tryPopRecord(record.ptr)) return record as ElementValue<T>;
    this.#struct.destroy(this.heap, record);
    return undefined;
  }

  /**
   * Removes the oldest record into `into` (a record of the queue's type, which
   * the caller owns), without waiting and without allocating.
   *
   * @param into The record to copy into.
   * @returns `true` if a record was copied, `false` if the queue is empty.
   * @throws {TypeError} If the queue does not hold records, or `into` is not a record of its type.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { defineStruct, u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Msg = defineStruct("Msg", { id: u32 });
   * const heap = Heap.create();
   * const queue = SharedQueue.create(heap, { element: Msg });
   * const msg = Msg.create(heap, { id: 3 });
   * queue.tryPush(msg);
   * msg.id = 0;
   * assert.equal(queue.tryPopInto(msg), true);
   * assert.equal(msg.id, 3);
   * ```
   */
  tryPopInto(into: ElementValue<T>): boolean {
    return this.#tryPopRecord(this.#into("pop from queue", into));
  }

  /**
   * Removes the oldest value, waiting at most `timeoutMs` for one.
   *
   * @param timeoutMs How long to wait at most, in milliseconds (`Infinity` for no limit).
   * @returns The value (a new record for a queue of records), or `undefined` at the deadline.
   * @throws {QueueClosedError} If the queue is closed and empty (also while waiting).
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { QueueClosedError, SharedQueue } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u32 });
   * queue.push(9, 100);
   * queue.close();
   * assert.equal(queue.pop(100), 9); // drains after close
   * assert.throws(() => queue.pop(100), QueueClosedError);
   * ```
   */
  pop(timeoutMs: number): ElementValue<T> | undefined {
    checkTimeout("pop from queue", timeoutMs);
    if (this.#struct === null) {
      const ok = this.#popWait(timeoutMs, 0);
      return ok ? this.#popped as ElementValue<T> : undefined;
    }
    const record = this.#struct.create(this.heap);
    try {
      if (this.#popWait(timeoutMs, record.ptr)) return record as ElementValue<T>;
    } catch (error) {
      this.#struct.destroy(this.heap, record);
      throw error;
    }
    this.#struct.destroy(this.heap, record);
    return undefined;
  }

  /**
   * Removes the oldest record into `into`, waiting at most `timeoutMs`.
   *
   * @param into A record of the queue's type.
   * @param timeoutMs How long to wait at most, in milliseconds.
   * @returns `true` if a record was copied, `false` at the deadline.
   * @throws {QueueClosedError} If the queue is closed and empty.
   * @throws {TypeError} If `into` is not a record of the queue's type.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { defineStruct, u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const Msg = defineStruct("Msg", { id: u32 });
   * const heap = Heap.create();
   * const queue = SharedQueue.create(heap, { element: Msg });
   * queue.push({ id: 4 }, 100);
   * const msg = Msg.create(heap);
   * assert.equal(queue.popInto(msg, 100), true);
   * assert.equal(msg.id, 4);
   * assert.equal(queue.popInto(msg, 5), false);
   * ```
   */
  popInto(into: ElementValue<T>, timeoutMs: number): boolean {
    const op = "pop from queue";
    checkTimeout(op, timeoutMs);
    return this.#popWait(timeoutMs, this.#into(op, into));
  }

  /**
   * Like {@linkcode SharedQueue.pop}, but waits with `Atomics.waitAsync`, so the thread keeps running.
   *
   * @param timeoutMs How long to wait at most, in milliseconds (`Infinity` for no limit).
   * @returns A promise of the value, or `undefined` at the deadline; it rejects
   *   with `QueueClosedError` if the queue is closed and empty.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u32 });
   * const popped = queue.popAsync(5000);
   * queue.tryPush(8);
   * assert.equal(await popped, 8);
   * ```
   */
  async popAsync(timeoutMs: number): Promise<ElementValue<T> | undefined> {
    checkTimeout("pop from queue", timeoutMs);
    const struct = this.#struct;
    const record = struct === null ? null : struct.create(this.heap);
    let ok = false;
    try {
      ok = await this.#waitForAsync(false, 0, record === null ? 0 : record.ptr, timeoutMs);
      return ok ? this.#result(record) : undefined;
    } finally {
      if (!ok && record !== null) (struct as AnyStructType).destroy(this.heap, record);
    }
  }

  /**
   * Closes the queue: pushes fail from now on, pops drain what is left and
   * then fail, and every worker waiting in `push`/`pop` wakes up at once.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { QueueClosedError, SharedQueue } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u32 });
   * const waiting = queue.popAsync(60_000);
   * queue.close();
   * await assert.rejects(waiting, QueueClosedError);
   * ```
   */
  close(): void {
    this.#live("close queue");
    const i32 = this.#v.i32;
    const hw = this.#hw;
    Atomics.store(i32, hw + H_CLOSED, 1);
    Atomics.add(i32, hw + H_NOT_EMPTY, 1);
    Atomics.add(i32, hw + H_NOT_FULL, 1);
    Atomics.notify(i32, hw + H_NOT_EMPTY);
    Atomics.notify(i32, hw + H_NOT_FULL);
  }

  /**
   * Frees the queue. Call it only once no worker uses the queue any more.
   *
   * @throws {CollectionStateError} If the queue was already destroyed.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   * import assert from "node:assert/strict";
   *
   * const heap = Heap.create();
   * SharedQueue.create(heap, { element: u32 }).destroy();
   * assert.equal(heap.stats().liveAllocations, 0);
   * ```
   */
  destroy(): void {
    this.#live("destroy queue");
    const i32 = this.#v.i32;
    if (Atomics.compareExchange(i32, this.#hw + H_MAGIC, MAGIC, DEAD) !== MAGIC) {
      throw new CollectionStateError("destroy queue", this.ptr, "was destroyed");
    }
    if (this.#struct !== null) this.#struct.arrayAt(this.heap, this.#data).destroy();
    this.heap.free(this.ptr);
  }

  /**
   * Verifies the queue's invariants: positions within one capacity of each
   * other, and every cell's sequence consistent with them. Run it when no
   * worker is pushing or popping.
   *
   * @throws {HeapCorruptionError} Naming the first broken invariant.
   *
   * @example
   * ```ts
   * import { Heap } from "@typedheap/typedheap";
   * import { SharedQueue } from "@typedheap/typedheap/collections";
   * import { u32 } from "@typedheap/typedheap/structs";
   *
   * const queue = SharedQueue.create(Heap.create(), { element: u32, capacity: 4 });
   * for (let i = 0; i < 10; i++) {
   *   queue.tryPush(i);
   *   queue.tryPop();
   * }
   * queue.check();
   * ```
   */
  check(): void {
    this.#live("check queue");
    const i32 = this.#v.i32;
    const hw = this.#hw;
    const enq = Atomics.load(i32, hw + H_ENQ);
    const deq = Atomics.load(i32, hw + H_DEQ);
    const n = (enq - deq) | 0;
    if (n < 0 || n > this.capacity) {
      throw new HeapCorruptionError(
        `queue holds ${n} elements, capacity ${this.capacity}`,
        this.ptr,
      );
    }
    for (let pos = deq, k = 0; k < this.capacity; k++, pos = (pos + 1) | 0) {
      const seq = Atomics.load(i32, hw + H_SEQ + (pos & this.#mask));
      const want = k < n ? (pos + 1) | 0 : pos;
      if (seq !== want) {
        throw new HeapCorruptionError(
          `queue cell ${pos & this.#mask} has sequence ${seq}, expected ${want}`,
          this.ptr,
        );
      }
    }
  }

  // -------------------------------------------------------------------------

  #popped: ScalarValue = 0;
  /** The last value seen to be a record of the element type (views are never retyped). */
  #known: unknown = null;

  #live(operation: string): void {
    if (this.#v.u32[this.#hw + H_MAGIC] !== MAGIC) {
      throw new CollectionStateError(operation, this.ptr, "is not a live queue (it was destroyed)");
    }
  }

  /** Checks a value before any cell is claimed; for records returns the pointer to copy from. */
  #stage(op: string, value: unknown): ScalarValue | number {
    this.#live(op);
    const struct = this.#struct;
    if (struct === null) {
      checkScalar(op, this.#code, value);
      return value as ScalarValue;
    }
    // The same record pushed again (the usual loop) skips the type test.
    if (value === this.#known || struct.is(value)) {
      this.#known = value;
      return (value as { ptr: number }).ptr;
    }
    if (typeof value !== "object" || value === null) {
      throw new TypeError(
        `Cannot ${op}: value must be a ${struct.name} record or field values: ${describe(value)}`,
      );
    }
    return struct.create(this.heap, value as never).ptr; // validates; freed by #unstage
  }

  #unstage(staged: ScalarValue | number, value: unknown): void {
    const struct = this.#struct;
    if (struct !== null && value !== this.#known && !struct.is(value)) {
      this.heap.free(staged as number);
    }
  }

  #into(op: string, into: unknown): number {
    this.#live(op);
    const struct = this.#struct;
    if (struct === null) {
      throw new TypeError(
        `Cannot ${op}: the queue holds ${KIND_NAMES[this.#code]} values, not records`,
      );
    }
    if (into !== this.#known && !struct.is(into)) {
      throw new TypeError(`Cannot ${op}: into must be a ${struct.name} record: ${describe(into)}`);
    }
    this.#known = into;
    return (into as { ptr: number }).ptr;
  }

  #result(record: { ptr: number } | null): ElementValue<T> {
    return (record === null ? this.#popped : record) as ElementValue<T>;
  }

  /** One push attempt (Vyukov): false if the queue is full. */
  #tryPush(staged: ScalarValue | number): boolean {
    const v = this.#v;
    const i32 = v.i32;
    const hw = this.#hw;
    const mask = this.#mask;
    let pos = Atomics.load(i32, hw + H_ENQ);
    for (let tries = 0; tries < RETRY_LIMIT; tries++) {
      const cell = pos & mask;
      const dif = (Atomics.load(i32, hw + H_SEQ + cell) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(i32, hw + H_ENQ, pos, (pos + 1) | 0);
        if (seen === pos) {
          const size = this.#size;
          const at = this.#data + cell * size;
          if (this.#struct === null) writeScalar(v, this.#code, at, staged as ScalarValue);
          else {
            if ((staged as number) + size > v.bytes) v.refresh();
            copyRecord(v, at, staged as number, size);
          }
          Atomics.store(i32, hw + H_SEQ + cell, (pos + 1) | 0);
          // Likewise a sleeping consumer is woken when the ring stops being empty.
          const sleepers = Atomics.load(i32, hw + H_WAIT_CONSUMERS);
          if (sleepers > 1 || (sleepers === 1 && Atomics.load(i32, hw + H_DEQ) === pos)) {
            Atomics.add(i32, hw + H_NOT_EMPTY, 1);
            Atomics.notify(i32, hw + H_NOT_EMPTY, 1);
          }
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(i32, hw + H_ENQ);
      }
    }
    return false;
  }

  /** One pop attempt into `into` (a record pointer) or `#popped` (0): false if empty. */
  #tryPopTo(into: number): boolean {
    const v = this.#v;
    const i32 = v.i32;
    const hw = this.#hw;
    const mask = this.#mask;
    let pos = Atomics.load(i32, hw + H_DEQ);
    for (let tries = 0; tries < RETRY_LIMIT; tries++) {
      const cell = pos & mask;
      const next = (pos + 1) | 0;
      const dif = (Atomics.load(i32, hw + H_SEQ + cell) - next) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(i32, hw + H_DEQ, pos, next);
        if (seen === pos) {
          const size = this.#size;
          const at = this.#data + cell * size;
          if (into === 0) this.#popped = readScalar(v, this.#code, at);
          else {
            if (into + size > v.bytes) v.refresh();
            copyRecord(v, into, at, size);
          }
          Atomics.store(i32, hw + H_SEQ + cell, (pos + mask + 1) | 0);
          // A sleeping producer is woken when the ring stops being full (or when
          // several sleep), not at every pop: it then pushes while it runs, so
          // one wake-up carries many pushes. A producer that registers after this
          // check saw this cell free when it retried, so none is left asleep.
          const sleepers = Atomics.load(i32, hw + H_WAIT_PRODUCERS);
          if (
            sleepers > 1 ||
            (sleepers === 1 && ((Atomics.load(i32, hw + H_ENQ) - pos) | 0) >= this.capacity)
          ) {
            Atomics.add(i32, hw + H_NOT_FULL, 1);
            Atomics.notify(i32, hw + H_NOT_FULL, 1);
          }
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(i32, hw + H_DEQ);
      }
    }
    return false;
  }

  #tryPopScalar(): ScalarValue | undefined {
    return this.#tryPopTo(0) ? this.#popped : undefined;
  }

  #tryPopRecord(into: number): boolean {
    this.#live("pop from queue");
    return this.#tryPopTo(into);
  }

  /** The blocking pop; `into` is 0 for a scalar queue. */
  #popWait(timeoutMs: number, into: number): boolean {
    this.#live("pop from queue");
    return this.#tryPopTo(into) || this.#waitFor(false, 0, into, timeoutMs);
  }
}

/** Copies a record of `size` bytes; whole words when both ends allow (the common case). */
function copyRecord(v: Views, to: number, from: number, size: number): void {
  if (((to | from | size) & 3) === 0 && size <= 64) {
    const u32 = v.u32;
    const a = to >>> 2;
    const b = from >>> 2;
    for (let i = 0; i < size >>> 2; i++) u32[a + i] = u32[b + i];
  } else {
    v.u8.copyWithin(to, from, from + size);
  }
}
