// Run: deno run -A examples/work_queue.ts
/**
 * A work queue shared by workers: the main thread pushes 20,000 jobs into a
 * bounded ring in the heap (a `Mutex` and two `Condition`s guard it), three
 * workers take jobs until the queue is closed, and the results add up
 * exactly: no job lost, none done twice.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { WorkQueue } from "./_queue.ts";

const WORKERS = 3;
const JOBS = 20_000;

const heap = Heap.create();
const queue = WorkQueue.create(heap);
const results = heap.allocZeroed(WORKERS * 8); // one f64 per worker

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

for (let job = 1; job <= JOBS; job++) queue.push(job);
queue.close();
const jobsPerWorker = await Promise.all(done);

let total = 0;
for (let i = 0; i < WORKERS; i++) total += heap.f64[(results >>> 3) + i];
const expected = (JOBS * (JOBS + 1) * (2 * JOBS + 1)) / 6; // sum of squares 1..JOBS
console.log(
  `jobs per worker: ${jobsPerWorker.join(", ")} (total ${jobsPerWorker.reduce((a, b) => a + b)})`,
);
console.log(`sum of squares: ${total} (expected ${expected})`);
if (total !== expected || jobsPerWorker.reduce((a, b) => a + b) !== JOBS) {
  throw new Error("Work queue lost or repeated a job");
}
heap.check();
