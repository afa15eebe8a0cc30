/// <reference lib="deno.worker" />
/**
 * Consumer of `examples/work_queue.ts`: takes job pointers until the queue is
 * closed and drained, opens each job record in place, checks its name, adds
 * its values to its own slot of a shared array and frees the job.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { Job, jobName } from "./_job.ts";
import { type QueuePointers, WorkQueue } from "./_queue.ts";

interface Start {
  buffer: SharedArrayBuffer;
  queue: QueuePointers;
  results: number;
  index: number;
}

self.onmessage = (e: MessageEvent<Start>): void => {
  const { buffer, queue: pointers, results, index } = e.data;
  const heap = Heap.attach(buffer);
  const queue = WorkQueue.at(heap, pointers);
  let jobs = 0;
  for (let ptr = queue.take(); ptr !== -1; ptr = queue.take()) {
    const job = Job.at(heap, ptr);
    if (job.name !== jobName(job.id)) {
      throw new Error(`Job ${job.id} has a wrong name: ${job.name}`);
    }
    let sum = 0;
    for (const v of job.values.view()) sum += v; // a zero-copy Float64Array over the block
    heap.f64[(results >>> 3) + index] += sum; // each worker writes only its own slot
    Job.destroy(heap, job); // the record, its name and its values
    jobs++;
  }
  heap.detach();
  self.postMessage(jobs);
};
