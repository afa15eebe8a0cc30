// The TC39 shared-structs proposal's lock shapes: lock() returning an unlock
// token that works with `using`, lockIfAvailable, Condition.waitFor and notify.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import { Condition, LockStateError, Mutex } from "../../src/sync/mod.ts";
import { remoteHost } from "./_remote.ts";

function setup(): { heap: Heap; mutex: Mutex; theirs: Mutex } {
  const heap = Heap.create({ initialBytes: 64 * 1024 });
  const mutex = Mutex.create(heap);
  return { heap, mutex, theirs: Mutex.at(remoteHost(heap), mutex.ptr) };
}

describe("Mutex tokens", () => {
  it("lock returns the handle's token; it unlocks once, then reports false", () => {
    const { heap, mutex } = setup();
    const token = mutex.lock();
    assert.equal(token.mutex, mutex);
    assert.equal(token.locked, true);
    assert.equal(mutex.owner, heap.workerId);
    assert.equal(token.unlock(), true);
    assert.equal(token.locked, false);
    assert.equal(mutex.owner, 0);
    assert.equal(token.unlock(), false);
    assert.equal(mutex.lock(), token, "one token per handle");
    mutex.unlock();
  });

  it("a token never unlocks a mutex held by another worker", () => {
    const { mutex, theirs } = setup();
    const token = mutex.lock();
    token.unlock();
    const their = theirs.lock();
    assert.equal(token.locked, false);
    assert.equal(token.unlock(), false);
    token[Symbol.dispose]();
    assert.equal(their.locked, true);
    their.unlock();
  });

  it("using unlocks at the end of the block, also when it throws", () => {
    const { mutex } = setup();
    {
      using token = mutex.lock();
      assert.equal(token.locked, true);
    }
    assert.equal(mutex.owner, 0);
    assert.throws(() => {
      using _ = mutex.lock();
      throw new Error("boom");
    }, /boom/);
    assert.equal(mutex.owner, 0);
  });

  it("lockAsync resolves to the token", async () => {
    const { mutex, theirs } = setup();
    const token = mutex.lock();
    token.unlock();
    assert.equal(await mutex.lockAsync(), token, "at once when free");
    token.unlock();
    theirs.lock();
    setTimeout(() => theirs.unlock(), 5);
    assert.equal(await mutex.lockAsync(5000), token, "after waiting");
    assert.equal(token.locked, true);
    token.unlock();
  });
});

describe("Mutex.lockIfAvailable", () => {
  it("returns the token when free and null when held elsewhere, without changing anything", () => {
    const { heap, mutex, theirs } = setup();
    const token = mutex.lockIfAvailable();
    assert.ok(token !== null && token.locked);
    assert.equal(mutex.owner, heap.workerId);
    token.unlock();
    theirs.lock();
    assert.equal(mutex.lockIfAvailable(), null);
    assert.equal(mutex.lockIfAvailable(0), null);
    const started = performance.now();
    assert.equal(mutex.lockIfAvailable(20), null);
    assert.ok(performance.now() - started >= 15, "waited for the timeout");
    assert.equal(mutex.owner, theirs.owner);
    theirs.unlock();
  });

  it("throws LockStateError when this handle already holds it, and RangeError on a bad timeout", () => {
    const { mutex } = setup();
    mutex.lock();
    assert.throws(() => mutex.lockIfAvailable(), LockStateError);
    mutex.unlock();
    assert.throws(() => mutex.lockIfAvailable(-1), RangeError);
    assert.throws(() => mutex.lockIfAvailable(NaN), RangeError);
    assert.equal(mutex.owner, 0);
  });
});

describe("Condition.waitFor / waitForAsync / notify", () => {
  it("returns true at once when the predicate holds, calling it with the mutex held", () => {
    const { heap, mutex } = setup();
    const condition = Condition.create(heap);
    using _ = mutex.lock();
    let calls = 0;
    assert.equal(
      condition.waitFor(mutex, 1000, () => {
        calls++;
        return mutex.owner === heap.workerId;
      }),
      true,
    );
    assert.equal(calls, 1);
  });

  it("returns the predicate's final value, false, at the deadline, holding the mutex", () => {
    const { heap, mutex } = setup();
    const condition = Condition.create(heap);
    mutex.lock();
    let calls = 0;
    const started = performance.now();
    assert.equal(condition.waitFor(mutex, 20, () => (calls++, false)), false);
    assert.ok(performance.now() - started >= 15);
    assert.ok(calls >= 2, "checked again after the wait");
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("waitForAsync keeps waiting through notifications until the predicate holds", async () => {
    const { heap, mutex } = setup();
    const condition = Condition.create(heap);
    const word = heap.alloc(4) >>> 2;
    heap.i32[word] = 0;
    const timer = setInterval(() => {
      heap.i32[word]++;
      condition.notifyAll();
    }, 2);
    try {
      await mutex.lockAsync();
      assert.equal(await condition.waitForAsync(mutex, 5000, () => heap.i32[word] >= 3), true);
      assert.ok(heap.i32[word] >= 3);
      assert.equal(mutex.owner, heap.workerId);
      mutex.unlock();
    } finally {
      clearInterval(timer);
    }
  });

  it("rejects a predicate that is not a function, and a bad timeout, changing nothing", () => {
    const { heap, mutex } = setup();
    const condition = Condition.create(heap);
    mutex.lock();
    assert.throws(
      () => condition.waitFor(mutex, 10, undefined as unknown as () => boolean),
      TypeError,
    );
    assert.throws(() => condition.waitFor(mutex, -1, () => false), RangeError);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
    assert.throws(() => condition.waitFor(mutex, 10, () => false), LockStateError);
  });

  it("notify(count) wakes at most count sleepers", async () => {
    const { heap } = setup();
    const condition = Condition.create(heap);
    const sleepers = [0, 1, 2].map(() => {
      const handle = Heap.attach(heap.buffer);
      const mutex = Mutex.create(handle);
      return (async () => {
        await mutex.lockAsync();
        const woken = await Condition.at(handle, condition.ptr).waitAsync(mutex, 5000);
        mutex.unlock();
        return woken;
      })();
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(condition.notify(2), 2);
    assert.equal(condition.notify(), 1);
    assert.deepEqual(await Promise.all(sleepers), [true, true, true]);
    assert.throws(() => condition.notify(-1), RangeError);
    assert.throws(() => condition.notify(NaN), RangeError);
  });
});
