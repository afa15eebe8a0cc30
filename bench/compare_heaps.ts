/**
 * Same-run comparison of this tree's `Heap` with another copy of the library
 * (for example the previous commit, extracted with
 * `git archive <commit> mod.ts src | tar -x -C /tmp/old`):
 *
 * ```
 * deno run -A bench/compare_heaps.ts /tmp/old/mod.ts [rounds] [name filter]
 * ```
 *
 * With `debug` in place of the other copy, it compares this tree's heap in
 * debug mode (`Heap.create({ debug: true })`, "new") with the same heap in
 * normal mode ("old"): the cost of debug mode.
 *
 * Workloads (the arena and slab benches' own): random actions (Talc's rules,
 * 10,000 live up to 30,000 B and 100,000 live up to 200 B), alloc + free of
 * 64 B, a ring of 1,024 live 24-byte records created and destroyed, the slab
 * class handle, and 2,000-byte arena blocks through the public API. Each
 * round runs every workload on both heaps in an order that alternates, so
 * both see the same machine load; the report gives the ratio new / old of
 * the CPU time per round: min and median over the rounds (below 1: faster).
 *
 * @module
 */

import process from "node:process";
import { Heap } from "../mod.ts";
import { HeapAdapter, makeRandomActionsTrace, RandomActions } from "./_workloads.ts";

const otherPath = Deno.args[0];
if (otherPath === undefined) throw new Error("usage: compare_heaps.ts <other mod.ts> [rounds]");
const rounds = Number(Deno.args[1] ?? 15);
/** Only the workloads whose name contains this text (all by default). */
const only = Deno.args[2] ?? "";
/** Debug mode against normal mode of this tree's heap (see the module doc). */
const debugMode = otherPath === "debug";
const DebugHeap = {
  create: (options: Parameters<typeof Heap.create>[0] = {}): Heap =>
    Heap.create({ ...options, debug: true }),
} as unknown as typeof Heap;
const OtherHeap = debugMode
  ? Heap
  : (await import(new URL(otherPath, `file://${Deno.cwd()}/`).href)).Heap as typeof Heap;
const NewHeap = debugMode ? DebugHeap : Heap;

interface Workload {
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

const workloads: Workload[] = [
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

function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(
  debugMode
    ? `new = this tree in debug mode, old = this tree in normal mode, ${rounds} rounds`
    : `new = ${
      new URL("../mod.ts", import.meta.url).pathname
    }, old = ${otherPath}, ${rounds} rounds`,
);
for (const w of workloads.filter((w) => w.name.includes(only))) {
  const runNew = w.make(NewHeap);
  const runOld = w.make(OtherHeap);
  runNew(); // warm-up
  runOld();
  const ratios: number[] = [];
  const newMs: number[] = [];
  const oldMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let a: number;
    let b: number;
    if (r % 2 === 0) {
      a = cpuMs(runNew);
      b = cpuMs(runOld);
    } else {
      b = cpuMs(runOld);
      a = cpuMs(runNew);
    }
    newMs.push(a);
    oldMs.push(b);
    ratios.push(a / b);
  }
  console.log(
    `${w.name.padEnd(40)} new/old min ${Math.min(...ratios).toFixed(3)} median ${
      median(ratios).toFixed(3)
    }  (median ms: new ${median(newMs).toFixed(1)}, old ${median(oldMs).toFixed(1)})`,
  );
}
