import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import fc from "fast-check";
import { Barrier, LockTimeoutError, Mutex } from "../../src/sync/mod.ts";

function setup(parties: number): { heap: Heap; barrier: Barrier } {
  const heap = Heap.create({ initialBytes: 64 * 1024 });
  return { heap, barrier: Barrier.create(heap, parties) };
}

describe("Barrier.create / Barrier.at / parties", () => {
  it("allocates a barrier that another handle opens", () => {
    const { heap, barrier } = setup(3);
    assert.equal(barrier.ptr % 8, 0);
    assert.equal(barrier.parties, 3);
    assert.equal(Barrier.at(Heap.attach(heap.buffer), barrier.ptr).parties, 3);
    heap.check();
  });

  it("rejects party counts outside [1, 65535] without allocating", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const live = heap.stats().liveAllocations;
    for (const parties of [0, -1, 1.5, NaN, 65536, Infinity, "2" as unknown as number]) {
      assert.throws(() => Barrier.create(heap, parties), RangeError, String(parties));
    }
    assert.equal(heap.stats().liveAllocations, live);
    assert.equal(Barrier.create(heap, 65535).parties, 65535);
  });

  it("rejects pointers that do not hold a barrier", () => {
    const { heap } = setup(2);
    const plain = heap.alloc(16);
    heap.u8.fill(0, plain, plain + 16);
    assert.throws(() => Barrier.at(heap, plain), InvalidPointerError);
    assert.throws(() => Barrier.at(heap, Mutex.create(heap).ptr), InvalidPointerError);
    assert.throws(() => Barrier.at(heap, 0), InvalidPointerError);
    assert.throws(() => Barrier.at(heap, heap.byteLength), InvalidPointerError);
  });

  it("rejects a barrier whose party count was overwritten", () => {
    const { heap, barrier } = setup(2);
    heap.i32[(barrier.ptr >>> 2) + 1] = 0;
    assert.throws(() => Barrier.at(heap, barrier.ptr), /impossible party count: 0/);
  });
});

describe("Barrier wait / waitAsync", () => {
  it("a barrier of one party never waits and is always last", async () => {
    const { barrier } = setup(1);
    for (let i = 0; i < 5; i++) assert.equal(barrier.wait(0), true);
    assert.equal(await barrier.waitAsync(0), true);
  });

  it("releases all parties of a phase together, with exactly one last, over many phases", async () => {
    const { heap, barrier } = setup(3);
    const handles = [0, 1, 2].map(() => Barrier.at(Heap.attach(heap.buffer), barrier.ptr));
    for (let phase = 0; phase < 50; phase++) {
      const done: boolean[] = [];
      const waits = handles.slice(0, 2).map((b) =>
        b.waitAsync(5000).then((last) => done.push(last))
      );
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.equal(done.length, 0, "nobody passes before the third party arrives");
      assert.equal(handles[2].wait(5000), true);
      await Promise.all(waits);
      assert.deepEqual(done, [false, false]);
    }
  });

  it("keeps phases apart: a party already waiting in the next phase is not counted in this one", async () => {
    const { barrier } = setup(2);
    // Phase 1: a and b meet. b then arrives at phase 2 at once; phase 2 must wait
    // for a, not complete on b's arrival alone.
    const first = barrier.waitAsync(5000);
    assert.equal(barrier.wait(5000), true);
    assert.equal(await first, false);
    const early = barrier.waitAsync(5000);
    let passed = false;
    early.then(() => passed = true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(passed, false);
    assert.equal(barrier.wait(5000), true);
    assert.equal(await early, false);
  });

  it("a timed-out party withdraws its arrival: the barrier stays consistent", async () => {
    const { barrier } = setup(3);
    const started = performance.now();
    assert.throws(
      () => barrier.wait(20),
      (error) => error instanceof LockTimeoutError && error.timeoutMs === 20 && error.ownerId === 0,
    );
    assert.ok(performance.now() - started >= 15);
    await assert.rejects(barrier.waitAsync(10), LockTimeoutError);
    // Had the arrivals stayed counted, two more would complete the phase.
    const a = barrier.waitAsync(5000);
    const b = barrier.waitAsync(5000);
    let passed = false;
    Promise.race([a, b]).then(() => passed = true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(passed, false, "withdrawn arrivals are not counted");
    assert.equal(barrier.wait(5000), true);
    assert.deepEqual(await Promise.all([a, b]), [false, false]);
  });

  it("rejects a negative or NaN timeout with RangeError and does not arrive", async () => {
    const { barrier } = setup(2);
    for (const timeoutMs of [-1, NaN]) {
      assert.throws(() => barrier.wait(timeoutMs), RangeError);
      await assert.rejects(barrier.waitAsync(timeoutMs), RangeError);
    }
    const first = barrier.waitAsync(5000);
    assert.equal(barrier.wait(5000), true);
    assert.equal(await first, false);
  });
});

describe("Barrier model (property)", () => {
  it("agrees with a model of arrivals, phases and withdrawals over random sequences", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.constantFrom("async", "zero"), { maxLength: 24 }),
        async (parties, ops) => {
          const heap = Heap.create({ initialBytes: 64 * 1024 });
          const barrier = Barrier.create(heap, parties);
          let pending: Promise<boolean>[] = [];
          let phases = 0;
          for (const op of ops) {
            const last = pending.length + 1 === parties;
            if (op === "async") {
              const arrival = barrier.waitAsync(10_000);
              if (!last) {
                pending.push(arrival);
                continue;
              }
              assert.equal(await arrival, true);
            } else if (last) {
              assert.equal(barrier.wait(0), true);
            } else {
              // Nobody completes the phase: the arrival is withdrawn.
              assert.throws(() => barrier.wait(0), LockTimeoutError);
              continue;
            }
            assert.deepEqual(await Promise.all(pending), pending.map(() => false));
            pending = [];
            phases++;
          }
          // Destroying wakes the parties still waiting; they reject, and the heap is sound.
          barrier.destroy();
          for (const arrival of pending) await assert.rejects(arrival, InvalidPointerError);
          heap.check();
          assert.ok(phases <= ops.length);
        },
      ),
      { numRuns: 60 },
    );
  });
});
