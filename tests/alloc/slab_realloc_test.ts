// The lean slab realloc and the aligned small-allocation fast path: a slot
// stays when the new size maps to its own class, a moved block keeps its
// bytes (word copy below 256 bytes, copyWithin above) and its alignment,
// out of memory changes nothing, bad pointers are refused once and cleanly,
// and aligned requests of 1 to 64 bytes are served from the slab with the
// same argument checks as before.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DoubleFreeError, Heap, InvalidPointerError, OutOfMemoryError } from "../../mod.ts";

/** Fills `sizeBytes` bytes at `ptr` with a pattern of `id`. */
function fill(heap: Heap, ptr: number, sizeBytes: number, id: number): void {
  const u8 = heap.u8;
  for (let i = 0; i < sizeBytes; i++) u8[ptr + i] = (id * 31 + i * 7) & 255;
}

/** Asserts the pattern of `id` over `sizeBytes` bytes at `ptr`. */
function verify(heap: Heap, ptr: number, sizeBytes: number, id: number): void {
  const u8 = heap.u8;
  for (let i = 0; i < sizeBytes; i++) {
    if (u8[ptr + i] !== ((id * 31 + i * 7) & 255)) {
      assert.fail(`block ${id} at ${ptr} lost byte ${i} of ${sizeBytes}`);
    }
  }
}

describe("slab realloc", () => {
  it("keeps the slot when the new size maps to the slot's own class", () => {
    const heap = Heap.create();
    const p8 = heap.alloc(8);
    assert.equal(heap.realloc(p8, 3), p8, "3 bytes still take an 8-byte slot");
    assert.equal(heap.realloc(p8, 0), p8);
    // A 64-byte slot is 64-aligned; the class for 16 bytes at that alignment is its own.
    const p64 = heap.alloc(64);
    assert.equal(heap.realloc(p64, 16), p64);
    const p24 = heap.alloc(24);
    assert.equal(heap.realloc(p24, 20), p24, "more than half of the slot");
    assert.equal(heap.stats().liveAllocations, 3);
    heap.check();
  });

  it("moves to another class keeping the bytes, for every copy length up to 1024", () => {
    const heap = Heap.create({ initialBytes: 4 << 20 });
    for (let from = 1; from <= 1024; from += 37) {
      for (const to of [Math.max(1, from >>> 2), from + 9, 1024, 3000]) {
        const p = heap.alloc(from);
        fill(heap, p, from, from);
        const q = heap.realloc(p, to);
        verify(heap, q, Math.min(from, to), from);
        const slot = heap.usableSize(q);
        assert.ok(slot >= to, `usable ${slot} < ${to}`);
        heap.free(q);
      }
    }
    assert.equal(heap.stats().liveAllocations, 0);
    heap.check();
  });

  it("a word copy does not write past the new block", () => {
    for (const [size, to] of [[37, 5], [37, 8], [100, 13], [100, 24], [400, 180], [1000, 300]]) {
      const heap = Heap.create();
      // Three slots of the target class in a row; the middle one is freed, so
      // the moved block lands there, between two live neighbours.
      const a = heap.alloc(to);
      const b = heap.alloc(to);
      const c = heap.alloc(to);
      const slot = heap.usableSize(b);
      assert.equal(c - b, slot, "neighbours");
      fill(heap, a, slot, 1);
      fill(heap, c, slot, 2);
      heap.free(b);
      const p = heap.alloc(size);
      fill(heap, p, size, 3);
      const q = heap.realloc(p, to);
      assert.equal(q, b, `${size} -> ${to}: the freed slot is reused`);
      verify(heap, q, to, 3);
      verify(heap, a, slot, 1);
      verify(heap, c, slot, 2);
      for (const x of [a, c, q]) heap.free(x);
      heap.check();
    }
  });

  it("keeps the slot's alignment when it moves", () => {
    const heap = Heap.create();
    for (const align of [16, 32, 64]) {
      const p = heap.alloc(align, align);
      const q = heap.realloc(p, align * 3 + 8);
      assert.equal(q % align, 0, `aligned to ${align}`);
      const r = heap.realloc(q, 8);
      assert.equal(r % align, 0, `still aligned to ${align}`);
      heap.free(r);
    }
    heap.check();
  });

  it("out of memory leaves the slot valid and unchanged", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 * 1024 });
    const p = heap.alloc(48);
    fill(heap, p, 48, 7);
    const before = heap.u8.slice(0, heap.byteLength);
    assert.throws(
      () => heap.realloc(p, 1 << 20),
      (e: unknown) => e instanceof OutOfMemoryError && e.alignBytes === 16,
    );
    assert.deepEqual(heap.u8.slice(0, heap.byteLength), before);
    verify(heap, p, 48, 7);
    heap.free(p);
    heap.check();
  });

  it("refuses bad pointers before changing anything", () => {
    const heap = Heap.create();
    const p = heap.alloc(24);
    heap.alloc(24);
    const before = heap.u8.slice(0, heap.byteLength);
    assert.throws(() => heap.realloc(p + 8, 100), InvalidPointerError);
    assert.throws(() => heap.realloc(p + 48, 100), /never allocated/);
    assert.deepEqual(heap.u8.slice(0, heap.byteLength), before);
    heap.free(p);
    const freed = heap.u8.slice(0, heap.byteLength);
    assert.throws(() => heap.realloc(p, 100), DoubleFreeError);
    assert.throws(() => heap.realloc(p, 8), DoubleFreeError);
    assert.deepEqual(heap.u8.slice(0, heap.byteLength), freed);
    heap.check();
  });
});

describe("aligned small allocations", () => {
  it("serve every power-of-two alignment up to 64 from the slab", () => {
    const heap = Heap.create();
    for (const align of [1, 2, 4, 8, 16, 32, 64]) {
      for (const size of [0, 1, 8, 24, 48, 100, 500, 1000, 1024]) {
        const p = heap.alloc(size, align);
        assert.equal(p % Math.max(align, 8), 0, `alloc(${size}, ${align})`);
        assert.ok(heap.usableSize(p) >= size);
        const slot = heap.usableSize(p);
        assert.equal(slot % Math.max(align, 8), 0, `slot ${slot} is a multiple of ${align}`);
        fill(heap, p, size, size);
        verify(heap, p, size, size);
        heap.free(p);
      }
    }
    // Above 64 the arena serves them.
    const q = heap.alloc(24, 128);
    assert.equal(q % 128, 0);
    assert.equal(heap.stats().slab.usedSlots, 0);
    heap.free(q);
    heap.check();
  });

  it("refuse bad alignments as before", () => {
    const heap = Heap.create();
    const before = heap.stats();
    for (const bad of [0, 3, 24, 48, -16, 2.5, 16.5, NaN, Infinity, 1 << 17]) {
      assert.throws(() => heap.alloc(24, bad), RangeError, `alignment ${bad}`);
    }
    // deno-lint-ignore no-explicit-any
    assert.throws(() => heap.alloc(24, "16" as any), TypeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => heap.alloc(24, 16n as any), TypeError);
    assert.throws(() => heap.alloc(-1, 16), RangeError);
    assert.throws(() => heap.alloc(1.5, 32), RangeError);
    assert.deepEqual(heap.stats(), before);
    heap.check();
  });
});
