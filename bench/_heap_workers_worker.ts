/// <reference lib="deno.worker" />
// Worker side of bench/heap_workers_bench.ts: attaches the shared heap twice
// (a handle with the default arena cache, and one with `arenaCache: false`)
// and makes a private heap (the control), fills a Talc random-actions workload
// on each, then runs that many steps per "run" message and replies.

import { Heap } from "../mod.ts";
import { HeapAdapter, makeRandomActionsTrace, RandomActions } from "./_workloads.ts";

/** Messages the bench sends: the setup once, then runs. */
export type HeapWorkersMessage =
  | { buffer: SharedArrayBuffer; seed: number; maxSizeBytes: number; liveTarget: number }
  | { steps: number; mode: HeapMode };

/** Which heap a run uses: the shared one (with or without the arena cache) or a private one. */
export type HeapMode = "shared" | "shared-no-cache" | "private";

const workloads = new Map<HeapMode, RandomActions>();

self.onmessage = (event: MessageEvent<HeapWorkersMessage>) => {
  const data = event.data;
  try {
    if ("buffer" in data) {
      const trace = makeRandomActionsTrace(data.maxSizeBytes, data.seed);
      const heaps: Array<[HeapMode, Heap]> = [
        ["shared", Heap.attach(data.buffer)],
        ["shared-no-cache", Heap.attach(data.buffer, { arenaCache: false })],
        ["private", Heap.create()],
      ];
      for (const [mode, heap] of heaps) {
        const workload = new RandomActions(new HeapAdapter(heap), trace, data.liveTarget);
        workload.fill();
        workloads.set(mode, workload);
      }
      self.postMessage({ ok: true });
      return;
    }
    const workload = workloads.get(data.mode) as RandomActions;
    workload.trim(); // back to the live target: a few hundred frees against the run's steps
    workload.run(data.steps);
    self.postMessage({ ok: true, live: workload.live });
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) });
  }
};
