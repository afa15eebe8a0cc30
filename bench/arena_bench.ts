/**
 * Arena allocator benches: Talc's random-actions workload and a plain
 * alloc + free pair, typedheap (baseline) against `@thi.ng/malloc` in the
 * same run. Run with `deno bench -A bench/arena_bench.ts`.
 *
 * Every random-actions iteration runs a fixed number of steps (10,000; fewer
 * where the peer takes seconds for that many) on a persistent state that was
 * filled to its live target before the first iteration; the state is trimmed
 * back to the target between iterations, outside the timed part (see
 * `RandomActions` in `_workloads.ts`). Both allocators replay the same
 * pre-drawn trace, so "x faster" in a group is the ratio of operations per
 * second; operations per second = steps / time per iteration.
 *
 * The peer's `MemPool` cannot grow, so it gets a plain `SharedArrayBuffer`
 * sized for its workload up front (as fast as an `ArrayBuffer` in V8);
 * typedheap starts at its default 1 MiB and grows while it fills, untimed.
 *
 * 100,000 live with max 30000 is left out: live blocks then average ≈16 KB
 * (three quarters fresh allocations of ≈7.5 KB, one quarter reallocated to
 * ≈45 KB; 161 MB are live at 10,000), ≈1.6 GB in all, beyond the heap's
 * default 1 GiB maximum.
 *
 * @module
 */

import { MemPool } from "@thi.ng/malloc";
import { Heap } from "../mod.ts";
import {
  HeapAdapter,
  makeRandomActionsTrace,
  MemPoolAdapter,
  RandomActions,
  type RandomActionsTrace,
} from "./_workloads.ts";

const SEED = 0x7a1c;
const MiB = 1 << 20;

interface RandomActionsCase {
  liveTarget: number;
  maxSizeBytes: number;
  /** Steps per iteration, the same for both allocators. */
  steps: number;
  /** `MemPool` cannot grow: its fixed size, with room for its fragmentation. */
  peerPoolBytes: number;
  /** Iterations of the peer's bench (it is slow with many live blocks; Deno runs at least 500 ms). */
  peerIterations?: number;
}

const CASES: RandomActionsCase[] = [
  { liveTarget: 300, maxSizeBytes: 200, steps: 10_000, peerPoolBytes: 16 * MiB },
  { liveTarget: 300, maxSizeBytes: 30_000, steps: 10_000, peerPoolBytes: 256 * MiB },
  {
    liveTarget: 10_000,
    maxSizeBytes: 200,
    steps: 10_000,
    peerPoolBytes: 64 * MiB,
    peerIterations: 5,
  },
  {
    liveTarget: 10_000,
    maxSizeBytes: 30_000,
    steps: 2_000,
    peerPoolBytes: 1024 * MiB,
    peerIterations: 5,
  },
  {
    liveTarget: 100_000,
    maxSizeBytes: 200,
    steps: 1_000,
    peerPoolBytes: 256 * MiB,
    peerIterations: 3,
  },
];

const traces = new Map<number, RandomActionsTrace>();

/** One trace per max size, shared by both allocators (drawn lazily, untimed). */
function traceFor(maxSizeBytes: number): RandomActionsTrace {
  let trace = traces.get(maxSizeBytes);
  if (trace === undefined) {
    trace = makeRandomActionsTrace(maxSizeBytes, SEED);
    traces.set(maxSizeBytes, trace);
  }
  return trace;
}

/** A bench function that lazily builds and fills its workload, then times `steps` steps. */
function timedSteps(
  steps: number,
  makeWorkload: () => RandomActions,
): (b: Deno.BenchContext) => void {
  let workload: RandomActions | undefined;
  return (b: Deno.BenchContext): void => {
    if (workload === undefined) {
      workload = makeWorkload();
      workload.fill();
    }
    workload.trim();
    b.start();
    workload.run(steps);
    b.end();
  };
}

for (const c of CASES) {
  const group = `random actions: ${c.liveTarget} live, max ${c.maxSizeBytes} B, ${c.steps} steps`;
  const trace = (): RandomActionsTrace => traceFor(c.maxSizeBytes);
  Deno.bench({
    name: "typedheap",
    group,
    baseline: true,
    fn: timedSteps(c.steps, () => {
      return new RandomActions(new HeapAdapter(Heap.create()), trace(), c.liveTarget);
    }),
  });
  Deno.bench({
    name: "@thi.ng/malloc",
    group,
    n: c.peerIterations,
    warmup: c.peerIterations === undefined ? undefined : 1,
    fn: timedSteps(c.steps, () => {
      const pool = new MemPool({ buf: new SharedArrayBuffer(c.peerPoolBytes) });
      return new RandomActions(new MemPoolAdapter(pool), trace(), c.liveTarget);
    }),
  });
}

// A plain pair on an empty allocator: the fast path of both.
const pairHeap = Heap.create();
const pairPool = new MemPool({ buf: new SharedArrayBuffer(MiB) });

Deno.bench({
  name: "typedheap",
  group: "alloc + free 64 B",
  baseline: true,
  fn: (): void => {
    pairHeap.free(pairHeap.alloc(64));
  },
});

Deno.bench({
  name: "@thi.ng/malloc",
  group: "alloc + free 64 B",
  fn: (): void => {
    pairPool.free(pairPool.malloc(64));
  },
});
