/// <reference lib="deno.worker" />
// Worker side of tests/heap/liveness_workers_test.ts: runs heap.check() (a long
// operation under the heap lock) until told to stop.

import { Heap } from "../../mod.ts";

/** The heap to check, and a word that is set to 1 to stop. */
export interface CheckTask {
  buffer: SharedArrayBuffer;
  stop: SharedArrayBuffer;
}

/** First its worker id, then (when stopped) how many checks it ran. */
export interface CheckReply {
  workerId?: number;
  checks?: number;
}

self.onmessage = (event: MessageEvent<CheckTask>) => {
  const heap = Heap.attach(event.data.buffer);
  const stop = new Int32Array(event.data.stop);
  self.postMessage({ workerId: heap.workerId });
  let checks = 0;
  for (let n = 0; n < 100_000 && Atomics.load(stop, 0) === 0; n++) {
    heap.check();
    checks++;
  }
  self.postMessage({ checks });
};
