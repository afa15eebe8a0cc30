// Regressions: tests titled "(fix: ...)" failed before that fix (each was found by the
// 4-worker tests); the others guard against the same class of bug.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import { SharedMap, SharedVec } from "../../src/collections/mod.ts";
import { defineStruct, f64, u32 } from "../../structs/mod.ts";
import { inOrderCpu } from "../../src/collections/_common.ts";

describe("collections regressions", () => {
  it("a handle whose views predate a heap growth still writes (fix: vector insert covers its views)", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const vec = SharedVec.create(heap, { element: u32 });
    const late = SharedVec.at(Heap.attach(heap.buffer), vec.ptr); // views of a 64 KiB heap
    for (let i = 0; i < 100_000; i++) vec.push(i); // the data moves far past 64 KiB
    assert.ok(heap.byteLength > 64 * 1024);
    late.push(123_456);
    late.set(99_999, 7);
    assert.equal(vec.get(100_000), 123_456);
    assert.equal(vec.get(99_999), 7);
  });

  it("a map handle whose views predate a heap growth replaces struct values whole", () => {
    const P = defineStruct("P", { x: f64, y: f64 });
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const map = SharedMap.create(heap, { key: "u32", value: P, segments: 1 });
    const late = SharedMap.at(Heap.attach(heap.buffer), map.ptr, P);
    for (let i = 1; i <= 20_000; i++) map.set(i, { x: i, y: i });
    assert.ok(heap.byteLength > 64 * 1024);
    late.set(5, { x: -5 }); // replaces the record: y becomes 0
    late.set(50_000, { x: 1.5 });
    assert.deepEqual(map.get(5)?.toJSON(), { x: -5, y: 0 });
    assert.equal(map.get(50_000)?.x, 1.5);
    map.check();
  });

  it("a map handle finds a string key stored past its views (fix: find covers key blocks)", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const map = SharedMap.create(heap, { key: "string", value: u32, segments: 1, capacity: 8 });
    const late = SharedMap.at(Heap.attach(heap.buffer), map.ptr); // views of a 64 KiB heap
    const checker = SharedMap.at(Heap.attach(heap.buffer), map.ptr);
    heap.alloc(48 * 1024);
    const key = "k".repeat(20_000); // its block lands past 64 KiB; the table stays below
    map.set(key, 1);
    assert.ok(heap.byteLength > 64 * 1024);
    checker.check(); // (fix: check refreshes its views first)
    assert.equal(late.get(key), 1);
    late.set(key, 2); // an update, not a second copy of the key
    assert.equal(map.size, 1);
    assert.deepEqual([...late.keys()], [key]);
    map.check();
  });
});

describe("lock-free map paths are for V8 on x86-64 only", () => {
  it("are on for Deno and Node on x86-64, off for other CPUs, other engines and browsers", () => {
    assert.equal(inOrderCpu({ Deno: { build: { arch: "x86_64" } } }), true);
    assert.equal(inOrderCpu({ Deno: { build: { arch: "aarch64" } } }), false);
    assert.equal(inOrderCpu({ process: { arch: "x64", versions: { v8: "11.3" } } }), true);
    assert.equal(inOrderCpu({ process: { arch: "arm64", versions: { v8: "11.3" } } }), false);
    // Bun reports x64 and a v8 version for compatibility, but compiles with JavaScriptCore.
    assert.equal(
      inOrderCpu({ process: { arch: "x64", versions: { v8: "12.4", bun: "1.1.0" } } }),
      false,
    );
    assert.equal(inOrderCpu({ process: { arch: "x64", versions: {} } }), false);
    assert.equal(inOrderCpu({}), false);
  });
});
