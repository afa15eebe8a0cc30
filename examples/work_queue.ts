// Run: deno run -A examples/work_queue.ts
/**
 * A work queue shared by workers: the main thread creates 20,000 job
 * records of variable size (a `utf8()` name and a `vec(f64)` of values) and
 * pushes their pointers into a bounded ring in the heap (a `Mutex` and two
 * `Condition`s guard it); three workers take jobs until the queue is closed,
 * read each job in place, add up its values and free it (with its blocks).
 * The results add up exactly: no job lost, none done twice, nothing leaked.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { Job, jobName, jobValues } from "./_job.ts";
import { WorkQueue } from "./_queue.ts";

const WORKERS = 3;
const JOBS = 20_000;

const heap = Heap.create();
const queue = WorkQueue.create(heap);
const results = heap.allocZeroed(WORKERS * 8); // one f64 per worker
const liveBefore = heap.stats().liveAllocations;

const done = Array.from(
  { length: WORKERS },
  (_, index) =>
    new Promise<number>((resolve, reject) => {
      const worker = new Worker(new URL("./_queue_worker.ts", import.meta.url).href, {
        type: "module",
      });
      worker.onmessage = (e: MessageEvent<number>): void => {
        worker.terminate();
        resolve(e.data);
      };
      worker.onerror = (e): void => {
        worker.terminate();
        reject(e.error ?? new Error(e.message));
      };
      worker.postMessage({ buffer: heap.buffer, queue: queue.pointers, results, index });
    }),
);

let expected = 0;
for (let id = 1; id <= JOBS; id++) {
  const values = jobValues(id);
  for (const v of values) expected += v;
  // The record and its two blocks are freed by the worker that takes it.
  queue.push(Job.create(heap, { id, name: jobName(id), values }).ptr);
}
queue.close();
const jobsPerWorker = await Promise.all(done);

let total = 0;
for (let i = 0; i < WORKERS; i++) total += heap.f64[(results >>> 3) + i];
console.log(
  `jobs per worker: ${jobsPerWorker.join(", ")} (total ${jobsPerWorker.reduce((a, b) => a + b)})`,
);
console.log(`sum of the jobs' values: ${total} (expected ${expected})`);
if (total !== expected || jobsPerWorker.reduce((a, b) => a + b) !== JOBS) {
  throw new Error("Work queue lost or repeated a job");
}
const leaked = heap.stats().liveAllocations - liveBefore;
console.log(`blocks left by the jobs: ${leaked}`);
if (leaked !== 0) throw new Error(`The workers left ${leaked} blocks of jobs`);
heap.check();
