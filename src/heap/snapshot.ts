/**
 * Snapshots: a heap's bytes up to the end of its last used chunk, and the
 * checks and fix-ups that turn such bytes back into a heap buffer.
 *
 * A snapshot is the heap buffer from offset 0 to `end`, where `end` is the
 * heap size when the last chunk is used, and otherwise the start of the free
 * tail chunk plus 16 bytes (its header, tag and two free-list links, which the
 * bins point at). Restoring writes the tail chunk's footer and the epilogue
 * fence again, so the free tail is one free chunk as before and no byte after
 * `end` needs to be stored.
 *
 * @module
 */

import { checkLockTimeoutMs } from "./_options.ts";
import { arenaTailFreeBytes, freeTag } from "../alloc/arena.ts";
import { HeapFormatError } from "../errors.ts";
import { checkBaseOffset, growMemoryFor, isWasmMemory, memoryBuffer } from "./_backing.ts";
import type { WasmMemory } from "./heap.ts";
import {
  EPILOGUE_BYTES,
  FORMAT_VERSION,
  H_BASE_OFFSET,
  H_HEADER_BYTES,
  H_HEAP_BYTES,
  H_KEY,
  H_LAST_WORKER,
  H_LOCK,
  H_LOCK_TIMEOUT_MS,
  H_MAGIC,
  H_MAX_BYTES,
  H_VERSION,
  HEADER_BYTES,
  MAGIC,
  MAX_HEAP_BYTES,
  MIN_HEAP_BYTES,
  USED_BIT,
} from "./layout.ts";

/** Bytes of the free tail chunk kept in a snapshot: header, tag and both links. */
const TAIL_KEPT_BYTES = 16;

/**
 * Options for {@linkcode Heap.restore}.
 *
 * @example Restoring with more room to grow
 * ```ts
 * import { Heap, type RestoreOptions } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create({ maxBytes: 4 << 20 });
 * const options: RestoreOptions = { maxBytes: 16 << 20 };
 * const copy = Heap.restore(heap.snapshot(), options);
 * assert.equal(copy.stats().maxBytes, 16 << 20);
 * ```
 */
export interface RestoreOptions {
  /**
   * Largest size the restored heap may grow to, in bytes (at least the heap
   * size recorded in the snapshot, at most 4 GiB - 8).
   *
   * @default {the snapshot heap's maxBytes}
   */
  maxBytes?: number;
  /**
   * The heap lock timeout of the restored heap, as in `HeapOptions.lockTimeoutMs`.
   *
   * @default {the snapshot heap's lockTimeoutMs}
   */
  lockTimeoutMs?: number;
  /**
   * A shared `WebAssembly.Memory` to restore the heap into (at `baseOffset`)
   * instead of a new `SharedArrayBuffer`; it grows when it is too small. The
   * snapshot must come from a heap at that same `baseOffset` (its pointers
   * are addresses), and the memory below `baseOffset` is not written.
   *
   * @default {undefined}
   */
  memory?: WasmMemory;
  /**
   * Where the heap goes in `memory`: a multiple of 64 KiB.
   *
   * @default {0}
   */
  baseOffset?: number;
}

/** Where a snapshot of the heap in `u32` ends (heap lock held). */
export function snapshotEnd(u32: Uint32Array): number {
  const heapBytes = u32[H_HEAP_BYTES];
  const tail = arenaTailFreeBytes(u32);
  return tail === 0 ? heapBytes : heapBytes - EPILOGUE_BYTES - tail + TAIL_KEPT_BYTES;
}

/** A validated snapshot: what the new buffer needs. */
interface SnapshotInfo {
  heapBytes: number;
  maxBytes: number;
  lockTimeoutMs: number;
}

function formatError(field: string, value: unknown, reason: string): HeapFormatError {
  return new HeapFormatError(`snapshot ${field}`, value, reason);
}

/** Validates `bytes` as a snapshot of this format; reads only, throws `HeapFormatError`. */
function readSnapshot(bytes: unknown, options: RestoreOptions, baseOffset: number): SnapshotInfo {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot restore heap: snapshot must be a Uint8Array: ${
        bytes === null ? "null" : typeof bytes
      }`,
    );
  }
  const length = bytes.length;
  if (length < HEADER_BYTES + TAIL_KEPT_BYTES) {
    throw formatError("length", length, "is too short to hold a heap (truncated?)");
  }
  // A DataView: a Node Buffer read from a file may start at any byte offset.
  const dv = new DataView(bytes.buffer, bytes.byteOffset, length);
  const word = (index: number): number => dv.getUint32(index * 4, true);
  if (word(H_MAGIC) !== MAGIC) {
    throw formatError("magic", word(H_MAGIC), "does not mark a typedheap heap (foreign data)");
  }
  const version = word(H_VERSION);
  if (version > FORMAT_VERSION) {
    throw formatError(
      "version",
      version,
      `is newer than this library's format version ${FORMAT_VERSION} (upgrade typedheap)`,
    );
  }
  if (version !== FORMAT_VERSION) {
    throw formatError("version", version, `is not format version ${FORMAT_VERSION}`);
  }
  if (word(H_HEADER_BYTES) !== HEADER_BYTES) {
    throw formatError("headerBytes", word(H_HEADER_BYTES), `is not ${HEADER_BYTES}`);
  }
  if (word(H_BASE_OFFSET) !== baseOffset) {
    throw formatError(
      "baseOffset",
      word(H_BASE_OFFSET),
      `is not ${baseOffset}: the heap's pointers are addresses at the offset it lived at ` +
        "(restore it into a WebAssembly.Memory with that baseOffset)",
    );
  }
  if (word(H_KEY) === 0 || word(H_KEY) >= 2 ** 30) {
    throw formatError("key", word(H_KEY), "is not a heap key in [1, 2^30)");
  }
  const heapBytes = word(H_HEAP_BYTES);
  if (heapBytes < MIN_HEAP_BYTES || heapBytes % 8 !== 0 || heapBytes > MAX_HEAP_BYTES) {
    throw formatError("heapBytes", heapBytes, "is not a valid heap size");
  }
  if (length > heapBytes) {
    throw formatError("length", length, `is longer than the heap it holds (${heapBytes} bytes)`);
  }
  if (length === heapBytes) {
    if (word((heapBytes - EPILOGUE_BYTES) / 4) !== USED_BIT) {
      throw formatError("length", length, "does not end with the heap's epilogue fence");
    }
  } else {
    // Trimmed: the last 16 bytes must be the head of the free tail chunk that
    // runs to the epilogue. Anything cut elsewhere (a truncated file) fails here.
    const c = length - TAIL_KEPT_BYTES;
    const sizeBytes = c % 8 === 0 ? word(c / 4) : 0;
    if (
      c % 8 !== 0 || (sizeBytes & USED_BIT) !== 0 || c + sizeBytes !== heapBytes - EPILOGUE_BYTES ||
      word(c / 4 + 1) !== freeTag(word(H_KEY), c, sizeBytes)
    ) {
      throw formatError(
        "length",
        length,
        `does not end at the free tail of a ${heapBytes}-byte heap (truncated?)`,
      );
    }
  }
  const maxBytes = options.maxBytes ?? word(H_MAX_BYTES);
  if (typeof maxBytes !== "number" || !Number.isInteger(maxBytes)) {
    throw new TypeError(`Cannot restore heap: maxBytes must be an integer: ${maxBytes}`);
  }
  if (maxBytes < heapBytes || maxBytes > MAX_HEAP_BYTES || maxBytes % 8 !== 0) {
    if (options.maxBytes === undefined) {
      throw formatError("maxBytes", maxBytes, `is inconsistent with a ${heapBytes}-byte heap`);
    }
    throw new RangeError(
      `Cannot restore heap: maxBytes must be a multiple of 8 in [${heapBytes}, ${MAX_HEAP_BYTES}]: ${maxBytes}`,
    );
  }
  const lockTimeoutMs = options.lockTimeoutMs ?? word(H_LOCK_TIMEOUT_MS);
  checkLockTimeoutMs("restore heap", lockTimeoutMs);
  return { heapBytes, maxBytes, lockTimeoutMs };
}

/**
 * Validates a snapshot and copies it into a new growable `SharedArrayBuffer`
 * with the free tail, the epilogue, a free heap lock and a fresh worker-id
 * counter. The slab pages still name the old process's workers: the caller
 * hands them over before anyone allocates.
 */
export function restoreBuffer(bytes: unknown, options: RestoreOptions = {}): SharedArrayBuffer {
  const info = readSnapshot(bytes, options, 0);
  const buffer = new SharedArrayBuffer(info.heapBytes, { maxByteLength: info.maxBytes });
  writeHeap(new Uint32Array(buffer), bytes as Uint8Array, info);
  return buffer;
}

/**
 * `restoreBuffer` into `options.memory` at `options.baseOffset` (growing the
 * memory when it is too small); returns the buffer to view.
 */
export function restoreMemory(bytes: unknown, options: RestoreOptions): SharedArrayBuffer {
  const memory = options.memory;
  if (!isWasmMemory(memory)) {
    throw new TypeError(
      `Cannot restore heap: memory must be a WebAssembly.Memory: ${typeof memory}`,
    );
  }
  const base = checkBaseOffset("restore", options.baseOffset ?? 0);
  let buffer = memoryBuffer(memory);
  const info = readSnapshot(bytes, options, base);
  if (buffer.byteLength < base + info.heapBytes) {
    growMemoryFor("restore", memory, buffer, base + info.heapBytes);
    buffer = memoryBuffer(memory);
  }
  writeHeap(new Uint32Array(buffer, base, info.heapBytes >>> 2), bytes as Uint8Array, info);
  return buffer;
}

/** Writes a validated snapshot into `u32` (the heap's words) and resets what belonged to the old process. */
function writeHeap(u32: Uint32Array, source: Uint8Array, info: SnapshotInfo): void {
  const { heapBytes, maxBytes, lockTimeoutMs } = info;
  new Uint8Array(u32.buffer, u32.byteOffset, heapBytes).set(source);
  if (source.length < heapBytes) {
    const c = source.length - TAIL_KEPT_BYTES;
    u32[(heapBytes - EPILOGUE_BYTES - 4) >>> 2] = u32[c >>> 2]; // the tail chunk's footer
    u32[(heapBytes - EPILOGUE_BYTES) >>> 2] = USED_BIT;
    u32[(heapBytes - EPILOGUE_BYTES + 4) >>> 2] = 0;
  }
  u32[H_LOCK] = 0;
  u32[H_LAST_WORKER] = 0;
  u32[H_MAX_BYTES] = maxBytes;
  u32[H_LOCK_TIMEOUT_MS] = lockTimeoutMs;
}
