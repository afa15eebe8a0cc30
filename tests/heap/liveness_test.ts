import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";

describe("recover() never works on a live worker's state", () => {
  it("a worker recovered while idle (not dead) goes on safely with a new area", () => {
    const heap = Heap.create({ lockTimeoutMs: 10 });
    const idle = Heap.attach(heap.buffer);
    const old = Array.from({ length: 50 }, () => idle.alloc(24));
    old.forEach((p, i) => heap.u32[p >>> 2] = i);
    // Nothing shows it is alive while recover() watches: its pages are handed over.
    const report = heap.recover(idle.workerId);
    assert.equal(report.areas, 1);
    assert.equal(heap.stats().slab.recoveredAreas, 1);
    // It wakes up and carries on: new blocks never overlap the old ones.
    const fresh = Array.from({ length: 2000 }, () => idle.alloc(24));
    const all = new Set([...old, ...fresh]);
    assert.equal(all.size, old.length + fresh.length);
    old.forEach((p, i) => assert.equal(heap.u32[p >>> 2], i));
    heap.check();
    assert.equal(heap.stats().slab.recoveredAreas, 0, "its kept area was freed");
    for (const p of [...old, ...fresh]) idle.free(p);
    idle.detach();
    heap.detach();
    heap.check();
    assert.equal(heap.stats().usedBytes, 0);
  });
});
