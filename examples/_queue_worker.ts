/// <reference lib="deno.worker" />
/**
 * Consumer of `examples/work_queue.ts`: takes jobs until the queue is closed
 * and drained, and adds each job's result to its own slot of a shared array.
 *
 * @module
 */
import { Heap } from "../mod.ts";
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
  for (let job = queue.take(); job !== -1; job = queue.take()) {
    heap.f64[(results >>> 3) + index] += job * job; // each worker writes only its own slot
    jobs++;
  }
  heap.detach();
  self.postMessage(jobs);
};
