// Lock primitives under real Deno workers sharing one heap.

import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import { Barrier, Condition, LockTimeoutError, Mutex, Semaphore } from "../../src/sync/mod.ts";
import { Q_CAPACITY, Q_CONSUMED, Q_SLOTS, type Reply, type Task } from "./_sync_worker.ts";
import { type PoolWorker, withWorkers } from "../_support/pool.ts";

const WORKER_URL = new URL("./_sync_worker.ts", import.meta.url);
/** A reply that takes longer than this fails the test instead of hanging it. */
const REPLY_TIMEOUT_MS = 30_000;

type Peer = PoolWorker<Task, Reply>;

/** Runs `body` with `count` fresh workers and terminates them afterwards. */
function withPeers(count: number, body: (peers: Peer[]) => Promise<void>): Promise<void> {
  return withWorkers(WORKER_URL, count, body, { replyTimeoutMs: REPLY_TIMEOUT_MS });
}

/** The next reply of `peer`, which must be a success; its value. */
async function value(peer: Peer): Promise<number> {
  return (await peer.ok()).value ?? NaN;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function zeroedWords(heap: Heap, count: number): number {
  const ptr = heap.alloc(count * 4);
  heap.i32.fill(0, ptr >>> 2, (ptr >>> 2) + count);
  return ptr >>> 2;
}

Deno.test("Mutex: 4 workers x 200,000 increments plus the main thread's lockAsync", async () => {
  const heap = Heap.create();
  const mutex = Mutex.create(heap);
  const counter = zeroedWords(heap, 1);
  const iterations = 200_000;
  const mainIterations = 2_000;
  await withPeers(4, async (peers) => {
    peers.forEach((peer, i) =>
      peer.send({
        task: "counter",
        buffer: heap.buffer,
        mutex: mutex.ptr,
        counter,
        iterations,
        add: i + 1,
      })
    );
    for (let i = 0; i < mainIterations; i++) {
      await mutex.lockAsync(10_000);
      heap.i32[counter] = heap.i32[counter] + 7;
      mutex.unlock();
      if ((i & 63) === 0) await delay(0); // let the workers' messages in
    }
    for (const peer of peers) assert.equal(await value(peer), iterations);
  });
  assert.equal(heap.i32[counter], iterations * (1 + 2 + 3 + 4) + mainIterations * 7);
  assert.equal(mutex.owner, 0);
  heap.check();
});

Deno.test("Condition: producer/consumer queue loses and duplicates nothing", async () => {
  const heap = Heap.create();
  const mutex = Mutex.create(heap);
  const notEmpty = Condition.create(heap);
  const notFull = Condition.create(heap);
  const queue = zeroedWords(heap, Q_SLOTS + Q_CAPACITY);
  const perProducer = 15_000;
  const producers = 2;
  const consumers = 2;
  const total = perProducer * producers;
  const seen = zeroedWords(heap, total);
  const common = {
    buffer: heap.buffer,
    mutex: mutex.ptr,
    notEmpty: notEmpty.ptr,
    notFull: notFull.ptr,
    queue,
  };
  await withPeers(producers + consumers, async (peers) => {
    for (let c = 0; c < consumers; c++) {
      peers[c].send({ task: "consumer", ...common, seen, total });
    }
    for (let p = 0; p < producers; p++) {
      peers[consumers + p].send({
        task: "producer",
        ...common,
        first: p * perProducer,
        count: perProducer,
      });
    }
    const counts = await Promise.all(peers.map((peer) => value(peer)));
    assert.deepEqual(counts.slice(consumers), Array(producers).fill(perProducer));
    assert.equal(counts.slice(0, consumers).reduce((a, b) => a + b), total);
  });
  assert.equal(heap.i32[queue + Q_CONSUMED], total);
  for (let value = 0; value < total; value++) {
    if (heap.i32[seen + value] !== 1) {
      assert.fail(`value ${value} was delivered ${heap.i32[seen + value]} times`);
    }
  }
  heap.check();
});

Deno.test("Semaphore: never more holders than permits, and permits all return", async () => {
  const heap = Heap.create();
  const semaphore = Semaphore.create(heap, 2);
  const inside = zeroedWords(heap, 1);
  await withPeers(4, async (peers) => {
    for (const peer of peers) {
      peer.send({
        task: "semaphore",
        buffer: heap.buffer,
        semaphore: semaphore.ptr,
        inside,
        iterations: 20_000,
      });
    }
    for (const peer of peers) {
      const most = await value(peer);
      assert.ok(most >= 1 && most <= 2, `a worker saw ${most} holders at once`);
    }
  });
  assert.equal(semaphore.value, 2);
  assert.equal(heap.i32[inside], 0);
});

Deno.test("Semaphore: a worker sleeping in acquire wakes on release", async () => {
  const heap = Heap.create();
  const semaphore = Semaphore.create(heap, 0);
  await withPeers(1, async ([peer]) => {
    peer.send({
      task: "acquire",
      buffer: heap.buffer,
      semaphore: semaphore.ptr,
      timeoutMs: 10_000,
    });
    await delay(30);
    semaphore.release();
    const waitedMs = await value(peer);
    assert.ok(waitedMs < 5_000, `waited ${waitedMs} ms`);
  });
  assert.equal(semaphore.value, 0);
});

Deno.test("Mutex: bad use across workers gives clear errors", async () => {
  const heap = Heap.create();
  const mutex = Mutex.create(heap);
  mutex.lock();
  await withPeers(1, async ([peer]) => {
    peer.send({ task: "unlock", buffer: heap.buffer, mutex: mutex.ptr });
    const unlock = await peer.next();
    assert.equal(unlock.ok, false);
    assert.equal(unlock.errorName, "LockStateError");
    assert.equal(
      unlock.error,
      `Cannot unlock: held by worker ${heap.workerId}, not by the caller, worker ${unlock.workerId}`,
    );

    peer.send({ task: "lock", buffer: heap.buffer, mutex: mutex.ptr, timeoutMs: 30 });
    assert.equal(await value(peer), -1);
    const lock = await peer.next();
    assert.equal(lock.ok, false);
    assert.equal(lock.errorName, "LockTimeoutError");
    assert.equal(
      lock.error,
      `Cannot acquire lock: timed out after 30 ms; held by worker ${heap.workerId}`,
    );
  });
  assert.equal(mutex.owner, heap.workerId);
  mutex.unlock();
});

Deno.test("Mutex: a holder that dies is named by the timeout and can be force-released", async () => {
  const heap = Heap.create();
  const mutex = Mutex.create(heap);
  let deadId = 0;
  await withPeers(1, async ([peer]) => {
    peer.send({ task: "hold", buffer: heap.buffer, mutex: mutex.ptr });
    const held = await peer.next();
    assert.ok(held.ok);
    deadId = held.workerId;
    peer.terminate();
  });
  assert.equal(mutex.owner, deadId);
  const started = performance.now();
  assert.throws(
    () => mutex.lock(50),
    (error) => error instanceof LockTimeoutError && error.ownerId === deadId,
  );
  assert.ok(performance.now() - started < 2_000, "the wait is bounded by its timeout");
  assert.equal(mutex.forceRelease(deadId), true);
  mutex.lock(50);
  assert.equal(mutex.owner, heap.workerId);
  mutex.unlock();
});

// A sleeper that dies in Atomics.wait can swallow the unlock's wake-up. Deno's
// worker.terminate() does not interrupt a worker parked in Atomics.wait (it runs
// on when woken), so the dead sleeper is simulated: a worker parks on the lock
// word directly and, once woken, leaves without taking the lock.
Deno.test("Mutex: a wake-up swallowed by a sleeper that never locks strands no one", async () => {
  const heap = Heap.create();
  const mutex = Mutex.create(heap);
  const state = (mutex.ptr >>> 2) + 1;
  mutex.lock();
  Atomics.or(heap.i32, state, 1); // the parked worker is a waiter
  await withPeers(2, async ([parked, survivor]) => {
    parked.send({ task: "park", buffer: heap.buffer, index: state, timeoutMs: 10_000 });
    assert.equal(await value(parked), -1);
    await delay(50); // first in the wait queue, so the unlock wakes it
    survivor.send({ task: "lock", buffer: heap.buffer, mutex: mutex.ptr, timeoutMs: 10_000 });
    assert.equal(await value(survivor), -1);
    await delay(50);
    mutex.unlock();
    const parkedResult = await value(parked);
    const waitedMs = await value(survivor);
    assert.ok(parkedResult >= 0);
    assert.ok(waitedMs < 2_000, `the survivor waited ${waitedMs} ms`);
  });
  assert.equal(mutex.owner, 0);
});

Deno.test("Barrier: 4 workers x 200 phases, each sees every other in its phase", async () => {
  const heap = Heap.create();
  const parties = 4;
  const phases = 200;
  const barrier = Barrier.create(heap, parties);
  const slots = zeroedWords(heap, parties);
  await withPeers(parties, async (peers) => {
    peers.forEach((peer, index) =>
      peer.send({
        task: "barrier",
        buffer: heap.buffer,
        barrier: barrier.ptr,
        slots,
        index,
        phases,
      })
    );
    let lastArrivals = 0;
    for (const peer of peers) lastArrivals += await value(peer);
    // Exactly one party completes each of the 2 meetings per phase.
    assert.equal(lastArrivals, 2 * phases);
  });
  for (let i = 0; i < parties; i++) assert.equal(heap.i32[slots + i], phases);
  // The barrier is back at the start of a phase, and a lone arrival that times
  // out withdraws: the next phase still needs all 4 (exactly one is last).
  const mine = Barrier.at(heap, barrier.ptr);
  assert.throws(() => mine.wait(1), LockTimeoutError);
  const results = await Promise.all([0, 1, 2, 3].map(() => mine.waitAsync(10_000)));
  assert.deepEqual(results.filter((last) => last).length, 1);
  heap.check();
});

Deno.test("Condition.wait: a re-lock that times out throws and leaves the mutex to its holder", async () => {
  const heap = Heap.create({ lockTimeoutMs: 200 });
  const mutex = Mutex.create(heap);
  const condition = Condition.create(heap);
  await withPeers(1, async ([peer]) => {
    peer.send({ task: "ping", buffer: heap.buffer });
    await value(peer); // the worker is up
    const token = mutex.lock(); // before the worker tries: it waits until our wait unlocks
    peer.send({
      task: "holdNotify",
      buffer: heap.buffer,
      mutex: mutex.ptr,
      condition: condition.ptr,
    });
    // Woken by the worker, which keeps the mutex: the re-lock gives up after 200 ms.
    assert.throws(
      () => condition.wait(mutex, 20_000),
      (error) =>
        error instanceof LockTimeoutError && error.timeoutMs === 200 && error.ownerId !== 0 &&
        /again after waiting on condition \(the caller no longer holds it\)/.test(error.message),
    );
    const holder = await peer.next();
    assert.ok(holder.ok);
    assert.equal(mutex.owner, holder.workerId, "the worker holds it, not the caller");
    assert.equal(token.locked, false);
    token[Symbol.dispose](); // does nothing: the caller does not hold it
    assert.equal(mutex.owner, holder.workerId);
  });
});
