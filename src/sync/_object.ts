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
/** Magic word of a barrier: "BARR". */
export const BARRIER_MAGIC = 0x42415252;
/** Exclusive upper bound of worker ids (the lock word stores `id << 1`). */
export const WORKER_ID_LIMIT = 2 ** 29;
/** The wait limit of a lock object whose host gives none (or `0`), in milliseconds. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/**
 * What a destroyed lock object's state words hold: an owner id of `2^31 - 1`
 * with the waiters bit, which is no valid lock state, so every fast path fails.
 */
export const DEAD_WORD = -1;

/**
 * The default wait limit of lock objects made on `host`: its `lockTimeoutMs`
 * when that is a positive number, else `DEFAULT_LOCK_TIMEOUT_MS`.
 *
 * @returns The timeout in milliseconds (finite).
 */
export function defaultTimeoutMs(host: LockHost): number {
  const timeoutMs = host.lockTimeoutMs;
  return typeof timeoutMs === "number" && timeoutMs > 0 && timeoutMs < Infinity
    ? timeoutMs
    : DEFAULT_LOCK_TIMEOUT_MS;
}

/**
 * The words a handle points at once its object is destroyed: magic `0` and
 * every state word `DEAD_WORD`, in a buffer of its own, so a stale handle can
 * never write into the freed block (whoever owns it now).
 *
 * @returns A fresh view of `byteLength` bytes.
 */
export function deadWords(byteLength: number): Int32Array {
  const words = new Int32Array(new SharedArrayBuffer(byteLength));
  words.fill(DEAD_WORD, 1);
  return words;
}

/**
 * Checks that the words of a lock object still hold its magic word.
 *
 * @throws {InvalidPointerError} If the object was destroyed (through this
 *   handle, when `destroyed` is set, or through another one).
 */
export function checkLive(
  i32: Int32Array,
  magic: number,
  destroyed: boolean,
  operation: string,
  kind: string,
  ptr: number,
): void {
  if (destroyed) {
    throw new InvalidPointerError(operation, ptr, `was ${kind} destroyed through this handle`);
  }
  const found = Atomics.load(i32, 0);
  if (found !== magic) {
    throw new InvalidPointerError(
      operation,
      ptr,
      `no longer holds ${kind} (destroyed?): magic word is 0x${
        (found >>> 0).toString(16).padStart(8, "0")
      }`,
    );
  }
}

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
 * Marks a lock object dead and frees it: the state words get `DEAD_WORD` (so a
 * stale handle's fast path fails and its slow path finds no magic word),
 * sleepers on `wakeWord` are woken to see it, and the magic word is cleared.
 */
export function freeObject(
  host: LockHost,
  ptr: number,
  byteLength: number,
  wakeWord: number,
): void {
  const i32 = host.i32;
  const first = ptr >>> 2;
  Atomics.store(i32, first, 0);
  for (let i = 1; i < byteLength >>> 2; i++) Atomics.store(i32, first + i, DEAD_WORD);
  Atomics.notify(i32, first + wakeWord);
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
