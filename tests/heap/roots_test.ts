import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";

/** The heap's bytes, to prove that a failed call changed nothing. */
function bytesOf(heap: Heap): Uint8Array {
  return heap.u8.slice(0, heap.byteLength);
}

describe("named roots", () => {
  it("sets, replaces, lists and deletes roots", () => {
    const heap = Heap.create();
    const a = heap.alloc(16);
    const b = heap.alloc(5000);
    assert.equal(heap.getRoot("a"), 0);
    heap.setRoot("a", a);
    heap.setRoot("b", b);
    heap.setRoot("ünïcødé ✓", a);
    assert.equal(heap.getRoot("a"), a);
    assert.equal(heap.getRoot("b"), b);
    assert.deepEqual(heap.roots(), { a, b, "ünïcødé ✓": a });
    heap.setRoot("a", b);
    assert.equal(heap.getRoot("a"), b);
    assert.equal(heap.deleteRoot("a"), true);
    assert.equal(heap.deleteRoot("a"), false);
    assert.equal(heap.getRoot("a"), 0);
    heap.setRoot("b", 0); // 0 removes
    assert.deepEqual(heap.roots(), { "ünïcødé ✓": a });
    heap.check();
  });

  it("is seen by every handle of the heap", () => {
    const heap = Heap.create();
    const other = Heap.attach(heap.buffer);
    const p = other.alloc(24);
    other.setRoot("shared", p);
    assert.equal(heap.getRoot("shared"), p);
  });

  it("takes anything with a numeric ptr (a struct record view)", () => {
    const heap = Heap.create();
    const p = heap.alloc(40);
    heap.setRoot("record", { ptr: p });
    assert.equal(heap.getRoot("record"), p);
  });

  it("tells a name apart from its prefix and from a longer name", () => {
    const heap = Heap.create();
    heap.setRoot("abc", heap.alloc(8));
    assert.equal(heap.getRoot("ab"), 0);
    assert.equal(heap.getRoot("abcd"), 0);
  });

  it("accepts a 40-byte name and rejects bad names and pointers, changing nothing", () => {
    const heap = Heap.create();
    const p = heap.alloc(8);
    heap.setRoot("x".repeat(40), p);
    assert.equal(heap.getRoot("x".repeat(40)), p);
    const before = bytesOf(heap);
    const bad: [() => unknown, typeof TypeError | typeof RangeError, RegExp][] = [
      [() => heap.setRoot("", p), RangeError, /name is empty/],
      [() => heap.setRoot("x".repeat(41), p), RangeError, /longer than 40 UTF-8 bytes: 41/],
      // 14 characters, 42 UTF-8 bytes.
      [() => heap.setRoot("€".repeat(14), p), RangeError, /longer than 40 UTF-8 bytes: 42/],
      [() => heap.setRoot(7 as unknown as string, p), TypeError, /name must be a string: number/],
      [() => heap.setRoot("n", -8), RangeError, /pointer must be an integer/],
      [() => heap.setRoot("n", 1.5), RangeError, /pointer must be an integer/],
      [() => heap.setRoot("n", heap.byteLength), RangeError, /pointer must be an integer/],
      [() => heap.setRoot("n", "8" as unknown as number), TypeError, /pointer must be a number/],
      [() => heap.getRoot(""), RangeError, /Cannot get root: name is empty/],
      [() => heap.deleteRoot(null as unknown as string), TypeError, /Cannot delete root/],
    ];
    for (const [call, type, message] of bad) {
      assert.throws(call, (e: unknown) => e instanceof type && message.test((e as Error).message));
    }
    assert.deepEqual(bytesOf(heap), before);
    heap.check();
  });

  it("reports a full table and changes nothing", () => {
    const heap = Heap.create();
    const p = heap.alloc(8);
    for (let i = 0; i < 32; i++) heap.setRoot(`root ${i}`, p);
    const before = bytesOf(heap);
    assert.throws(() => heap.setRoot("one more", p), /table of 32 roots is full: one more/);
    assert.deepEqual(bytesOf(heap), before);
    heap.setRoot("root 5", p + 8); // replacing still works
    heap.deleteRoot("root 0");
    heap.setRoot("one more", p); // and a freed entry is reused
    assert.equal(Object.keys(heap.roots()).length, 32);
    heap.check();
  });

  it("check() reports a damaged roots table", () => {
    const heap = Heap.create();
    heap.setRoot("a", heap.alloc(8));
    heap.u32[640 + 1] = 200; // name length of the first entry
    assert.throws(() => heap.check(), /root entry 0 has a name length of 200/);
  });
});
