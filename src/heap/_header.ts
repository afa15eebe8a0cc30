/**
 * Header validation: what `Heap.attach` checks before trusting a buffer,
 * what `check()` verifies of the header, and the argument checks of the
 * allocation API (sizes, alignments, byte counts).
 *
 * @module
 */

import { arenaCheck } from "../alloc/arena_check.ts";
import { checkSlabLocked } from "../alloc/slab_check.ts";
import { CACHE_AFTER_WAITS, CACHE_NEVER } from "../alloc/arena_cache.ts";
import type { SlabAllocator } from "../alloc/slab_local.ts";
import { HeapCorruptionError, HeapFormatError } from "../errors.ts";
import {
  FORMAT_VERSION,
  H_BASE_OFFSET,
  H_DEBUG,
  H_HEADER_BYTES,
  H_HEAP_BYTES,
  H_KEY,
  H_LAST_WORKER,
  H_LIVE,
  H_LOCK,
  H_LOCK_TIMEOUT_MS,
  H_MAGIC,
  H_MAX_BYTES,
  H_ROOTS,
  H_VERSION,
  HEADER_BYTES,
  LOCK_CUT_OWNER,
  MAGIC,
  MAX_ALIGN,
  MIN_HEAP_BYTES,
} from "./layout.ts";
import { rootsProblem } from "./roots.ts";

/** The largest worker id a heap hands out. */
export const MAX_WORKER_ID = (1 << 29) - 1;

/** `n` rounded up to a multiple of 8. */
export function roundUp8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Validates a byte count option of `Heap.create` (a non-negative integer) and returns it. */
export function checkByteCount(name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(`Cannot create heap: ${name} must be a number: ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`Cannot create heap: ${name} must be a non-negative integer: ${value}`);
  }
  return value;
}

/**
 * Validates `AttachOptions.arenaCache`; returns the handle's initial count of
 * heap-lock waits toward starting its cache (see `CACHE_AFTER_WAITS`).
 */
export function checkArenaCache(arenaCache: unknown): number {
  if (arenaCache === undefined) return 0;
  if (typeof arenaCache !== "boolean") {
    throw new TypeError(`Cannot attach heap: arenaCache must be a boolean: ${typeof arenaCache}`);
  }
  return arenaCache ? CACHE_AFTER_WAITS : CACHE_NEVER;
}

/** Throws unless `sizeBytes` is a size the allocation API takes: an integer in [0, 2^32). */
export function checkSize(operation: string, sizeBytes: unknown): void {
  if (typeof sizeBytes !== "number") {
    throw new TypeError(`Cannot ${operation}: size must be a number: ${typeof sizeBytes}`);
  }
  if (!Number.isInteger(sizeBytes) || sizeBytes < 0 || sizeBytes > 0xffffffff) {
    throw new RangeError(`Cannot ${operation}: size must be an integer in [0, 2^32): ${sizeBytes}`);
  }
}

/** Validates an alignment and returns its log2 (at least 3: every block is 8-aligned). */
export function checkAlign(alignBytes: unknown): number {
  if (typeof alignBytes !== "number") {
    throw new TypeError(`Cannot allocate: alignment must be a number: ${typeof alignBytes}`);
  }
  if (
    !Number.isInteger(alignBytes) || alignBytes < 1 || alignBytes > MAX_ALIGN ||
    (alignBytes & (alignBytes - 1)) !== 0
  ) {
    throw new RangeError(
      `Cannot allocate: alignment must be a power of two in [1, ${MAX_ALIGN}]: ${alignBytes}`,
    );
  }
  return alignBytes <= 8 ? 3 : 31 - Math.clz32(alignBytes);
}

/**
 * Throws `HeapFormatError` unless the header words `u32` (a view of the
 * heap's first words) name a heap of this format: magic, version, header
 * size and a key. Never writes.
 */
export function checkHeaderIdentity(u32: Uint32Array): void {
  if (u32[H_MAGIC] !== MAGIC) {
    throw new HeapFormatError("magic", u32[H_MAGIC], "does not mark a typedheap heap");
  }
  if (u32[H_VERSION] !== FORMAT_VERSION) {
    throw new HeapFormatError("version", u32[H_VERSION], `is not format version ${FORMAT_VERSION}`);
  }
  if (u32[H_HEADER_BYTES] !== HEADER_BYTES) {
    throw new HeapFormatError("headerBytes", u32[H_HEADER_BYTES], `is not ${HEADER_BYTES}`);
  }
  if (u32[H_KEY] === 0 || u32[H_KEY] >= 2 ** 30) {
    throw new HeapFormatError("key", u32[H_KEY], "is not a heap key in [1, 2^30)");
  }
}

/** Throws `HeapFormatError` unless `buffer` holds a heap of this format. Never writes. */
export function validateHeader(buffer: unknown): void {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new HeapFormatError("buffer", buffer, "is not a SharedArrayBuffer");
  }
  if (!buffer.growable) throw new HeapFormatError("buffer", buffer, "is not growable");
  if (buffer.byteLength < MIN_HEAP_BYTES) {
    throw new HeapFormatError("byteLength", buffer.byteLength, "is too small for a heap");
  }
  const u32 = new Uint32Array(buffer, 0, HEADER_BYTES / 4);
  checkHeaderIdentity(u32);
  if (u32[H_DEBUG] > 1) throw new HeapFormatError("debug", u32[H_DEBUG], "is not 0 or 1");
  const heapBytes = u32[H_HEAP_BYTES];
  const maxBytes = u32[H_MAX_BYTES];
  if (heapBytes < MIN_HEAP_BYTES || heapBytes % 8 !== 0 || heapBytes > buffer.byteLength) {
    throw new HeapFormatError(
      "heapBytes",
      heapBytes,
      `is inconsistent with a buffer of ${buffer.byteLength} bytes`,
    );
  }
  if (maxBytes < heapBytes || maxBytes > buffer.maxByteLength) {
    throw new HeapFormatError(
      "maxBytes",
      maxBytes,
      `is inconsistent with a buffer whose maxByteLength is ${buffer.maxByteLength}`,
    );
  }
  const problem = headerWordsProblem(u32);
  if (problem !== null) throw new HeapFormatError(problem.field, problem.value, problem.reason);
}

/**
 * Checks the header words a handle trusts when it attaches (worker ids, lock
 * timeout, lock owner); returns what is wrong, or null.
 */
export function headerWordsProblem(
  u32: Uint32Array,
): { field: string; value: number; reason: string } | null {
  const last = u32[H_LAST_WORKER];
  if (last > MAX_WORKER_ID) {
    return { field: "lastWorkerId", value: last, reason: `is outside [0, ${MAX_WORKER_ID}]` };
  }
  const timeout = u32[H_LOCK_TIMEOUT_MS];
  if (timeout === 0) {
    return { field: "lockTimeoutMs", value: timeout, reason: "is 0 (every wait must be bounded)" };
  }
  let owner = u32[H_LOCK] >>> 1;
  if (owner >= LOCK_CUT_OWNER) owner -= LOCK_CUT_OWNER; // the cut state names the worker
  if (owner > last) {
    return {
      field: "lock",
      value: u32[H_LOCK],
      reason: `names a worker above the last id ${last}`,
    };
  }
  return null;
}

/** Checks the header and the arena; with `slab`, also every slab page (needs quiet workers). */
export function checkHeapLocked(s: SlabAllocator, slab = true): void {
  const u32 = s.u32;
  const heapBytes = u32[H_HEAP_BYTES];
  if (u32[H_MAGIC] !== MAGIC) throw new HeapCorruptionError("magic number overwritten", 0);
  if (u32[H_VERSION] !== FORMAT_VERSION) throw new HeapCorruptionError("version overwritten", 4);
  if (u32[H_BASE_OFFSET] !== s.base) {
    throw new HeapCorruptionError(`base offset ${u32[H_BASE_OFFSET]} is not ${s.base}`, 0);
  }
  if (
    heapBytes > s.buffer.byteLength - s.base || heapBytes % 8 !== 0 ||
    heapBytes > u32[H_MAX_BYTES]
  ) {
    throw new HeapCorruptionError(`heap size ${heapBytes} is inconsistent`, H_HEAP_BYTES * 4);
  }
  const problem = headerWordsProblem(u32);
  if (problem !== null) {
    throw new HeapCorruptionError(
      `header ${problem.field} ${problem.reason}: ${problem.value}`,
      0,
    );
  }
  if (s.workerId > u32[H_LAST_WORKER]) {
    throw new HeapCorruptionError(
      `last worker id ${u32[H_LAST_WORKER]} is below this handle's id ${s.workerId}`,
      H_LAST_WORKER * 4,
    );
  }
  const used = arenaCheck(u32);
  if (used !== u32[H_LIVE]) {
    throw new HeapCorruptionError(
      `live counter ${u32[H_LIVE]} != ${used} used chunks`,
      H_LIVE * 4,
    );
  }
  const roots = rootsProblem(u32, heapBytes);
  if (roots !== "") throw new HeapCorruptionError(roots, H_ROOTS * 4);
  if (slab) checkSlabLocked(s);
}
