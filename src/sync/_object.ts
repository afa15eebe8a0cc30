/**
 * Shared helpers for the lock objects that live in heap words (`Mutex`,
 * `Condition`, `Semaphore`): magic words, pointer checks, argument checks.
 *
 * @module
 */

import { InvalidPointerError } from "../errors.ts";
import type { LockHost } from "./_host.ts";

/** Magic word of a mutex: "MUTX". */
export const MUTEX_MAGIC = 0x4d555458;
/** Magic word of a condition: "COND". */
export const CONDITION_MAGIC = 0x434f4e44;
/** Magic word of a semaphore: "SEMA". */
export const SEMAPHORE_MAGIC = 0x53454d41;
/** Exclusive upper bound of worker ids (the lock word stores `id << 1`). */
export const WORKER_ID_LIMIT = 2 ** 29;

/**
 * Checks that `host` has a usable worker id.
 *
 * @returns The worker id.
 */
export function checkedWorkerId(host: LockHost, operation: string): number {
  const id = host.workerId;
  if (!Number.isInteger(id) || id < 1 || id >= WORKER_ID_LIMIT) {
    throw new RangeError(`Cannot ${operation}: worker id must be an integer in [1, 2^29): ${id}`);
  }
  return id;
}

/**
 * Allocates `byteLength` bytes for a lock object and writes its magic word last,
 * after the state words (which start at zero), so `at` never sees a half-made object.
 *
 * @returns The pointer to the object.
 */
export function allocObject(host: LockHost, magic: number, byteLength: number): number {
  const ptr = host.alloc(byteLength, 8);
  const i32 = host.i32;
  const first = ptr >>> 2;
  for (let i = 1; i < byteLength >>> 2; i++) Atomics.store(i32, first + i, 0);
  Atomics.store(i32, first, magic);
  return ptr;
}

/**
 * Checks that `ptr` points at a live lock object of the given kind.
 *
 * @throws {InvalidPointerError} If `ptr` is out of range, misaligned or holds another magic word.
 */
export function checkObject(
  host: LockHost,
  ptr: number,
  magic: number,
  kind: string,
  byteLength: number,
): void {
  const operation = `open ${kind} at`;
  if (typeof ptr !== "number" || !Number.isInteger(ptr) || ptr <= 0) {
    throw new InvalidPointerError(operation, ptr, "is not a positive integer offset");
  }
  if ((ptr & 7) !== 0) throw new InvalidPointerError(operation, ptr, "is not 8-aligned");
  if (ptr + byteLength > host.i32.byteLength) {
    throw new InvalidPointerError(
      operation,
      ptr,
      `is outside the heap of ${host.i32.byteLength} bytes`,
    );
  }
  const found = Atomics.load(host.i32, ptr >>> 2);
  if (found !== magic) {
    throw new InvalidPointerError(
      operation,
      ptr,
      `does not hold ${kind}: magic word is 0x${(found >>> 0).toString(16).padStart(8, "0")}`,
    );
  }
}

/**
 * A fixed-length `Int32Array` over just the words of one lock object.
 *
 * V8 compiles `Atomics` on a length-tracking view of a growable buffer to a
 * runtime call, about 3-4x slower than on a fixed-length view; a fixed-length
 * view over part of the growable buffer is as fast as a plain one, and stays
 * valid because a growable `SharedArrayBuffer` never shrinks.
 */
export function wordsView(host: LockHost, ptr: number, byteLength: number): Int32Array {
  const i32 = host.i32;
  return new Int32Array(i32.buffer, i32.byteOffset + ptr, byteLength >>> 2);
}

/**
 * Clears the magic word of a lock object and frees it.
 */
export function freeObject(host: LockHost, ptr: number): void {
  Atomics.store(host.i32, ptr >>> 2, 0);
  host.free(ptr);
}

/**
 * Checks a timeout argument.
 *
 * @throws {RangeError} If `timeoutMs` is not a non-negative number (NaN included).
 */
export function checkTimeout(operation: string, timeoutMs: number): void {
  if (!(timeoutMs >= 0)) {
    throw new RangeError(
      `Cannot ${operation}: timeout must be a non-negative number of milliseconds: ${timeoutMs}`,
    );
  }
}
