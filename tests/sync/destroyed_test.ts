// Issue 9, item 4: any use of a destroyed lock object, through the handle that
// destroyed it or another one opened on the same pointer, throws
// InvalidPointerError and writes nothing into the freed memory.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import { Barrier, Condition, Mutex, Semaphore } from "../../src/sync/mod.ts";

type Use = [name: string, run: () => unknown];

/** Runs every use, each of which must throw InvalidPointerError and leave the heap bytes alone. */
async function assertDead(heap: Heap, uses: Use[]): Promise<void> {
  for (const [name, run] of uses) {
    const before = heap.u8.slice();
    let result: unknown;
    assert.throws(
      () => {
        result = run();
        if (!(result instanceof Promise)) return;
      },
      InvalidPointerError,
      name,
    );
    if (result instanceof Promise) await assert.rejects(result, InvalidPointerError, name);
    assert.deepEqual(heap.u8.slice(), before, `${name} wrote into the heap`);
  }
  heap.check();
}

/** Like assertDead, for uses that return a promise that must reject. */
async function assertDeadAsync(
  heap: Heap,
  uses: [string, () => Promise<unknown>][],
): Promise<void> {
  for (const [name, run] of uses) {
    const before = heap.u8.slice();
    await assert.rejects(run, InvalidPointerError, name);
    assert.deepEqual(heap.u8.slice(), before, `${name} wrote into the heap`);
  }
  heap.check();
}

function setup(): { heap: Heap; other: Heap } {
  const heap = Heap.create({ initialBytes: 64 * 1024, lockTimeoutMs: 50 });
  return { heap, other: Heap.attach(heap.buffer) };
}

describe("a destroyed Mutex", () => {
  for (const via of ["the destroying handle", "another handle"]) {
    it(`throws InvalidPointerError on every use through ${via}, writing nothing`, async () => {
      const { heap, other } = setup();
      const mutex = Mutex.create(heap);
      const stale = Mutex.at(other, mutex.ptr);
      mutex.destroy();
      const m = via === "another handle" ? stale : mutex;
      await assertDead(heap, [
        ["lock", () => m.lock()],
        ["lock(0)", () => m.lock(0)],
        ["tryLock", () => m.tryLock()],
        ["lockIfAvailable", () => m.lockIfAvailable()],
        ["lockIfAvailable(5)", () => m.lockIfAvailable(5)],
        ["guard", () => m.guard()],
        ["unlock", () => m.unlock()],
        ["owner", () => m.owner],
        ["forceRelease", () => m.forceRelease(other.workerId)],
        ["destroy", () => m.destroy()],
      ]);
      await assertDeadAsync(heap, [
        ["lockAsync", () => m.lockAsync()],
        ["guardAsync", () => m.guardAsync()],
      ]);
    });
  }

  it("wakes a waiter of another handle, which then throws InvalidPointerError", async () => {
    const { heap, other } = setup();
    const mutex = Mutex.create(heap);
    const stale = Mutex.at(other, mutex.ptr);
    mutex.lock();
    const waiting = stale.lockAsync(60_000);
    mutex.destroy();
    await assert.rejects(waiting, InvalidPointerError);
    heap.check();
  });
});

describe("a destroyed Condition", () => {
  for (const via of ["the destroying handle", "another handle"]) {
    it(`throws InvalidPointerError on every use through ${via}, writing nothing`, async () => {
      const { heap, other } = setup();
      const condition = Condition.create(heap);
      const stale = Condition.at(other, condition.ptr);
      const mutex = Mutex.create(heap);
      condition.destroy();
      const c = via === "another handle" ? stale : condition;
      mutex.lock();
      await assertDead(heap, [
        ["notifyOne", () => c.notifyOne()],
        ["notifyAll", () => c.notifyAll()],
        ["notify", () => c.notify(3)],
        ["wait", () => c.wait(mutex, 5)],
        ["waitFor", () => c.waitFor(mutex, 5, () => false)],
        ["destroy", () => c.destroy()],
      ]);
      await assertDeadAsync(heap, [
        ["waitAsync", () => c.waitAsync(mutex, 5)],
        ["waitForAsync", () => c.waitForAsync(mutex, 5, () => false)],
      ]);
      assert.equal(mutex.owner, heap.workerId, "the mutex was not released");
      mutex.unlock();
    });
  }
});

describe("a destroyed Semaphore", () => {
  for (const via of ["the destroying handle", "another handle"]) {
    it(`throws InvalidPointerError on every use through ${via}, writing nothing`, async () => {
      const { heap, other } = setup();
      const semaphore = Semaphore.create(heap, 2);
      const stale = Semaphore.at(other, semaphore.ptr);
      semaphore.destroy();
      const s = via === "another handle" ? stale : semaphore;
      await assertDead(heap, [
        ["release", () => s.release()],
        ["acquire", () => s.acquire(5)],
        ["tryAcquire", () => s.tryAcquire()],
        ["value", () => s.value],
        ["destroy", () => s.destroy()],
      ]);
      await assertDeadAsync(heap, [["acquireAsync", () => s.acquireAsync(5)]]);
    });
  }

  it("wakes a waiter of another handle, which then throws InvalidPointerError", async () => {
    const { heap, other } = setup();
    const semaphore = Semaphore.create(heap, 0);
    const waiting = Semaphore.at(other, semaphore.ptr).acquireAsync(60_000);
    semaphore.destroy();
    await assert.rejects(waiting, InvalidPointerError);
    heap.check();
  });
});

describe("a destroyed Barrier", () => {
  for (const via of ["the destroying handle", "another handle"]) {
    it(`throws InvalidPointerError on every use through ${via}, writing nothing`, async () => {
      const { heap, other } = setup();
      const barrier = Barrier.create(heap, 2);
      const stale = Barrier.at(other, barrier.ptr);
      barrier.destroy();
      const b = via === "another handle" ? stale : barrier;
      await assertDead(heap, [
        ["wait", () => b.wait(5)],
        ["parties", () => b.parties],
        ["destroy", () => b.destroy()],
      ]);
      await assertDeadAsync(heap, [["waitAsync", () => b.waitAsync(5)]]);
    });
  }

  it("wakes a waiter of another handle, which then throws InvalidPointerError", async () => {
    const { heap, other } = setup();
    const barrier = Barrier.create(heap, 2);
    const waiting = Barrier.at(other, barrier.ptr).waitAsync(60_000);
    barrier.destroy();
    await assert.rejects(waiting, InvalidPointerError);
    heap.check();
  });
});
