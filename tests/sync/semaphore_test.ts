import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import { LockTimeoutError, Mutex, Semaphore } from "../../src/sync/mod.ts";
import { _setCanBlockForTesting } from "../../src/sync/_blocking.ts";

function heap(): Heap {
  return Heap.create({ initialBytes: 64 * 1024 });
}

describe("Semaphore.create / Semaphore.at", () => {
  it("starts with the given permits, 0 by default", () => {
    const h = heap();
    assert.equal(Semaphore.create(h).value, 0);
    const semaphore = Semaphore.create(h, 5);
    assert.equal(semaphore.value, 5);
    assert.equal(semaphore.ptr % 8, 0);
    assert.equal(Semaphore.at(Heap.attach(h.buffer), semaphore.ptr).value, 5);
    assert.equal(Semaphore.create(h, 2 ** 31 - 1).value, 2 ** 31 - 1);
    h.check();
  });

  it("rejects initial permits that are not an integer in [0, 2^31)", () => {
    const h = heap();
    const live = h.stats().liveAllocations;
    for (const initial of [-1, 1.5, NaN, 2 ** 31, Infinity]) {
      assert.throws(
        () => Semaphore.create(h, initial),
        (error) =>
          error instanceof RangeError &&
          error.message ===
            `Cannot create semaphore: initial permits must be an integer in [0, 2^31): ${initial}`,
      );
    }
    assert.equal(h.stats().liveAllocations, live, "nothing was allocated");
  });

  it("rejects pointers that do not hold a semaphore", () => {
    const h = heap();
    assert.throws(() => Semaphore.at(h, Mutex.create(h).ptr), /does not hold a semaphore/);
    assert.throws(() => Semaphore.at(h, 12), InvalidPointerError);
  });

  it("destroy frees it", () => {
    const h = heap();
    const semaphore = Semaphore.create(h, 1);
    const live = h.stats().liveAllocations;
    semaphore.destroy();
    assert.equal(h.stats().liveAllocations, live - 1);
    assert.throws(() => Semaphore.at(h, semaphore.ptr), InvalidPointerError);
    h.check();
  });
});

describe("Semaphore acquire / tryAcquire / release", () => {
  it("counts permits down and up", () => {
    const semaphore = Semaphore.create(heap(), 2);
    semaphore.acquire();
    assert.equal(semaphore.tryAcquire(), true);
    assert.equal(semaphore.tryAcquire(), false);
    assert.equal(semaphore.value, 0);
    semaphore.release();
    assert.equal(semaphore.value, 1);
    semaphore.release(3);
    assert.equal(semaphore.value, 4);
  });

  it("times out with LockTimeoutError that names no owner", () => {
    const semaphore = Semaphore.create(heap(), 0);
    const started = performance.now();
    assert.throws(
      () => semaphore.acquire(20),
      (error) =>
        error instanceof LockTimeoutError && error.ownerId === 0 && error.timeoutMs === 20 &&
        error.message === "Cannot acquire semaphore: timed out after 20 ms",
    );
    assert.ok(performance.now() - started >= 15);
    assert.throws(() => semaphore.acquire(0), LockTimeoutError);
    assert.equal(semaphore.value, 0);
  });

  it("times out by spinning where the thread may not block", () => {
    const semaphore = Semaphore.create(heap(), 0);
    _setCanBlockForTesting(false);
    try {
      assert.throws(() => semaphore.acquire(10), LockTimeoutError);
      semaphore.release();
      semaphore.acquire(10);
    } finally {
      _setCanBlockForTesting(undefined);
    }
  });

  it("rejects bad permit counts and overflow without changing the count", () => {
    const semaphore = Semaphore.create(heap(), 2 ** 31 - 2);
    for (const permits of [0, -1, 1.5, NaN]) {
      assert.throws(() => semaphore.release(permits), /permits must be a positive integer/);
    }
    semaphore.release(1);
    assert.throws(
      () => semaphore.release(1),
      {
        name: "RangeError",
        message: "Cannot release semaphore: the count would exceed 2^31 - 1: 2147483647 + 1",
      },
    );
    assert.equal(semaphore.value, 2 ** 31 - 1);
  });

  it("rejects a negative timeout with RangeError", async () => {
    const semaphore = Semaphore.create(heap(), 1);
    assert.throws(() => semaphore.acquire(-1), RangeError);
    await assert.rejects(semaphore.acquireAsync(NaN), RangeError);
    assert.equal(semaphore.value, 1);
  });
});

describe("Semaphore acquireAsync", () => {
  it("resolves at once when a permit is free", async () => {
    const semaphore = Semaphore.create(heap(), 1);
    await semaphore.acquireAsync();
    assert.equal(semaphore.value, 0);
  });

  it("resolves when a permit is released later", async () => {
    const semaphore = Semaphore.create(heap(), 0);
    const acquired = semaphore.acquireAsync(5000);
    setTimeout(() => semaphore.release(), 10);
    await acquired;
    assert.equal(semaphore.value, 0);
  });

  it("rejects with LockTimeoutError", async () => {
    const semaphore = Semaphore.create(heap(), 0);
    await assert.rejects(semaphore.acquireAsync(20), LockTimeoutError);
  });

  it("hands out exactly the released permits to several waiters", async () => {
    const semaphore = Semaphore.create(heap(), 0);
    let acquired = 0;
    const waits = [0, 1, 2].map(() =>
      semaphore.acquireAsync(200).then(() => acquired++, (error) => error)
    );
    semaphore.release(2);
    const results = await Promise.all(waits);
    assert.equal(acquired, 2);
    assert.equal(results.filter((r) => r instanceof LockTimeoutError).length, 1);
    assert.equal(semaphore.value, 0);
  });
});
