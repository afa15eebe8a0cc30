/**
 * Named roots: a small table in the heap header that maps names to pointers,
 * so a program that attaches a heap (or restores a snapshot of one) finds its
 * data structures again.
 *
 * The table is `ROOT_SLOTS` entries of `ROOT_ENTRY_WORDS` u32 words at word
 * `H_ROOTS` of the header:
 * ```
 * +0 pointer   +1 name length in bytes (0: the entry is empty)   +2.. name (UTF-8)
 * ```
 * These functions trust their views and run under the heap lock; the `Heap`
 * methods validate their arguments first (with {@linkcode rootNameBytes} and
 * {@linkcode rootPointer}), so a bad argument changes nothing.
 *
 * @module
 */

import { H_ROOTS, ROOT_ENTRY_WORDS, ROOT_NAME_MAX_BYTES, ROOT_SLOTS } from "./layout.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Validates a root name and returns its UTF-8 bytes. */
export function rootNameBytes(operation: string, name: unknown): Uint8Array {
  if (typeof name !== "string") {
    throw new TypeError(`Cannot ${operation} root: name must be a string: ${typeof name}`);
  }
  if (name.length === 0) throw new RangeError(`Cannot ${operation} root: name is empty`);
  const bytes = encoder.encode(name);
  if (bytes.length > ROOT_NAME_MAX_BYTES) {
    throw new RangeError(
      `Cannot ${operation} root: name is longer than ${ROOT_NAME_MAX_BYTES} UTF-8 bytes: ${bytes.length}`,
    );
  }
  return bytes;
}

/**
 * Validates the pointer given to `setRoot` (a number or anything with a
 * numeric `ptr`, such as a struct record view) and returns it.
 */
export function rootPointer(value: unknown, heapBytes: number): number {
  let ptr = value;
  if (typeof value === "object" && value !== null && "ptr" in value) {
    ptr = (value as { ptr: unknown }).ptr;
  }
  if (typeof ptr !== "number") {
    throw new TypeError(
      `Cannot set root: pointer must be a number or have a numeric ptr: ${typeof ptr}`,
    );
  }
  if (!Number.isInteger(ptr) || ptr < 0 || ptr >= heapBytes) {
    throw new RangeError(
      `Cannot set root: pointer must be an integer in [0, ${heapBytes}): ${ptr}`,
    );
  }
  return ptr;
}

/** Word index of entry `slot`. */
function entryWord(slot: number): number {
  return H_ROOTS + slot * ROOT_ENTRY_WORDS;
}

/** The entry that holds `name`, or -1. */
export function findRoot(u32: Uint32Array, u8: Uint8Array, name: Uint8Array): number {
  for (let slot = 0; slot < ROOT_SLOTS; slot++) {
    const w = entryWord(slot);
    if (u32[w + 1] !== name.length) continue;
    const at = (w + 2) * 4;
    let same = true;
    for (let i = 0; i < name.length && same; i++) same = u8[at + i] === name[i];
    if (same) return slot;
  }
  return -1;
}

/** The pointer stored under `name`, or 0. */
export function rootGet(u32: Uint32Array, u8: Uint8Array, name: Uint8Array): number {
  const slot = findRoot(u32, u8, name);
  return slot < 0 ? 0 : u32[entryWord(slot)];
}

/**
 * Stores `ptr` under `name` (replacing its pointer when the name exists).
 * Returns false, changing nothing, when the name is new and the table is full.
 */
export function rootSet(u32: Uint32Array, u8: Uint8Array, name: Uint8Array, ptr: number): boolean {
  let slot = findRoot(u32, u8, name);
  if (slot < 0) {
    for (let s = 0; s < ROOT_SLOTS && slot < 0; s++) if (u32[entryWord(s) + 1] === 0) slot = s;
    if (slot < 0) return false;
    const w = entryWord(slot);
    u8.fill(0, (w + 2) * 4, (w + ROOT_ENTRY_WORDS) * 4);
    u8.set(name, (w + 2) * 4);
    u32[w] = ptr;
    u32[w + 1] = name.length; // last: the entry is complete before it is found
    return true;
  }
  u32[entryWord(slot)] = ptr;
  return true;
}

/** Removes `name`; returns whether it was set. */
export function rootDelete(u32: Uint32Array, u8: Uint8Array, name: Uint8Array): boolean {
  const slot = findRoot(u32, u8, name);
  if (slot < 0) return false;
  const w = entryWord(slot);
  u32.fill(0, w, w + ROOT_ENTRY_WORDS);
  return true;
}

/** Every root, in table order. */
export function rootList(u32: Uint32Array, u8: Uint8Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let slot = 0; slot < ROOT_SLOTS; slot++) {
    const w = entryWord(slot);
    const length = u32[w + 1];
    if (length === 0) continue;
    const at = (w + 2) * 4;
    // slice: TextDecoder rejects views of a SharedArrayBuffer.
    out[decoder.decode(u8.slice(at, at + Math.min(length, ROOT_NAME_MAX_BYTES)))] = u32[w];
  }
  return out;
}

/** Checks the roots table (for `check()`): returns a problem, or "" when it is sound. */
export function rootsProblem(u32: Uint32Array, heapBytes: number): string {
  for (let slot = 0; slot < ROOT_SLOTS; slot++) {
    const w = entryWord(slot);
    if (u32[w + 1] > ROOT_NAME_MAX_BYTES) {
      return `root entry ${slot} has a name length of ${u32[w + 1]}`;
    }
    if (u32[w + 1] === 0 && u32[w] !== 0) return `empty root entry ${slot} holds a pointer`;
    if (u32[w] >= heapBytes) return `root entry ${slot} points outside the heap: ${u32[w]}`;
  }
  return "";
}
