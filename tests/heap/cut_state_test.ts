import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, HeapCorruptionError } from "../../mod.ts";

/** Header words (src/heap/layout.ts). */
const H_LOCK = 5;
const H_OP = 7;
const H_DEFERRED = 9;

/** A heap whose deferred-free list head points at no chunk: a drain of it throws mid-operation. */
function brokenDeferredList(heap: Heap): void {
  heap.u32[H_DEFERRED] = 12_345;
}

describe("An operation cut short is reported by the next operation of any handle", () => {
  it("an arena allocation that throws after taking the lock marks the heap for everyone", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 1 << 20, lockTimeoutMs: 200 });
    const other = Heap.attach(heap.buffer);
    const p = other.alloc(3000);
    brokenDeferredList(heap);
    // The arena is too small: the allocation drains the deferred list (under the lock) and throws.
    assert.throws(() => heap.alloc(200_000), HeapCorruptionError);
    assert.equal(heap.u32[H_OP], heap.workerId, "the operation is marked");
    assert.notEqual(heap.u32[H_LOCK], 0, "the lock word says so");
    const named = new RegExp(`worker ${heap.workerId} was cut short`);
    // Every handle's next heap-locked operation reports it, fast paths included.
    assert.throws(() => other.free(p), named);
    assert.throws(() => other.alloc(3000), named);
    assert.throws(() => other.check(), named);
    assert.throws(() => heap.alloc(3000), named);
    // A handle attached afterwards too (attach accepts the marked lock word).
    const late = Heap.attach(heap.buffer);
    assert.throws(() => late.alloc(3000), named);
    // The repair clears the mark and frees the lock.
    heap.u32[H_DEFERRED] = 0;
    heap.recover(heap.workerId);
    assert.equal(heap.u32[H_OP], 0);
    assert.equal(heap.u32[H_LOCK], 0);
    other.free(p);
    late.free(late.alloc(3000));
    heap.check();
    assert.equal(heap.stats().usedBytes, 0);
  });

  it("a realloc that throws with its mark set is reported, and recover(id) from another handle repairs it", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 1 << 20, lockTimeoutMs: 20 });
    const other = Heap.attach(heap.buffer);
    const p = heap.alloc(3000);
    brokenDeferredList(heap);
    assert.throws(() => heap.realloc(p, 6000), HeapCorruptionError);
    assert.equal(heap.u32[H_OP], heap.workerId);
    assert.throws(() => other.alloc(5000), HeapCorruptionError);
    heap.u32[H_DEFERRED] = 0;
    other.recover(heap.workerId); // the marked worker is idle: nothing shows it alive
    assert.equal(heap.u32[H_OP], 0);
    assert.equal(heap.u32[H_LOCK], 0);
    other.check();
    heap.free(p);
    assert.equal(other.stats().usedBytes, 0);
  });

  it("a failed repair leaves the heap marked", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, lockTimeoutMs: 200 });
    brokenDeferredList(heap);
    assert.throws(() => heap.alloc(200_000), HeapCorruptionError);
    // The repair meets a broken deferred list too: it throws and the heap stays marked.
    brokenDeferredList(heap);
    assert.throws(() => heap.recover(heap.workerId), HeapCorruptionError);
    assert.equal(heap.u32[H_OP], heap.workerId);
    assert.throws(() => heap.alloc(3000), HeapCorruptionError);
    heap.recover(heap.workerId); // the failed drain emptied the list: this repair works
    heap.free(heap.alloc(3000));
    heap.check();
  });

  it("a snapshot whose bytes carry a mark restores to a heap that reports it", () => {
    const heap = Heap.create();
    heap.setRoot("block", heap.alloc(3000));
    const bytes = heap.snapshot();
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(H_OP * 4, 1, true);
    assert.throws(() => Heap.restore(bytes), HeapCorruptionError);
  });
});
