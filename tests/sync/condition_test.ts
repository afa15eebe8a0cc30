import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import { Condition, LockStateError, Mutex } from "../../src/sync/mod.ts";
import { _setCanBlockForTesting } from "../../src/sync/_blocking.ts";

function setup(): { heap: Heap; mutex: Mutex; condition: Condition } {
  const heap = Heap.create({ initialBytes: 64 * 1024 });
  return { heap, mutex: Mutex.create(heap), condition: Condition.create(heap) };
}

const sequenceOf = (heap: Heap, condition: Condition): number =>
  heap.i32[(condition.ptr >>> 2) + 1];

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("Condition.create / Condition.at", () => {
  it("allocates a condition that another handle can open", () => {
    const { heap, condition } = setup();
    assert.equal(condition.ptr % 8, 0);
    const other = Condition.at(Heap.attach(heap.buffer), condition.ptr);
    assert.equal(other.ptr, condition.ptr);
    heap.check();
  });

  it("rejects pointers that do not hold a condition", () => {
    const { heap, mutex, condition } = setup();
    assert.throws(
      () => Condition.at(heap, mutex.ptr),
      (error) =>
        error instanceof InvalidPointerError &&
        /^Cannot open a condition at pointer: \d+ does not hold a condition: magic word is 0x4d555458$/
          .test(error.message),
    );
    assert.throws(() => Condition.at(heap, condition.ptr + 4), InvalidPointerError);
    assert.throws(() => Condition.at(heap, 0), InvalidPointerError);
  });

  it("destroy frees it", () => {
    const { heap, condition } = setup();
    const live = heap.stats().liveAllocations;
    condition.destroy();
    assert.equal(heap.stats().liveAllocations, live - 1);
    assert.throws(() => Condition.at(heap, condition.ptr), InvalidPointerError);
    heap.check();
  });
});

describe("Condition wait", () => {
  it("returns false on timeout and holds the mutex again", () => {
    const { heap, mutex, condition } = setup();
    mutex.lock();
    const started = performance.now();
    assert.equal(condition.wait(mutex, 20), false);
    assert.ok(performance.now() - started >= 15);
    assert.equal(mutex.owner, heap.workerId);
    assert.equal(condition.wait(mutex, 0), false);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("throws LockStateError without waiting when the mutex is not held", () => {
    const { heap, mutex, condition } = setup();
    assert.throws(
      () => condition.wait(mutex, 1000),
      (error) => error instanceof LockStateError && error.ownerId === 0,
    );
    const theirs = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
    theirs.lock();
    assert.throws(() => condition.wait(mutex, 1000), LockStateError);
    assert.equal(mutex.owner, theirs.owner);
    theirs.unlock();
  });

  it("rejects a negative timeout with RangeError and keeps the mutex", () => {
    const { heap, mutex, condition } = setup();
    mutex.lock();
    assert.throws(() => condition.wait(mutex, -1), RangeError);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("times out by spinning where the thread may not block", () => {
    const { heap, mutex, condition } = setup();
    _setCanBlockForTesting(false);
    try {
      mutex.lock();
      assert.equal(condition.wait(mutex, 10), false);
      assert.equal(mutex.owner, heap.workerId);
      mutex.unlock();
    } finally {
      _setCanBlockForTesting(undefined);
    }
  });
});

describe("Condition waitAsync / notifyOne / notifyAll", () => {
  it("waitAsync returns true when notified and holds the mutex again", async () => {
    const { heap, mutex, condition } = setup();
    await mutex.lockAsync();
    setTimeout(() => condition.notifyOne(), 5);
    assert.equal(await condition.waitAsync(mutex, 5000), true);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("waitAsync returns false on timeout", async () => {
    const { heap, mutex, condition } = setup();
    await mutex.lockAsync();
    const started = performance.now();
    assert.equal(await condition.waitAsync(mutex, 20), false);
    assert.ok(performance.now() - started >= 15);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("waitAsync rejects when the mutex is not held", async () => {
    const { mutex, condition } = setup();
    await assert.rejects(condition.waitAsync(mutex, 10), LockStateError);
  });

  it("waitAsync waits for the mutex after being notified", async () => {
    const { heap, mutex, condition } = setup();
    const theirs = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
    mutex.lock();
    const woken = condition.waitAsync(mutex, 5000);
    theirs.lock();
    condition.notifyAll();
    await delay(10);
    assert.equal(mutex.owner, theirs.owner, "still held by the notifier");
    theirs.unlock();
    assert.equal(await woken, true);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("notifyOne wakes one waiter, notifyAll the rest, and both bump the sequence", async () => {
    const { heap, mutex, condition } = setup();
    assert.equal(condition.notifyOne(), 0);
    assert.equal(condition.notifyAll(), 0);
    const before = sequenceOf(heap, condition);
    // Two waiters need two owners: the owner is the heap handle, not the async task.
    const mutex2 = Mutex.at(Heap.attach(heap.buffer), mutex.ptr);
    mutex.lock();
    const first = condition.waitAsync(mutex, 5000);
    mutex2.lock();
    const second = condition.waitAsync(mutex2, 5000);
    assert.equal(mutex.owner, 0);
    assert.equal(condition.notifyOne(), 1);
    assert.equal(condition.notifyAll(), 1);
    assert.equal(sequenceOf(heap, condition), before + 2);
    const results = await Promise.all([
      first.then((woken) => (mutex.unlock(), woken)),
      second.then((woken) => (mutex2.unlock(), woken)),
    ]);
    assert.deepEqual(results, [true, true]);
    assert.equal(mutex.owner, 0);
  });

  it("a notification between reading the sequence and sleeping is not lost", () => {
    const { heap, mutex, condition } = setup();
    mutex.lock();
    // A notify that lands after wait() has read the sequence and unlocked, but
    // before it sleeps: injected by wrapping unlock.
    const unlock = mutex.unlock.bind(mutex);
    mutex.unlock = () => {
      unlock();
      condition.notifyOne();
    };
    const started = performance.now();
    assert.equal(condition.wait(mutex, 5000), true);
    assert.ok(performance.now() - started < 1000);
    assert.equal(mutex.owner, heap.workerId);
    unlock();
  });
});
