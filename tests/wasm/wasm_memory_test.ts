// A heap inside a shared WebAssembly.Memory, used by a real wasm module
// (compiled from the text format with the npm package wabt during the test):
// the module reads and writes records JavaScript made, allocates records
// through the heap, and JavaScript reads them; a worker attaches the memory.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, HeapFormatError, type WasmMemory } from "../../mod.ts";
import { C_LAYOUT, instantiate, Particle } from "./_particles_module.ts";
import { runWasmWorker } from "./_wasm_worker.ts";
import { Wasm } from "../_wasm_api.ts";

const PAGE = 65536;
const BASE = 4 * PAGE;

function makeMemory(initialPages: number, maximumPages: number): WasmMemory {
  return new Wasm.Memory({ initial: initialPages, maximum: maximumPages, shared: true });
}

/** Walks a list of records from JavaScript: the ids in order. */
function ids(heap: Heap, head: number): number[] {
  const out: number[] = [];
  for (let p = head ? Particle.at(heap, head) : undefined; p; p = p.next ?? undefined) {
    out.push(p.id);
  }
  return out;
}

describe("a heap in a shared WebAssembly.Memory", () => {
  it("lays Particle out as the C struct the module was written for", () => {
    assert.deepEqual(
      {
        id: Particle.offsetOf("id"),
        x: Particle.offsetOf("x"),
        y: Particle.offsetOf("y"),
        next: Particle.offsetOf("next"),
        size: Particle.size,
      },
      C_LAYOUT,
    );
  });

  it("wasm reads and writes records JavaScript made, and allocates records JavaScript reads", async () => {
    const memory = makeMemory(8, 2048);
    // The module's own data below baseOffset must stay untouched.
    new Uint8Array(memory.buffer).fill(0x5a, 0, BASE);
    const heap = Heap.create({ memory, baseOffset: BASE });
    const wasm = await instantiate(memory, heap);

    let head = 0;
    for (let i = 1; i <= 100; i++) {
      head =
        Particle.create(heap, { id: i, x: i * 0.5, next: head ? Particle.at(heap, head) : null })
          .ptr;
    }
    assert.ok(head >= BASE, "pointers are wasm addresses above baseOffset");
    assert.equal(wasm.sum_x(head), 0.5 * 5050);
    assert.equal(wasm.scale(head, 4), 100);
    assert.equal(Particle.at(heap, head).y, 100 * 0.5 * 4);

    // Allocations from wasm, enough to grow the memory several times.
    const before = memory.buffer.byteLength;
    head = wasm.push_many(head, 1000, 200_000);
    assert.ok(memory.buffer.byteLength > before, "the heap grew the memory");
    const all = ids(heap, head);
    assert.equal(all.length, 200_100);
    assert.equal(all[0], 1000 + 199_999);
    assert.equal(all[199_999], 1000);
    assert.equal(all[200_000], 100);
    const top = Particle.at(heap, head);
    assert.equal(top.x, 1000 + 199_999);
    assert.equal(wasm.sum_x(head), 0.5 * 5050 + 200_000 * 1000 + (199_999 * 200_000) / 2);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 200_100);

    // wasm frees what JavaScript made, and the other way round.
    for (let i = 0; i < 150_000; i++) head = wasm.pop(head);
    while (head !== 0) {
      const next = Particle.at(heap, head).next?.ptr ?? 0;
      heap.free(head);
      head = next;
    }
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
    assert.ok(new Uint8Array(memory.buffer, 0, BASE).every((b) => b === 0x5a));
  });

  it("a worker that received the memory attaches it and builds records the main thread reads", async () => {
    const memory = makeMemory(4 + 1, 4096);
    const heap = Heap.create({ memory, baseOffset: BASE });
    const reply = await runWasmWorker({ memory, baseOffset: BASE, first: 1, count: 50_000 });
    assert.ok(reply.ok, reply.error);
    assert.notEqual(reply.workerId, heap.workerId);
    const list = ids(heap, reply.head);
    assert.equal(list.length, 50_000);
    assert.deepEqual(list.slice(0, 3), [50_000, 49_999, 49_998]);
    heap.check();
    const wasm = await instantiate(memory, heap);
    assert.equal(wasm.sum_x(reply.head), (50_000 * 50_001) / 2);
    let head = reply.head;
    while (head !== 0) head = wasm.pop(head);
    heap.detach();
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });

  it("works without memory.toResizableBuffer (memory.grow, as on Node 20)", async () => {
    const memory = makeMemory(2, 1024);
    Object.defineProperty(memory, "toResizableBuffer", { value: undefined });
    const heap = Heap.create({ memory, baseOffset: PAGE });
    const wasm = await instantiate(memory, heap);
    const old = memory.buffer;
    const head = wasm.push_many(0, 1, 100_000);
    assert.notEqual(memory.buffer, old, "memory.buffer was replaced by growth");
    assert.equal(heap.buffer, memory.buffer);
    assert.equal(ids(heap, head).length, 100_000);
    heap.check();
  });

  it("rejects bad options and a wrong baseOffset, writing nothing", () => {
    const memory = makeMemory(4, 64);
    const before = new Uint8Array(memory.buffer).slice();
    assert.throws(() => Heap.create({ memory, baseOffset: 1000 }), /multiple of 65536.*: 1000/);
    assert.throws(
      () => Heap.create({ memory, initialBytes: 100_000 }),
      /initialBytes in a WebAssembly.Memory must be a multiple of 65536/,
    );
    assert.throws(() => Heap.create({ memory, initialBytes: 128 * PAGE }), /cannot grow to/);
    assert.deepEqual(new Uint8Array(memory.buffer), before);
    assert.throws(() => Heap.attach(memory), HeapFormatError);
    const unshared = new Wasm.Memory({ initial: 1 });
    assert.throws(() => Heap.create({ memory: unshared }), /not shared/);
    Heap.create({ memory, baseOffset: PAGE });
    assert.throws(() => Heap.attach(memory), /magic/);
    assert.throws(
      () => Heap.attach(memory, { baseOffset: 2 * PAGE }),
      HeapFormatError,
    );
    Heap.attach(memory, { baseOffset: PAGE }).check();
  });

  it("snapshots a heap at baseOffset 0 in a memory and restores it into a SharedArrayBuffer", () => {
    const memory = makeMemory(2, 64);
    const heap = Heap.create({ memory });
    const p = Particle.create(heap, { id: 7, x: 1.25 });
    heap.setRoot("p", p);
    const copy = Heap.restore(heap.snapshot());
    assert.equal(Particle.at(copy, copy.getRoot("p")).x, 1.25);
    copy.check();
  });

  it("restores a snapshot of a heap at a baseOffset into another memory at that offset", async () => {
    const source = makeMemory(3, 64);
    const heap = Heap.create({ memory: source, baseOffset: PAGE });
    let head = 0;
    for (let i = 1; i <= 1000; i++) {
      head =
        Particle.create(heap, { id: i, x: i, next: head ? Particle.at(heap, head) : null }).ptr;
    }
    heap.setRoot("list", head);
    const snap = heap.snapshot();
    assert.throws(() => Heap.restore(snap), /baseOffset is not 0: .*pointers are addresses/);

    const target = makeMemory(1, 64); // too small: restore grows it
    new Uint8Array(target.buffer).fill(0x77);
    const untouched = new Uint8Array(target.buffer).slice();
    assert.throws(
      () => Heap.restore(snap, { memory: target, baseOffset: 2 * PAGE }),
      /baseOffset is not 131072/,
    );
    assert.deepEqual(new Uint8Array(target.buffer), untouched, "a rejected restore writes nothing");
    const copy = Heap.restore(snap, { memory: target, baseOffset: PAGE });
    assert.ok(new Uint8Array(target.buffer, 0, PAGE).every((b) => b === 0x77));
    assert.equal(copy.getRoot("list"), head);
    assert.equal(ids(copy, head).length, 1000);
    const wasm = await instantiate(target, copy);
    assert.equal(wasm.sum_x(head), 500_500);
    const more = wasm.push_many(head, 2000, 10_000);
    assert.equal(ids(copy, more).length, 11_000);
    copy.check();
    Heap.attach(target, { baseOffset: PAGE }).check();
  });
});
