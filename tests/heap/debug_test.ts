import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DoubleFreeError,
  Heap,
  HeapCorruptionError,
  HeapFormatError,
  UseAfterFreeError,
} from "../../mod.ts";
import { HeapAdapter, makeRandomActionsTrace, RandomActions } from "../../bench/_workloads.ts";

/** Header word of the debug flag (src/heap/layout.ts). */
const H_DEBUG = 11;
const SIZES = [0, 1, 7, 24, 100, 1000, 1024, 3000];

describe("debug mode", () => {
  it("is kept in the header: an attached handle and a restored snapshot use it", () => {
    const heap = Heap.create({ debug: true });
    const other = Heap.attach(heap.buffer);
    const p = heap.alloc(10);
    assert.equal(other.usableSize(p), 10);
    const restored = Heap.restore(heap.snapshot());
    assert.equal(restored.usableSize(p), 10);
    const plain = Heap.create();
    assert.ok(plain.usableSize(plain.alloc(10)) >= 16);
    assert.throws(() => Heap.create({ debug: 1 as unknown as boolean }), TypeError);
    const bad = Heap.create();
    bad.u32[H_DEBUG] = 7;
    assert.throws(() => Heap.attach(bad.buffer), HeapFormatError);
  });

  it("reports the requested size and a write past it at free, realloc, usableSize and check()", () => {
    for (const size of SIZES) {
      const heap = Heap.create({ debug: true });
      const p = heap.alloc(size);
      assert.equal(heap.usableSize(p), size);
      heap.u8[p + size] ^= 0x5a;
      for (const op of [() => heap.free(p), () => heap.realloc(p, 5), () => heap.check()]) {
        assert.throws(
          op,
          (e: Error) => e instanceof HeapCorruptionError && e.message.includes(`${p}`),
        );
      }
      heap.u8[p + size] ^= 0x5a;
      heap.check();
      heap.free(p);
      heap.check();
    }
  });

  it("poisons freed blocks and reports a write after free at check() and when it leaves the quarantine", () => {
    const heap = Heap.create({ debug: true });
    const p = heap.alloc(64);
    heap.free(p);
    assert.throws(() => heap.free(p), DoubleFreeError);
    assert.throws(() => heap.usableSize(p), DoubleFreeError);
    heap.u8[p + 3] = 1;
    assert.throws(
      () => heap.check(),
      (e: Error) => e instanceof UseAfterFreeError && e.message.includes(`${p}`),
    );
    assert.throws(() => {
      for (let i = 0; i < 1000; i++) heap.free(heap.alloc(64));
    }, UseAfterFreeError);
    heap.check(); // the block left the quarantine: the heap is consistent
  });

  it("keeps contents and alignment through realloc, and allocZeroed zeroes only the requested bytes", () => {
    const heap = Heap.create({ debug: true });
    const p = heap.alloc(50, 64);
    heap.u8.fill(7, p, p + 50);
    const q = heap.realloc(p, 2000);
    assert.equal(q % 64, 0);
    assert.deepEqual([...heap.u8.subarray(q, q + 50)], new Array(50).fill(7));
    const z = heap.allocZeroed(40);
    assert.equal(heap.usableSize(z), 40);
    heap.check();
  });

  it("reports at least 99% of 1-64-byte overflows and of writes into quarantined blocks", () => {
    let overflows = 0;
    let overflowsFound = 0;
    let writes = 0;
    let writesFound = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...SIZES),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        (size, over, off, uaf) => {
          const heap = Heap.create({ debug: true });
          const p = heap.alloc(size);
          const q = heap.alloc(size + 40);
          heap.u8.set(over, p + size); // may run into q's metadata: any typed report counts
          overflows++;
          try {
            heap.free(p);
          } catch (e) {
            if (!(e instanceof HeapCorruptionError)) throw e;
            overflowsFound++;
          }
          const h2 = Heap.create({ debug: true });
          const r = h2.alloc(size + 40);
          h2.free(r);
          const at = r + (off % (size + 40 - uaf.length + 1));
          h2.u8.set(uaf, at);
          writes++;
          try {
            h2.check();
          } catch (e) {
            if (!(e instanceof UseAfterFreeError)) throw e;
            writesFound++;
          }
          void q;
        },
      ),
      { numRuns: 2000, seed: 0x10d },
    );
    console.log(
      `debug detection: overflows ${overflowsFound}/${overflows}, writes after free ${writesFound}/${writes}`,
    );
    assert.ok(overflowsFound >= 0.99 * overflows, `${overflowsFound}/${overflows}`);
    assert.ok(writesFound >= 0.99 * writes, `${writesFound}/${writes}`);
  });
});

describe("debug mode under Talc's random actions", () => {
  it("finds the redzone of a block whose chunk grew after it was made (gaps given to it)", () => {
    const trace = makeRandomActionsTrace(30_000, 0x5eed);
    const heap = Heap.create({ debug: true });
    const w = new RandomActions(new HeapAdapter(heap), trace, 10_000);
    w.fill();
    w.run(20_000);
    heap.check();
  });
});
