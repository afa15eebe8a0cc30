/**
 * Proving that a failed call changed nothing: a copy of the heap's bytes
 * before it, compared byte for byte after it (and `check()` run).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Heap } from "../../mod.ts";

/** A copy of the heap's bytes, to prove that a failed call changed nothing. */
export function snapshot(heap: Heap): Uint8Array {
  return heap.u8.slice(0, heap.byteLength);
}

/** Fails naming the first byte that differs from `before` (or a size change); then runs `check()`. */
export function assertUnchanged(heap: Heap, before: Uint8Array, what: string): void {
  const after = heap.u8.subarray(0, heap.byteLength);
  assert.equal(after.length, before.length, `${what}: heap size changed`);
  for (let i = 0; i < before.length; i++) {
    if (after[i] !== before[i]) assert.fail(`${what}: byte ${i} changed`);
  }
  heap.check();
}
