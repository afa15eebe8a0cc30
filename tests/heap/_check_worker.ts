/// <reference lib="deno.worker" />
// Worker side of tests/heap/liveness_test.ts: runs heap.check() (a long
// operation under the heap lock) until told to stop.

import { Heap } from "../../mod.ts";

self.onmessage = (event: MessageEvent<{ buffer: SharedArrayBuffer; stop: SharedArrayBuffer }>) => {
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
