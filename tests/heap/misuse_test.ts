import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";

/** Header word of the head of the slab area list (src/alloc/slab.ts H_SLAB_AREAS). */
const H_SLAB_AREAS = 64;

function snapshot(heap: Heap): Uint8Array {
  return heap.u8.slice(0, heap.byteLength);
}

function assertUnchanged(heap: Heap, before: Uint8Array, what: string): void {
  const after = heap.u8.subarray(0, heap.byteLength);
  assert.equal(after.length, before.length, `${what}: heap size changed`);
  for (let i = 0; i < before.length; i++) {
    if (after[i] !== before[i]) assert.fail(`${what}: byte ${i} changed`);
  }
  heap.check();
}

describe("The allocator's own blocks are not user pointers", () => {
  it("free, realloc and usableSize reject a slab area and a slab page", () => {
    const heap = Heap.create();
    const p = heap.alloc(24);
    const area = heap.u32[H_SLAB_AREAS];
    assert.ok(area !== 0);
    const page = p & -16384;
    for (const internal of [area, page]) {
      const before = snapshot(heap);
      assert.throws(() => heap.free(internal), InvalidPointerError);
      assert.throws(() => heap.realloc(internal, 64), InvalidPointerError);
      assert.throws(() => heap.realloc(internal, 5000), InvalidPointerError);
      assert.throws(() => heap.usableSize(internal), InvalidPointerError);
      assertUnchanged(heap, before, `internal block ${internal}`);
    }
    heap.free(p);
    heap.check();
  });
});
