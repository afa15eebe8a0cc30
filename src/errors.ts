/**
 * Typed errors raised by typedheap. Each carries the offending value so a
 * caller can react to it without parsing the message.
 *
 * @module
 */

/**
 * The heap could not satisfy an allocation, even after growing to its maximum size.
 *
 * @example Catching an out-of-memory error
 * ```ts
 * import { Heap, OutOfMemoryError } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 * 1024 });
 * assert.throws(() => heap.alloc(1024 * 1024), OutOfMemoryError);
 * ```
 */
export class OutOfMemoryError extends Error {
  /** The number of bytes that were requested. */
  readonly sizeBytes: number;
  /** The requested alignment in bytes. */
  readonly alignBytes: number;

  /**
   * Creates an out-of-memory error.
   *
   * @param sizeBytes The requested size in bytes.
   * @param alignBytes The requested alignment in bytes.
   * @param heapBytes The heap size at the time of the failure.
   */
  constructor(sizeBytes: number, alignBytes: number, heapBytes: number) {
    super(
      `Cannot allocate ${sizeBytes} bytes (alignment ${alignBytes}): out of memory in a heap of ${heapBytes} bytes`,
    );
    this.name = "OutOfMemoryError";
    this.sizeBytes = sizeBytes;
    this.alignBytes = alignBytes;
  }
}

/**
 * A value passed as a pointer is not the start of a live block of this heap.
 *
 * @example Freeing a pointer that was never allocated
 * ```ts
 * import { Heap, InvalidPointerError } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const ptr = heap.alloc(64);
 * assert.throws(() => heap.free(ptr + 8), InvalidPointerError);
 * ```
 */
export class InvalidPointerError extends Error {
  /** The offending value. */
  readonly ptr: unknown;

  /**
   * Creates an invalid-pointer error.
   *
   * @param operation What was attempted, such as `"free"`.
   * @param ptr The offending value.
   * @param reason Why the value is not a valid pointer.
   */
  constructor(operation: string, ptr: unknown, reason: string) {
    super(`Cannot ${operation} pointer: ${describe(ptr)} ${reason}`);
    this.name = "InvalidPointerError";
    this.ptr = ptr;
  }
}

/**
 * A block was freed (or used) after it had already been freed.
 *
 * @example Freeing twice
 * ```ts
 * import { DoubleFreeError, Heap } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const ptr = heap.alloc(64);
 * heap.free(ptr);
 * assert.throws(() => heap.free(ptr), DoubleFreeError);
 * ```
 */
export class DoubleFreeError extends Error {
  /** The pointer that was already free. */
  readonly ptr: number;

  /**
   * Creates a double-free error.
   *
   * @param operation What was attempted, such as `"free"`.
   * @param ptr The pointer that was already free.
   */
  constructor(operation: string, ptr: number) {
    super(`Cannot ${operation} pointer: ${ptr} was already freed`);
    this.name = "DoubleFreeError";
    this.ptr = ptr;
  }
}

/**
 * A freed block was written after its free: found in debug mode
 * (`Heap.create({ debug: true })`) when the block leaves the quarantine, at
 * `check()`, or when the freed pointer is used again.
 *
 * @example A write after free, found by check()
 * ```ts
 * import { Heap, UseAfterFreeError } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create({ debug: true });
 * const ptr = heap.alloc(64);
 * heap.free(ptr); // poisoned and held in the quarantine
 * heap.u8[ptr + 10] = 1; // a write after free
 * assert.throws(() => heap.check(), UseAfterFreeError);
 * ```
 */
export class UseAfterFreeError extends Error {
  /** The freed block that was written. */
  readonly ptr: number;
  /** The first byte found changed. */
  readonly at: number;

  /**
   * Creates a use-after-free error.
   *
   * @param ptr The freed block.
   * @param at The first changed byte.
   */
  constructor(ptr: number, at: number) {
    super(`Block ${ptr} was written after it was freed (byte ${at} changed)`);
    this.name = "UseAfterFreeError";
    this.ptr = ptr;
    this.at = at;
  }
}

/**
 * A heap invariant does not hold: the heap's bytes were overwritten or an
 * operation was interrupted. Thrown by `check()` with the first broken invariant.
 *
 * @example Detecting an overwritten boundary tag
 * ```ts
 * import { Heap, HeapCorruptionError } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const ptr = heap.alloc(4096); // an arena block (blocks up to 1 KiB live in slab pages)
 * heap.u32[(ptr - 8) >>> 2] = 12345; // scribble over the block's header
 * assert.throws(() => heap.check(), HeapCorruptionError);
 * ```
 */
export class HeapCorruptionError extends Error {
  /** The byte offset at which the broken invariant was found (0 if not tied to one place). */
  readonly offset: number;

  /**
   * Creates a heap-corruption error.
   *
   * @param invariant What is broken.
   * @param offset The byte offset where it was found.
   */
  constructor(invariant: string, offset: number) {
    super(`Heap is corrupted: ${invariant} at offset ${offset}`);
    this.name = "HeapCorruptionError";
    this.offset = offset;
  }
}

/**
 * `Heap.recover` refused: the worker it was asked to recover showed heap
 * activity while `recover` watched it, so it is still running. Nothing was changed.
 *
 * @example Telling a live worker from a dead one
 * ```ts
 * import { WorkerAliveError } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const err: unknown = new WorkerAliveError(3, "its heartbeat changed");
 * // recover() throws this when the worker is still running: try again after it stopped
 * assert.ok(err instanceof WorkerAliveError && err.workerId === 3);
 * ```
 */
export class WorkerAliveError extends Error {
  /** The worker that is still running. */
  readonly workerId: number;

  /**
   * Creates a worker-alive error.
   *
   * @param workerId The worker `recover` was asked to recover.
   * @param evidence What showed that it is running.
   */
  constructor(workerId: number, evidence: string) {
    super(`Cannot recover worker: ${workerId} is still running: ${evidence}`);
    this.name = "WorkerAliveError";
    this.workerId = workerId;
  }
}

/**
 * A buffer handed to `Heap.attach` is not a heap of this format.
 *
 * @example Attaching to a buffer that holds no heap
 * ```ts
 * import { Heap, HeapFormatError } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const buffer = new SharedArrayBuffer(4096, { maxByteLength: 8192 });
 * assert.throws(() => Heap.attach(buffer), HeapFormatError);
 * ```
 */
export class HeapFormatError extends Error {
  /** The field of the header that did not match. */
  readonly field: string;
  /** The value found in the buffer (or the buffer itself when it is not a buffer). */
  readonly value: unknown;

  /**
   * Creates a heap-format error.
   *
   * @param field The header field or property that did not match.
   * @param value The value that was found.
   * @param reason Why the value is not acceptable.
   */
  constructor(field: string, value: unknown, reason: string) {
    super(`Cannot attach heap: ${field} ${reason}: ${describe(value)}`);
    this.name = "HeapFormatError";
    this.field = field;
    this.value = value;
  }
}

function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "object") {
    return (value as object).constructor?.name ?? "object";
  }
  return typeof value;
}
