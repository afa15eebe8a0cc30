/// <reference lib="deno.worker" />
// Worker side of tests/sync/workers_test.ts and bench/sync_bench.ts: attaches the
// heap it is sent, runs one task on it and posts a reply.

import { Heap } from "../../mod.ts";
import { Barrier, Condition, Mutex, Semaphore } from "../../src/sync/mod.ts";

/** Queue layout in heap words, relative to the queue's first word. */
export const Q_HEAD = 0;
export const Q_TAIL = 1;
export const Q_COUNT = 2;
export const Q_CONSUMED = 3;
export const Q_SLOTS = 4;
export const Q_CAPACITY = 16;

/** Bench control words, relative to the control block's first word. */
export const C_READY = 0;
export const C_GO = 1;
export const C_DONE = 2;

export type Task =
  | {
    task: "counter";
    buffer: SharedArrayBuffer;
    mutex: number;
    counter: number;
    iterations: number;
    add: number;
  }
  | {
    task: "producer";
    buffer: SharedArrayBuffer;
    mutex: number;
    notEmpty: number;
    notFull: number;
    queue: number;
    first: number;
    count: number;
  }
  | {
    task: "consumer";
    buffer: SharedArrayBuffer;
    mutex: number;
    notEmpty: number;
    notFull: number;
    queue: number;
    seen: number;
    total: number;
  }
  | {
    task: "semaphore";
    buffer: SharedArrayBuffer;
    semaphore: number;
    inside: number;
    iterations: number;
  }
  | { task: "acquire"; buffer: SharedArrayBuffer; semaphore: number; timeoutMs: number }
  | { task: "hold"; buffer: SharedArrayBuffer; mutex: number }
  | { task: "lock"; buffer: SharedArrayBuffer; mutex: number; timeoutMs: number }
  | { task: "unlock"; buffer: SharedArrayBuffer; mutex: number }
  | { task: "park"; buffer: SharedArrayBuffer; index: number; timeoutMs: number }
  | { task: "ping"; buffer: SharedArrayBuffer }
  | { task: "holdNotify"; buffer: SharedArrayBuffer; mutex: number; condition: number }
  | {
    task: "barrier";
    buffer: SharedArrayBuffer;
    barrier: number;
    /** First word of one phase word per worker. */
    slots: number;
    /** This worker's index among the parties. */
    index: number;
    phases: number;
  }
  | {
    task: "bench";
    buffer: SharedArrayBuffer;
    kind: "mutex" | "spin";
    /** Mutex pointer (kind "mutex") or lock word index (kind "spin"). */
    lock: number;
    counter: number;
    control: number;
    increments: number;
  };

/** What a worker posts back: its worker id and either a result or an error. */
export interface Reply {
  workerId: number;
  ok: boolean;
  value?: number;
  error?: string;
  errorName?: string;
}

/** Waits this long at most for any one step, so a broken lock fails instead of hanging. */
const STEP_TIMEOUT_MS = 10_000;

self.onmessage = (event: MessageEvent<Task>) => {
  const data = event.data;
  const heap = Heap.attach(data.buffer);
  try {
    const value = run(heap, data);
    if (value !== undefined) self.postMessage({ workerId: heap.workerId, ok: true, value });
  } catch (error) {
    const e = error as Error;
    self.postMessage({ workerId: heap.workerId, ok: false, error: e.message, errorName: e.name });
  }
};

function run(heap: Heap, data: Task): number | undefined {
  const i32 = heap.i32;
  switch (data.task) {
    case "counter": {
      const mutex = Mutex.at(heap, data.mutex);
      for (let i = 0; i < data.iterations; i++) {
        mutex.lock(STEP_TIMEOUT_MS);
        // A plain read-modify-write: a broken lock loses updates.
        i32[data.counter] = i32[data.counter] + data.add;
        mutex.unlock();
      }
      return data.iterations;
    }
    case "producer":
      return produce(heap, data);
    case "consumer":
      return consume(heap, data);
    case "semaphore": {
      const semaphore = Semaphore.at(heap, data.semaphore);
      let most = 0;
      for (let i = 0; i < data.iterations; i++) {
        semaphore.acquire(STEP_TIMEOUT_MS);
        const inside = Atomics.add(i32, data.inside, 1) + 1;
        if (inside > most) most = inside;
        Atomics.sub(i32, data.inside, 1);
        semaphore.release();
      }
      return most;
    }
    case "acquire": {
      const started = performance.now();
      Semaphore.at(heap, data.semaphore).acquire(data.timeoutMs);
      return performance.now() - started;
    }
    case "hold": {
      Mutex.at(heap, data.mutex).lock(STEP_TIMEOUT_MS);
      self.postMessage({ workerId: heap.workerId, ok: true, value: 0 });
      return undefined; // keeps the lock until terminated
    }
    case "lock": {
      const mutex = Mutex.at(heap, data.mutex);
      self.postMessage({ workerId: heap.workerId, ok: true, value: -1 }); // about to wait
      const started = performance.now();
      mutex.lock(data.timeoutMs);
      const waitedMs = performance.now() - started;
      mutex.unlock();
      return waitedMs;
    }
    case "unlock": {
      Mutex.at(heap, data.mutex).unlock();
      return 0;
    }
    case "park": {
      // Sleep on a word as a lock waiter would, then leave without locking.
      const value = Atomics.load(i32, data.index);
      self.postMessage({ workerId: heap.workerId, ok: true, value: -1 }); // about to wait
      const result = Atomics.wait(i32, data.index, value, data.timeoutMs);
      return result === "ok" ? 1 : 0;
    }
    case "bench":
      return bench(heap, data);
    case "ping":
      return 0;
    case "holdNotify": {
      // Take the mutex (the waiter has released it), wake the waiter, keep the mutex.
      Mutex.at(heap, data.mutex).lock(STEP_TIMEOUT_MS);
      Condition.at(heap, data.condition).notifyAll();
      self.postMessage({ workerId: heap.workerId, ok: true, value: 0 });
      return undefined; // keeps the lock until terminated
    }
    case "barrier":
      return phases(heap, data);
  }
}

function produce(heap: Heap, data: Extract<Task, { task: "producer" }>): number {
  const i32 = heap.i32;
  const mutex = Mutex.at(heap, data.mutex);
  const notEmpty = Condition.at(heap, data.notEmpty);
  const notFull = Condition.at(heap, data.notFull);
  const q = data.queue;
  for (let k = 0; k < data.count; k++) {
    mutex.lock(STEP_TIMEOUT_MS);
    const deadline = performance.now() + STEP_TIMEOUT_MS;
    while (i32[q + Q_COUNT] === Q_CAPACITY) {
      if (performance.now() > deadline) throw new Error("Producer stuck: queue stays full");
      notFull.wait(mutex, 100);
    }
    const tail = i32[q + Q_TAIL];
    i32[q + Q_SLOTS + tail] = data.first + k;
    i32[q + Q_TAIL] = (tail + 1) % Q_CAPACITY;
    i32[q + Q_COUNT] += 1;
    notEmpty.notifyOne();
    mutex.unlock();
  }
  return data.count;
}

function consume(heap: Heap, data: Extract<Task, { task: "consumer" }>): number {
  const i32 = heap.i32;
  const mutex = Mutex.at(heap, data.mutex);
  const notEmpty = Condition.at(heap, data.notEmpty);
  const notFull = Condition.at(heap, data.notFull);
  const q = data.queue;
  let taken = 0;
  for (let round = 0; round <= data.total; round++) {
    mutex.lock(STEP_TIMEOUT_MS);
    const deadline = performance.now() + STEP_TIMEOUT_MS;
    while (i32[q + Q_COUNT] === 0 && i32[q + Q_CONSUMED] < data.total) {
      if (performance.now() > deadline) throw new Error("Consumer stuck: queue stays empty");
      notEmpty.wait(mutex, 100);
    }
    if (i32[q + Q_CONSUMED] === data.total) {
      mutex.unlock();
      return taken;
    }
    const head = i32[q + Q_HEAD];
    const value = i32[q + Q_SLOTS + head];
    i32[q + Q_HEAD] = (head + 1) % Q_CAPACITY;
    i32[q + Q_COUNT] -= 1;
    i32[q + Q_CONSUMED] += 1;
    i32[data.seen + value] += 1;
    taken++;
    if (i32[q + Q_CONSUMED] === data.total) notEmpty.notifyAll();
    notFull.notifyOne();
    mutex.unlock();
  }
  throw new Error("Consumer took more rounds than there are items");
}

/** Bench task: announce readiness, wait for the go word, increment, count done. */
function bench(heap: Heap, data: Extract<Task, { task: "bench" }>): number {
  const i32 = heap.i32;
  const { counter, control, increments } = data;
  Atomics.add(i32, control + C_READY, 1);
  Atomics.notify(i32, control + C_READY);
  Atomics.wait(i32, control + C_GO, 0, STEP_TIMEOUT_MS);
  if (data.kind === "mutex") {
    const mutex = Mutex.at(heap, data.lock);
    for (let i = 0; i < increments; i++) {
      mutex.lock();
      i32[counter]++;
      mutex.unlock();
    }
  } else {
    const word = data.lock;
    for (let i = 0; i < increments; i++) {
      while (Atomics.compareExchange(i32, word, 0, 1) !== 0) { /* spin */ }
      i32[counter]++;
      Atomics.store(i32, word, 0);
    }
  }
  Atomics.add(i32, control + C_DONE, 1);
  Atomics.notify(i32, control + C_DONE);
  return increments;
}

/**
 * Barrier task: in each phase, write the phase number into this worker's slot,
 * meet, check every slot holds the same phase, meet again. Returns how often
 * this worker was the last to arrive.
 */
function phases(heap: Heap, data: Extract<Task, { task: "barrier" }>): number {
  const i32 = heap.i32;
  const barrier = Barrier.at(heap, data.barrier);
  const parties = barrier.parties;
  let last = 0;
  for (let phase = 1; phase <= data.phases; phase++) {
    Atomics.store(i32, data.slots + data.index, phase);
    if (barrier.wait(STEP_TIMEOUT_MS)) last++;
    for (let other = 0; other < parties; other++) {
      const seen = Atomics.load(i32, data.slots + other);
      if (seen !== phase) {
        throw new Error(`Phase ${phase}: worker ${other} is at phase ${seen}`);
      }
    }
    if (barrier.wait(STEP_TIMEOUT_MS)) last++;
  }
  return last;
}
