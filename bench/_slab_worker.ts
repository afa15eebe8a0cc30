/// <reference lib="deno.worker" />
// Worker side of bench/slab_bench.ts: attaches the heap once, then for every
// "run" message creates and destroys that many 24-byte records on the slab
// path (a ring of 1,024 live records, oldest freed first) and replies.

import { Heap } from "../mod.ts";

/** Messages the bench sends: the heap once, then the number of steps per run. */
export type SlabWorkerMessage = { buffer: SharedArrayBuffer } | { steps: number };

/** Live records each worker keeps (as in the single-threaded bench). */
const RING = 1024;

let heap: Heap | undefined;
let ring: Uint32Array | undefined;
let cursor = 0;

self.onmessage = (event: MessageEvent<SlabWorkerMessage>) => {
  const data = event.data;
  try {
    if ("buffer" in data) {
      heap = Heap.attach(data.buffer);
      ring = new Uint32Array(RING);
      for (let i = 0; i < RING; i++) ring[i] = heap.alloc(24);
      self.postMessage({ ok: true, workerId: heap.workerId });
      return;
    }
    self.postMessage({ ok: true, checksum: run(heap as Heap, ring as Uint32Array, data.steps) });
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) });
  }
};

function run(heap: Heap, ring: Uint32Array, steps: number): number {
  let f64 = heap.f64;
  let k = cursor;
  for (let i = 0; i < steps; i++) {
    heap.free(ring[k]);
    const p = heap.alloc(24);
    if (p >= f64.byteLength) f64 = heap.f64; // the heap grew
    const w = p >>> 3;
    f64[w] = i;
    f64[w + 1] = i + 0.5;
    f64[w + 2] = i + 0.25;
    ring[k] = p;
    k = (k + 1) & (RING - 1);
  }
  cursor = k;
  return f64[ring[0] >>> 3];
}
