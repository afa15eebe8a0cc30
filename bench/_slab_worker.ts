/// <reference lib="deno.worker" />
// Worker side of bench/slab_bench.ts. It first receives the shared heap's
// buffer and attaches it (and makes a private heap of its own, for the
// control); then, for every "run" message, creates and destroys that many
// 24-byte records on the slab path (a ring of 1,024 live records, oldest
// destroyed first) and replies. Kind "loop" runs an integer loop of the same
// length instead: no heap at all, the machine's own scaling.

import { Heap } from "../mod.ts";

/** Where a run's records live: the heap all workers share, a private one, or none. */
export type RunKind = "shared" | "private" | "loop";

/** Messages the bench sends: the heap once, then runs. */
export type SlabWorkerMessage = { buffer: SharedArrayBuffer } | { steps: number; kind: RunKind };

/** A worker's reply: success (with a sink value, so the run cannot be optimised away) or an error. */
export interface SlabWorkerReply {
  ok: boolean;
  sink?: number;
  error?: string;
}

/** Live records each worker keeps (as in the single-threaded bench). */
const RING = 1024;

class Records {
  readonly heap: Heap;
  readonly ring = new Uint32Array(RING);
  cursor = 0;

  constructor(heap: Heap) {
    this.heap = heap;
    for (let i = 0; i < RING; i++) this.ring[i] = heap.alloc(24);
  }
}

let shared: Records | undefined;
let own: Records | undefined;
let sink = 0;

self.onmessage = (event: MessageEvent<SlabWorkerMessage>) => {
  const data = event.data;
  try {
    if ("buffer" in data) {
      shared = new Records(Heap.attach(data.buffer));
      own = new Records(Heap.create());
      self.postMessage({ ok: true } satisfies SlabWorkerReply);
      return;
    }
    if (data.kind === "loop") sink = loop(data.steps);
    else sink = run((data.kind === "shared" ? shared : own) as Records, data.steps);
    self.postMessage({ ok: true, sink } satisfies SlabWorkerReply);
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) } satisfies SlabWorkerReply);
  }
};

function run(records: Records, steps: number): number {
  const heap = records.heap;
  const ring = records.ring;
  let f64 = heap.f64;
  let k = records.cursor;
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
  records.cursor = k;
  return f64[ring[0] >>> 3];
}

/** About as long as `run` per step on one worker, touching no shared memory. */
function loop(steps: number): number {
  let s = sink | 0;
  for (let i = 0; i < steps * 16; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}
