// Lock benchmarks: typedheap's Mutex against a bare Atomics.compareExchange spin
// lock, uncontended and with two workers hammering a shared counter.
//
//   deno bench -A bench/sync_bench.ts

import { Heap } from "../mod.ts";
import { lockWord, Mutex, unlockWord } from "../src/sync/mod.ts";
import type { Reply, Task } from "../tests/sync/_sync_worker.ts";
import { startWorkers, terminateAll } from "../tests/_support/pool.ts";

/** Lock/unlock pairs per uncontended bench iteration (amortises the harness's own cost). */
const PAIRS = 1_000;
/** Increments each worker makes per contended bench iteration. */
const INCREMENTS = 50_000;
const WORKERS = 2;
// The workers' script lives with the sync tests (its "bench" task). Only its
// types are imported: it is a worker module. Its control words, relative to the
// control block:
const WORKER_URL = new URL("../tests/sync/_sync_worker.ts", import.meta.url);
const C_READY = 0;
const C_GO = 1;
const C_DONE = 2;
const CONTROL_WORDS = 4;

type Kind = "mutex" | "spin";

registerBenches();

function registerBenches(): void {
  const heap = Heap.create();
  const i32 = heap.i32;
  // A length-tracking view: V8 runs Atomics on these 3-4x slower.
  const tracking = new Int32Array(heap.buffer);
  const mutex = Mutex.create(heap);
  const spinWord = heap.alloc(8) >>> 2;
  const wordLock = heap.alloc(8) >>> 2;
  i32[spinWord] = 0;
  i32[wordLock] = 0;
  const id = heap.workerId;
  // A plain Int32Array: the bare spin lock's best case, and the bar Mutex must meet.
  const plain = new Int32Array(new SharedArrayBuffer(64));
  // A fixed-length view over the heap's growable buffer (what Mutex keeps internally).
  const fixed = new Int32Array(heap.buffer, 0, heap.byteLength >>> 2);
  const group = "uncontended lock+unlock (x1000)";

  Deno.bench({
    name: "Mutex lock+unlock",
    group,
    baseline: true,
    fn(): void {
      for (let i = 0; i < PAIRS; i++) {
        mutex.lock();
        mutex.unlock();
      }
    },
  });

  Deno.bench({
    name: "Mutex lock+unlock through the token with using",
    group,
    fn(): void {
      for (let i = 0; i < PAIRS; i++) {
        using _ = mutex.lock();
      }
    },
  });

  Deno.bench({
    name: "bare spin lock, plain Int32Array",
    group,
    fn(): void {
      for (let i = 0; i < PAIRS; i++) {
        while (Atomics.compareExchange(plain, 3, 0, 1) !== 0) { /* spin */ }
        Atomics.store(plain, 3, 0);
      }
    },
  });

  Deno.bench({
    name: "lockWord+unlockWord, fixed-length view",
    group,
    fn(): void {
      for (let i = 0; i < PAIRS; i++) {
        lockWord(fixed, wordLock, id, Infinity);
        unlockWord(fixed, wordLock, id);
      }
    },
  });

  Deno.bench({
    name: "bare spin lock, length-tracking view",
    group,
    fn(): void {
      for (let i = 0; i < PAIRS; i++) {
        while (Atomics.compareExchange(tracking, spinWord, 0, 1) !== 0) { /* spin */ }
        Atomics.store(tracking, spinWord, 0);
      }
    },
  });

  Deno.bench({
    name: "lockWord+unlockWord, length-tracking view",
    group,
    fn(): void {
      for (let i = 0; i < PAIRS; i++) {
        lockWord(tracking, wordLock, id, Infinity);
        unlockWord(tracking, wordLock, id);
      }
    },
  });

  const control = heap.alloc(CONTROL_WORDS * 4) >>> 2;
  const counter = heap.alloc(8) >>> 2;

  /** One contended run: workers are started and made ready outside the timed part. */
  async function contended(b: Deno.BenchContext, kind: Kind): Promise<void> {
    i32.fill(0, control, control + CONTROL_WORDS);
    i32[counter] = 0;
    const job: Task = {
      task: "bench",
      buffer: heap.buffer,
      kind,
      lock: kind === "mutex" ? mutex.ptr : spinWord,
      counter,
      control,
      increments: INCREMENTS,
    };
    const workers = startWorkers<Task, Reply>(WORKER_URL, WORKERS);
    const failure = (): string | undefined => workers.find((w) => w.failure)?.failure;
    try {
      for (const worker of workers) worker.send(job);
      await waitFor(i32, control + C_READY, WORKERS, () => failure() !== undefined);
      b.start();
      Atomics.store(i32, control + C_GO, 1);
      Atomics.notify(i32, control + C_GO);
      // Block (the workers run on their own threads) so wake-up latency stays out.
      for (let spins = 0; spins < 30; spins++) {
        const done = Atomics.load(i32, control + C_DONE);
        if (done >= WORKERS) break;
        Atomics.wait(i32, control + C_DONE, done, 1_000);
      }
      b.end();
    } finally {
      terminateAll(workers);
    }
    if (failure() !== undefined) throw new Error(`A bench worker failed: ${failure()}`);
    if (i32[counter] !== WORKERS * INCREMENTS) {
      throw new Error(`Lost increments: ${i32[counter]} != ${WORKERS * INCREMENTS}`);
    }
  }

  Deno.bench({
    name: "Mutex",
    group: `contended counter (${WORKERS} workers x ${INCREMENTS})`,
    baseline: true,
    n: 15,
    warmup: 2,
    async fn(b): Promise<void> {
      await contended(b, "mutex");
    },
  });

  Deno.bench({
    name: "bare compareExchange spin lock",
    group: `contended counter (${WORKERS} workers x ${INCREMENTS})`,
    n: 15,
    warmup: 2,
    async fn(b): Promise<void> {
      await contended(b, "spin");
    },
  });
}

/** Waits until `i32[index]` reaches `target`, without blocking the event loop. */
async function waitFor(
  i32: Int32Array,
  index: number,
  target: number,
  failed: () => boolean,
): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const seen = Atomics.load(i32, index);
    if (seen >= target) return;
    if (performance.now() > deadline || failed()) {
      throw new Error(`Workers did not reach ${target}`);
    }
    const result = Atomics.waitAsync(i32, index, seen, 20);
    if (result.async) {
      // A timer keeps Deno's event loop alive while waitAsync is pending.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        result.value,
        new Promise((resolve) => timer = setTimeout(resolve, 25)),
      ]);
      clearTimeout(timer);
    }
  }
}
