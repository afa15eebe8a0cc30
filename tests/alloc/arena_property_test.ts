import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Heap, OutOfMemoryError, type WasmMemory } from "../../mod.ts";
import { Wasm } from "../_wasm_api.ts";

/** Where a heap of the model test lives; every backing must pass the same test. */
interface Backing {
  name: string;
  create(initialBytes: number, maxBytes: number): Heap;
}

/** A shared wasm memory of `pages` pages that may grow to hold a heap of `maxBytes` at `base`. */
function wasmMemory(base: number, initialBytes: number, maxBytes: number): WasmMemory {
  const page = 65536;
  // A heap in a memory is whole pages: the smallest is one page.
  return new Wasm.Memory({
    initial: Math.ceil((base + initialBytes) / page),
    maximum: Math.ceil((base + maxBytes) / page),
    shared: true,
  });
}

const BACKINGS: Backing[] = [
  {
    name: "SharedArrayBuffer",
    create: (initialBytes, maxBytes) => Heap.create({ initialBytes, maxBytes }),
  },
  {
    // The module's data would sit below 128 KiB; pointers are wasm addresses.
    name: "WebAssembly.Memory at baseOffset 128 KiB",
    create: (initialBytes, maxBytes) => {
      const base = 2 * 65536;
      const memory = wasmMemory(base, initialBytes, maxBytes);
      return Heap.create({ memory, baseOffset: base, maxBytes });
    },
  },
  {
    // As on engines without memory.toResizableBuffer() (Node 20): the heap grows
    // with memory.grow() and re-reads memory.buffer.
    name: "WebAssembly.Memory grown by memory.grow",
    create: (initialBytes, maxBytes) => {
      const memory = wasmMemory(0, initialBytes, maxBytes);
      Object.defineProperty(memory, "toResizableBuffer", { value: undefined });
      return Heap.create({ memory, maxBytes });
    },
  },
];

type Op =
  | { kind: "alloc"; size: number; alignLog: number }
  | { kind: "free"; pick: number }
  | { kind: "realloc"; pick: number; size: number }
  | { kind: "check" };

interface Block {
  id: number;
  ptr: number;
  size: number;
  align: number;
}

const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 256 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 70_000 }) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 100,
    arbitrary: fc.record({
      kind: fc.constant("alloc" as const),
      size: sizeArb,
      alignLog: fc.oneof(
        { weight: 6, arbitrary: fc.constant(3) },
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 7 }) },
        { weight: 1, arbitrary: fc.integer({ min: 8, max: 16 }) },
      ),
    }),
  },
  { weight: 60, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  {
    weight: 40,
    arbitrary: fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size: sizeArb }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "check" as const }) },
);

function pattern(id: number, i: number): number {
  return (id * 131 + i * 7 + (i >>> 8)) & 255;
}

function fill(heap: Heap, b: Block): void {
  const u8 = heap.u8;
  for (let i = 0; i < b.size; i++) u8[b.ptr + i] = pattern(b.id, i);
}

function verify(heap: Heap, b: Block, upTo: number): void {
  const u8 = heap.u8;
  for (let i = 0; i < upTo; i++) {
    if (u8[b.ptr + i] !== pattern(b.id, i)) {
      assert.fail(`block ${b.id} at ${b.ptr} lost byte ${i} of ${b.size}`);
    }
  }
}

function assertNoOverlap(live: Block[], b: Block): void {
  const end = b.ptr + Math.max(b.size, 1);
  for (const o of live) {
    if (o === b) continue;
    const oEnd = o.ptr + Math.max(o.size, 1);
    if (b.ptr < oEnd && o.ptr < end) assert.fail(`block ${b.id} overlaps block ${o.id}`);
  }
}

function run(heap: Heap, ops: Op[]): void {
  const live: Block[] = [];
  let nextId = 1;
  const start = heap.stats();
  for (const op of ops) {
    if (op.kind === "alloc") {
      const align = 1 << op.alignLog;
      const ptr = heap.tryAlloc(op.size, align);
      if (ptr === 0) continue;
      const b = { id: nextId++, ptr, size: op.size, align };
      assert.equal(ptr % Math.max(align, 8), 0, "alignment");
      assert.ok(heap.usableSize(ptr) >= op.size);
      assertNoOverlap(live, b);
      fill(heap, b);
      live.push(b);
    } else if (op.kind === "free") {
      if (live.length === 0) continue;
      const i = op.pick % live.length;
      const b = live[i];
      verify(heap, b, b.size);
      heap.free(b.ptr);
      live[i] = live[live.length - 1];
      live.pop();
    } else if (op.kind === "realloc") {
      if (live.length === 0) continue;
      const b = live[op.pick % live.length];
      verify(heap, b, b.size);
      let ptr: number;
      try {
        ptr = heap.realloc(b.ptr, op.size);
      } catch (e) {
        assert.ok(e instanceof OutOfMemoryError, String(e));
        verify(heap, b, b.size); // the old block is untouched
        continue;
      }
      const kept = Math.min(b.size, op.size);
      b.ptr = ptr;
      verify(heap, b, kept);
      assert.equal(ptr % Math.max(b.align, 8), 0, "realloc keeps alignment");
      b.size = op.size;
      assertNoOverlap(live, b);
      fill(heap, b);
    } else {
      heap.check();
      assert.equal(heap.stats().liveAllocations, live.length);
    }
  }
  heap.check();
  for (const b of live) verify(heap, b, b.size);
  assert.equal(heap.stats().liveAllocations, live.length);
  for (const b of live) heap.free(b.ptr);
  heap.check();
  heap.detach(); // slab pages go back to the arena once empty
  heap.check();
  const end = heap.stats();
  assert.equal(end.usedBytes, start.usedBytes);
  assert.equal(end.liveAllocations, 0);
  assert.equal(end.freeChunks, 1, "everything coalesces back into one chunk");
}

for (const backing of BACKINGS) {
  describe(`arena property: random alloc/free/realloc sequences against a model (${backing.name})`, () => {
    it("on a fixed 1 MiB heap (out of memory happens and is survived)", () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 500, maxLength: 3000 }), (ops) => {
          run(backing.create(1 << 20, 1 << 20), ops);
        }),
        { numRuns: 25 },
      );
    });

    it("on a heap that grows during the run", () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 500, maxLength: 3000 }), (ops) => {
          const heap = backing.create(16 * 1024, 64 << 20);
          run(heap, ops);
        }),
        { numRuns: 25 },
      );
    });

    it("with a long sequence of many small blocks", () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.record({
                kind: fc.constant("alloc" as const),
                size: fc.integer({ min: 0, max: 100 }),
                alignLog: fc.constant(3),
              }),
              fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
              fc.record({
                kind: fc.constant("realloc" as const),
                pick: fc.nat(),
                size: fc.integer({ min: 0, max: 200 }),
              }),
            ),
            { minLength: 5000, maxLength: 10000 },
          ),
          (ops) => run(backing.create(64 * 1024, 1 << 30), ops),
        ),
        { numRuns: 5 },
      );
    });
  });
}
