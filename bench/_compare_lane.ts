/**
 * The workloads of `bench/compare_heaps.ts`, in a module that script imports
 * once per lane (`_compare_lane.ts?lane=new`, `?lane=old`, `?lane=control`).
 * Each import is a module instance of its own, and it imports its own
 * instance of `_workloads.ts` the same way, so each lane runs its own
 * functions and V8 keeps separate type feedback per lane, as in a program
 * that uses one copy of the library. With one set of functions for both
 * copies, the loops' call sites saw both copies' classes, and an A/A run
 * (two copies of the same tree) moved by up to 14% per workload with the
 * order in which the copies were built and timed.
 *
 * @module
 */

import type { Heap } from "../mod.ts";

type WorkloadsModule = typeof import("./_workloads.ts");
/** This instance's lane, the query of its URL ("" when imported plainly). */
const lane = new URL(import.meta.url).search;
const { HeapAdapter, makeRandomActionsTrace, RandomActions } = (await import(
  new URL(`./_workloads.ts${lane}`, import.meta.url).href
)) as WorkloadsModule;

/** One workload: a name and how to build it on one heap class. */
export interface Workload {
  /** Shown in the report. */
  name: string;
  /** Builds the state for one heap class; returns the timed body of one round. */
  make(H: typeof Heap): () => void;
}

const traceLarge = makeRandomActionsTrace(30_000, 0x5eed);
const traceSmall = makeRandomActionsTrace(200, 0x5eed);

function randomActions(
  liveTarget: number,
  steps: number,
  trace: typeof traceLarge,
): (H: typeof Heap) => () => void {
  return (H: typeof Heap): () => void => {
    const w = new RandomActions(new HeapAdapter(H.create()), trace, liveTarget);
    w.fill();
    return () => {
      w.trim();
      w.run(steps);
    };
  };
}

/** The workloads, in report order. */
export const workloads: Workload[] = [
  { name: "random actions 10k live, max 30000 B", make: randomActions(10_000, 60_000, traceLarge) },
  {
    name: "random actions 100k live, max 200 B",
    make: randomActions(100_000, 200_000, traceSmall),
  },
  {
    name: "alloc + free 64 B",
    make: (H) => {
      const heap = H.create();
      return () => {
        for (let i = 0; i < 1_000_000; i++) heap.free(heap.alloc(64));
      };
    },
  },
  {
    name: "ring of 1,024 x 24 B: alloc + free",
    make: (H) => {
      const heap = H.create();
      const ring = new Uint32Array(1024);
      for (let i = 0; i < 1024; i++) ring[i] = heap.alloc(24);
      let cursor = 0;
      return () => {
        for (let i = 0; i < 1_000_000; i++) {
          heap.free(ring[cursor]);
          const p = heap.alloc(24);
          heap.f64[p >>> 3] = i;
          ring[cursor] = p;
          cursor = (cursor + 1) & 1023;
        }
      };
    },
  },
  {
    name: "heap.slab(24).alloc() + free",
    make: (H) => {
      const heap = H.create();
      const cls = heap.slab(24);
      return () => {
        for (let i = 0; i < 1_000_000; i++) heap.free(cls.alloc());
      };
    },
  },
  {
    name: "arena: alloc(2000) + free",
    make: (H) => {
      const heap = H.create();
      const keep = Array.from({ length: 64 }, () => heap.alloc(2000));
      let k = 0;
      return () => {
        for (let i = 0; i < 250_000; i++) {
          heap.free(keep[k]);
          keep[k] = heap.alloc(2000);
          k = (k + 1) & 63;
        }
      };
    },
  },
];
