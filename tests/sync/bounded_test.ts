// Issue 9, item 3: every wait is bounded by default, and a wait for another
// handle of the same thread fails at once as a deadlock.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import {
  Barrier,
  Condition,
  LockStateError,
  LockTimeoutError,
  lockWord,
  Mutex,
  Semaphore,
  unlockWord,
} from "../../src/sync/mod.ts";
import { DEFAULT_LOCK_TIMEOUT_MS, defaultTimeoutMs } from "../../src/sync/_object.ts";
import { remoteHost } from "./_remote.ts";

/** The heap lock's word index in the header. */
const HEAP_LOCK_WORD = 5;
/** Far above any wait these tests expect: a deadlock would take this long to time out. */
const LONG_MS = 20_000;

function timeoutOf(ms: number): (error: unknown) => boolean {
  return (error) => error instanceof LockTimeoutError && error.timeoutMs === ms;
}

function isDeadlock(ownerId: number, callerId: number): (error: unknown) => boolean {
  return (error) =>
    error instanceof LockStateError && error.ownerId === ownerId && error.callerId === callerId &&
    /another heap handle of this same thread/.test(error.message) &&
    /deadlock/.test(error.message);
}

describe("default timeouts come from the heap's lockTimeoutMs", () => {
  it("Heap.lockTimeoutMs reads the header", () => {
    assert.equal(Heap.create({ lockTimeoutMs: 30 }).lockTimeoutMs, 30);
    assert.equal(Heap.create().lockTimeoutMs, 10_000);
  });

  it("a host without a positive lockTimeoutMs gets the finite default", () => {
    const base = { i32: new Int32Array(new SharedArrayBuffer(8)), workerId: 1 };
    const host = { ...base, alloc: () => 8, free: () => {} };
    assert.equal(DEFAULT_LOCK_TIMEOUT_MS, 10_000);
    assert.equal(defaultTimeoutMs(host), 10_000);
    for (const lockTimeoutMs of [0, -1, NaN, Infinity]) {
      assert.equal(defaultTimeoutMs({ ...host, lockTimeoutMs }), 10_000);
    }
    assert.equal(defaultTimeoutMs({ ...host, lockTimeoutMs: 25 }), 25);
  });

  it("Mutex.lock() gives up after lockTimeoutMs when the holder never unlocks", async () => {
    const heap = Heap.create({ lockTimeoutMs: 30 });
    const mutex = Mutex.create(heap);
    Mutex.at(remoteHost(heap), mutex.ptr).lock(); // a worker that died holding it
    assert.throws(() => mutex.lock(), timeoutOf(30));
    assert.throws(() => mutex.guard(), timeoutOf(30));
    await assert.rejects(mutex.lockAsync(), timeoutOf(30));
    await assert.rejects(mutex.guardAsync(), timeoutOf(30));
  });

  it("Semaphore.acquire() gives up after lockTimeoutMs", async () => {
    const heap = Heap.create({ lockTimeoutMs: 30 });
    const semaphore = Semaphore.create(heap, 0);
    assert.throws(() => semaphore.acquire(), timeoutOf(30));
    await assert.rejects(semaphore.acquireAsync(), timeoutOf(30));
    assert.equal(semaphore.value, 0);
  });

  it("Condition.wait() sleeps at most lockTimeoutMs", async () => {
    const heap = Heap.create({ lockTimeoutMs: 30 });
    const mutex = Mutex.create(heap);
    const condition = Condition.create(heap);
    mutex.lock();
    assert.equal(condition.wait(mutex), false);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
    await mutex.lockAsync();
    assert.equal(await condition.waitAsync(mutex), false);
    mutex.unlock();
  });

  it("Barrier.wait() gives up after lockTimeoutMs", async () => {
    const heap = Heap.create({ lockTimeoutMs: 30 });
    const barrier = Barrier.create(heap, 2);
    assert.throws(() => barrier.wait(), timeoutOf(30));
    await assert.rejects(barrier.waitAsync(), timeoutOf(30));
  });
});

describe("Condition re-lock after a wait is bounded", () => {
  it("waitAsync rejects when the mutex stays held, and the caller does not hold it", async () => {
    const heap = Heap.create({ lockTimeoutMs: 40 });
    const mutex = Mutex.create(heap);
    const condition = Condition.create(heap);
    const other = remoteHost(heap);
    const theirs = Mutex.at(other, mutex.ptr);
    const token = await mutex.lockAsync();
    const waiting = condition.waitAsync(mutex, 10);
    theirs.lock(); // taken while the caller sleeps, and never released
    await assert.rejects(
      waiting,
      (error) =>
        error instanceof LockTimeoutError && error.ownerId === other.workerId &&
        error.timeoutMs === 40 && /the caller no longer holds it/.test(error.message),
    );
    assert.equal(mutex.owner, other.workerId);
    assert.equal(token.locked, false);
    token[Symbol.dispose](); // nothing to unlock
    assert.equal(mutex.owner, other.workerId);
  });
});

describe("a wait for another handle of the same thread fails at once", () => {
  it("Mutex.lock throws LockStateError naming the deadlock instead of waiting", () => {
    const heap = Heap.create({ lockTimeoutMs: LONG_MS });
    const other = Heap.attach(heap.buffer);
    const mutex = Mutex.create(heap);
    const theirs = Mutex.at(other, mutex.ptr);
    theirs.lock();
    const started = performance.now();
    assert.throws(() => mutex.lock(), isDeadlock(other.workerId, heap.workerId));
    assert.throws(() => mutex.lock(LONG_MS), isDeadlock(other.workerId, heap.workerId));
    assert.throws(() => mutex.lockIfAvailable(LONG_MS), isDeadlock(other.workerId, heap.workerId));
    assert.ok(performance.now() - started < LONG_MS / 2, "did not wait for the timeout");
    assert.equal(mutex.lockIfAvailable(), null, "a zero timeout does not wait, so is no deadlock");
    assert.equal(mutex.tryLock(), false);
    assert.equal(mutex.owner, other.workerId, "nothing changed");
    theirs.unlock();
    mutex.lock();
    mutex.unlock();
  });

  it("lockWord on the heap's own lock word refuses the same way", () => {
    const heap = Heap.create({ lockTimeoutMs: LONG_MS });
    const other = Heap.attach(heap.buffer);
    lockWord(other.i32, HEAP_LOCK_WORD, other.workerId, 1000);
    const started = performance.now();
    try {
      // An arena allocation takes the heap lock, held by a handle of this thread.
      assert.throws(() => heap.alloc(5000), isDeadlock(other.workerId, heap.workerId));
    } finally {
      unlockWord(other.i32, HEAP_LOCK_WORD, other.workerId);
    }
    assert.ok(performance.now() - started < LONG_MS / 2, "did not wait for the timeout");
    heap.free(heap.alloc(5000));
    heap.check();
  });

  it("a holder in another worker is waited for, not refused", () => {
    const heap = Heap.create();
    const mutex = Mutex.create(heap);
    const other = remoteHost(heap);
    Mutex.at(other, mutex.ptr).lock();
    assert.throws(
      () => mutex.lock(10),
      (error) => error instanceof LockTimeoutError && error.ownerId === other.workerId,
    );
  });

  it("lockAsync waits for another handle of this thread (it can unlock while we await)", async () => {
    const heap = Heap.create();
    const other = Heap.attach(heap.buffer);
    const mutex = Mutex.create(heap);
    const theirs = Mutex.at(other, mutex.ptr);
    theirs.lock();
    setTimeout(() => theirs.unlock(), 5);
    const token = await mutex.lockAsync(5000);
    assert.equal(mutex.owner, heap.workerId);
    token.unlock();
  });
});
