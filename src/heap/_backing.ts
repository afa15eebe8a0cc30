// The memory under a heap when it is a shared `WebAssembly.Memory` rather
// than a growable `SharedArrayBuffer`: which buffer to view, how to grow it,
// and the checks at create and attach. Not exported from mod.ts.
//
// Where the engine has `memory.toResizableBuffer()` (Deno 2.9's V8), the heap
// views a growable SharedArrayBuffer over the memory that stays the same
// object as the memory grows. Where it does not (Node 20), `memory.buffer` is
// a fixed-length SharedArrayBuffer replaced by a new one on every growth, so
// the heap grows with `memory.grow` and re-reads `memory.buffer`.
//
// The heap starts at `baseOffset` (a multiple of 64 KiB, a wasm page, so its
// 16 KiB slab pages stay aligned in absolute addresses); the module's own data
// below it is never written. Pointers handed to users are absolute addresses
// in the memory; the allocator works on offsets from `baseOffset`.

import { arenaInit } from "../alloc/arena.ts";
import type { WasmMemory } from "./heap.ts";
import { HeapFormatError } from "../errors.ts";
import {
  FORMAT_VERSION,
  H_BASE_OFFSET,
  H_HEADER_BYTES,
  H_HEAP_BYTES,
  H_KEY,
  H_LOCK_TIMEOUT_MS,
  H_MAGIC,
  H_MAX_BYTES,
  H_VERSION,
  HEADER_BYTES,
  MAGIC,
  MAX_HEAP_BYTES,
  MIN_HEAP_BYTES,
  newHeapKey,
} from "./layout.ts";
import type { HeapOptions } from "./types.ts";
import { checkByteCount, checkHeaderIdentity, roundUp8 } from "./_header.ts";
import { DEFAULT_LOCK_TIMEOUT_MS } from "./_lock.ts";
import { checkLockTimeoutMs } from "./_options.ts";
import { H_DEBUG } from "./layout.ts";

/** Bytes of a WebAssembly page; `baseOffset` and memory sizes are multiples of it. */
export const WASM_PAGE_BYTES = 65536;

/** True when `value` is a `WebAssembly.Memory` of this realm. */
export function isWasmMemory(value: unknown): value is WasmMemory {
  const api = (globalThis as unknown as {
    WebAssembly?: { Memory?: abstract new (...args: never[]) => unknown };
  })
    .WebAssembly;
  return api?.Memory !== undefined && value instanceof api.Memory;
}

/** `toResizableBuffer` where the engine has it. */
interface ResizableMemory {
  toResizableBuffer?: () => SharedArrayBuffer;
}

/** `memory.buffer`, typed loosely: TypeScript's DOM-less libs call it an ArrayBuffer. */
function bufferOf(memory: WasmMemory): unknown {
  return memory.buffer;
}

/** The buffer to view for `memory`: a growable one where the engine offers it. */
export function memoryBuffer(memory: WasmMemory): SharedArrayBuffer {
  const current = bufferOf(memory);
  if (!(current instanceof SharedArrayBuffer)) {
    throw new TypeError("Cannot use WebAssembly.Memory for a heap: it is not shared");
  }
  const resizable = (memory as unknown as ResizableMemory).toResizableBuffer;
  return current.growable || typeof resizable !== "function" ? current : resizable.call(memory);
}

/** True when `buffer` no longer covers all of `memory` (it grew, maybe in another worker). */
export function memoryGrew(
  memory: WasmMemory,
  buffer: SharedArrayBuffer,
  bufferBytes: number,
): boolean {
  return buffer.growable ? buffer.byteLength !== bufferBytes : bufferOf(memory) !== buffer;
}

/** The buffer over all of `memory` now (the same one when it is growable). */
export function currentMemoryBuffer(
  memory: WasmMemory,
  buffer: SharedArrayBuffer,
): SharedArrayBuffer {
  return buffer.growable ? buffer : bufferOf(memory) as SharedArrayBuffer;
}

/**
 * Grows `memory` to at least `totalBytes` (rounded up to whole pages).
 * Throws (a RangeError from the engine) when the memory's maximum forbids it.
 */
export function growMemory(
  memory: WasmMemory,
  buffer: SharedArrayBuffer,
  totalBytes: number,
): void {
  const target = Math.ceil(totalBytes / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
  if (buffer.growable) {
    if (buffer.byteLength < target) buffer.grow(target);
    return;
  }
  const have = (bufferOf(memory) as SharedArrayBuffer).byteLength;
  if (have < target) memory.grow((target - have) / WASM_PAGE_BYTES);
}

/**
 * `growMemory` for `Cannot <operation> heap`: the engine's RangeError, when the
 * memory's maximum forbids the growth, becomes one that says so.
 */
export function growMemoryFor(
  operation: string,
  memory: WasmMemory,
  buffer: SharedArrayBuffer,
  totalBytes: number,
): void {
  try {
    growMemory(memory, buffer, totalBytes);
  } catch (e) {
    throw new RangeError(
      `Cannot ${operation} heap: the WebAssembly.Memory cannot grow to ${totalBytes} bytes: ${
        (e as Error).message
      }`,
    );
  }
}

/** Validates `baseOffset` for a heap in a WebAssembly.Memory. */
export function checkBaseOffset(operation: string, baseOffset: unknown): number {
  if (
    typeof baseOffset !== "number" || !Number.isInteger(baseOffset) || baseOffset < 0 ||
    baseOffset % WASM_PAGE_BYTES !== 0 || baseOffset > MAX_HEAP_BYTES
  ) {
    throw new RangeError(
      `Cannot ${operation} heap: baseOffset must be a multiple of ${WASM_PAGE_BYTES} (a wasm page): ${baseOffset}`,
    );
  }
  return baseOffset;
}

/** What {@linkcode createInMemory} needs to know. */
export interface MemoryHeapSizes {
  initialBytes?: number;
  maxBytes?: number;
  lockTimeoutMs: number;
}

/**
 * Writes a new heap into `memory` at `baseOffset` (growing the memory when
 * `initialBytes` needs it) and returns the buffer to view. The heap takes the
 * whole memory above `baseOffset` unless `initialBytes` is given.
 */
export function createInMemory(
  memory: WasmMemory,
  baseOffset: number,
  sizes: MemoryHeapSizes,
): SharedArrayBuffer {
  let buffer = memoryBuffer(memory);
  const have = buffer.byteLength - baseOffset;
  const initialBytes = sizes.initialBytes ?? Math.max(have, MIN_HEAP_BYTES);
  const limit = Math.min(
    MAX_HEAP_BYTES - (MAX_HEAP_BYTES % WASM_PAGE_BYTES),
    buffer.growable ? buffer.maxByteLength - baseOffset : MAX_HEAP_BYTES,
  );
  const maxBytes = sizes.maxBytes ?? Math.max(limit, initialBytes);
  if (
    !Number.isInteger(initialBytes) || initialBytes < MIN_HEAP_BYTES ||
    initialBytes % WASM_PAGE_BYTES !== 0 && initialBytes !== have
  ) {
    throw new RangeError(
      `Cannot create heap: initialBytes in a WebAssembly.Memory must be a multiple of ${WASM_PAGE_BYTES}, at least ${MIN_HEAP_BYTES}: ${sizes.initialBytes}`,
    );
  }
  if (
    !Number.isInteger(maxBytes) || maxBytes < initialBytes || maxBytes > MAX_HEAP_BYTES ||
    maxBytes % 8 !== 0
  ) {
    throw new RangeError(
      `Cannot create heap: maxBytes must be a multiple of 8 in [initialBytes, ${MAX_HEAP_BYTES}]: ${sizes.maxBytes}`,
    );
  }
  if (have < initialBytes) {
    growMemoryFor("create", memory, buffer, baseOffset + initialBytes);
    buffer = currentMemoryBuffer(memory, buffer);
  }
  const u32 = new Uint32Array(buffer, baseOffset, initialBytes >>> 2);
  u32.fill(0, 0, HEADER_BYTES >>> 2);
  writeNewHeap(u32, initialBytes, maxBytes, sizes.lockTimeoutMs, baseOffset);
  return buffer;
}

/**
 * Writes an empty heap of `heapBytes` into `u32`, whose header words are zero:
 * the header (with a new key) and the arena's one free chunk.
 */
function writeNewHeap(
  u32: Uint32Array,
  heapBytes: number,
  maxBytes: number,
  lockTimeoutMs: number,
  baseOffset: number,
): void {
  u32[H_MAGIC] = MAGIC;
  u32[H_VERSION] = FORMAT_VERSION;
  u32[H_HEADER_BYTES] = HEADER_BYTES;
  u32[H_MAX_BYTES] = maxBytes;
  u32[H_LOCK_TIMEOUT_MS] = lockTimeoutMs;
  u32[H_BASE_OFFSET] = baseOffset;
  u32[H_KEY] = newHeapKey();
  arenaInit(u32, heapBytes);
}

/** Validates the heap header in `memory` at `baseOffset` (never writes) and returns the buffer to view. */
export function attachMemory(memory: WasmMemory, baseOffset: number): SharedArrayBuffer {
  const buffer = memoryBuffer(memory);
  if (buffer.byteLength < baseOffset + MIN_HEAP_BYTES) {
    throw new HeapFormatError(
      "byteLength",
      buffer.byteLength,
      `is too small for a heap at baseOffset ${baseOffset}`,
    );
  }
  const u32 = new Uint32Array(buffer, baseOffset, HEADER_BYTES >>> 2);
  checkHeaderIdentity(u32);
  if (u32[H_BASE_OFFSET] !== baseOffset) {
    throw new HeapFormatError(
      "baseOffset",
      u32[H_BASE_OFFSET],
      `is not the baseOffset the heap was attached at (${baseOffset})`,
    );
  }
  const heapBytes = u32[H_HEAP_BYTES];
  if (
    heapBytes < MIN_HEAP_BYTES || heapBytes % 8 !== 0 || heapBytes > buffer.byteLength - baseOffset
  ) {
    throw new HeapFormatError(
      "heapBytes",
      heapBytes,
      `is inconsistent with a memory of ${buffer.byteLength} bytes`,
    );
  }
  if (u32[H_MAX_BYTES] < heapBytes) {
    throw new HeapFormatError("maxBytes", u32[H_MAX_BYTES], "is below the heap's size");
  }
  return buffer;
}

const DEFAULT_INITIAL_BYTES = 1 << 20;
const DEFAULT_MAX_BYTES = 1 << 30;

/**
 * `Heap.create` without a memory: validates the sizes and the lock timeout
 * and returns a new growable buffer holding an empty heap.
 */
export function createInBuffer(options: HeapOptions): SharedArrayBuffer {
  const initialBytes = roundUp8(
    checkByteCount("initialBytes", options.initialBytes ?? DEFAULT_INITIAL_BYTES),
  );
  const maxBytes = Math.floor(
    checkByteCount("maxBytes", options.maxBytes ?? Math.max(DEFAULT_MAX_BYTES, initialBytes)) /
      8,
  ) * 8;
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (initialBytes < MIN_HEAP_BYTES || initialBytes > MAX_HEAP_BYTES) {
    throw new RangeError(
      `Cannot create heap: initialBytes must be in [${MIN_HEAP_BYTES}, ${MAX_HEAP_BYTES}]: ${options.initialBytes}`,
    );
  }
  if (maxBytes < initialBytes || maxBytes > MAX_HEAP_BYTES) {
    throw new RangeError(
      `Cannot create heap: maxBytes must be in [initialBytes, ${MAX_HEAP_BYTES}]: ${options.maxBytes}`,
    );
  }
  checkLockTimeoutMs("create heap", lockTimeoutMs);
  const buffer = new SharedArrayBuffer(initialBytes, { maxByteLength: maxBytes });
  const u32 = new Uint32Array(buffer);
  u32[H_DEBUG] = options.debug === true ? 1 : 0;
  writeNewHeap(u32, initialBytes, maxBytes, lockTimeoutMs, 0);
  return buffer;
}
