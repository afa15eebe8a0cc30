/// <reference lib="deno.worker" />
// Worker side of bench/heap_workers_bench.ts: attaches the shared heap (and
// makes a private one, for the control), fills a Talc random-actions workload
// on each, then runs that many steps per "run" message and replies.

import { Heap } from "../mod.ts";
import { HeapAdapter, makeRandomActionsTrace, RandomActions } from "./_workloads.ts";

/** Messages the bench sends: the setup once, then runs. */
export type HeapWorkersMessage =
  | { buffer: SharedArrayBuffer; seed: number; maxSizeBytes: number; liveTarget: number }
  | { steps: number; shared: boolean };

let shared: RandomActions | undefined;
let own: RandomActions | undefined;

self.onmessage = (event: MessageEvent<HeapWorkersMessage>) => {
  const data = event.data;
  try {
    if ("buffer" in data) {
      const trace = makeRandomActionsTrace(data.maxSizeBytes, data.seed);
      shared = new RandomActions(
        new HeapAdapter(Heap.attach(data.buffer)),
        trace,
        data.liveTarget,
      );
      own = new RandomActions(new HeapAdapter(Heap.create()), trace, data.liveTarget);
      shared.fill();
      own.fill();
      self.postMessage({ ok: true });
      return;
    }
    const workload = (data.shared ? shared : own) as RandomActions;
    workload.trim(); // back to the live target: a few hundred frees against the run's steps
    workload.run(data.steps);
    self.postMessage({ ok: true, live: workload.live });
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) });
  }
};
