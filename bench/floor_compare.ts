/**
 * typedheap against the floor allocator (`_floor_alloc.ts`) and
 * `@thi.ng/malloc` on Talc's random-actions workload (max 200 B), with every
 * new block written, in one process: the yardstick of issue 11.
 *
 * Run: `deno task floor [rounds] [other mod.ts]` (default 15 rounds). With
 * another copy of the library (for example the previous commit, extracted
 * with `git archive <commit> mod.ts src structs | tar -x -C /tmp/old`), its
 * `Heap` runs as a fourth lane, so old and new are measured against the
 * floor in the same rounds. Prints, per
 * live target, operations per CPU-second of each allocator in every round and
 * the ratios typedheap / floor taken within a round (min and median over the
 * rounds), plus typedheap's own 100,000-live / 300-live rate.
 *
 * Fairness: every allocator replays the same pre-drawn trace, and writes its
 * blocks through the views its user would (see `LaneViews`). The step loop
 * is compiled once per allocator (`new Function` over one source), so each
 * has its own monomorphic call sites, as a program using one allocator would.
 * Lanes run in a rotating order inside each round; the live count is trimmed
 * back to its target between rounds, untimed. CPU time comes from
 * `process.cpuUsage()`, so time the scheduler gave to other processes on this
 * shared machine does not count.
 *
 * @module
 */

import process from "node:process";
import { MemPool } from "@thi.ng/malloc";
import { Heap } from "../mod.ts";
import { FloorAdapter } from "./_floor_alloc.ts";
import {
  type AllocatorAdapter,
  HeapAdapter,
  makeRandomActionsTrace,
  MemPoolAdapter,
} from "./_workloads.ts";
import { median } from "./_stats.ts";

const MiB = 1 << 20;
const SEED = 0x7a1c;
const MAX_SIZE_BYTES = 200;

/** One allocator running one live target. */
interface Lane {
  name: string;
  adapter: AllocatorAdapter;
  u8: Uint8Array;
  u32: Uint32Array;
  ptrs: Uint32Array;
  sizes: Uint32Array;
  live: number;
  cursor: number;
  liveTarget: number;
  steps: number;
  run: (lane: Lane, words: Uint32Array, mask: number, steps: number) => void;
  rates: number[];
}

// The step loop of `RandomActions.run` (see _workloads.ts), with each new
// block written (its size in the first word, one byte at its end).
const RUN_SOURCE = `
  const adapter = lane.adapter;
  const u8 = lane.u8;
  const u32 = lane.u32;
  const ptrs = lane.ptrs;
  const sizes = lane.sizes;
  const liveTarget = lane.liveTarget;
  let cursor = lane.cursor;
  let live = lane.live;
  for (let i = 0; i < steps; i++) {
    const t = cursor << 2;
    cursor = (cursor + 1) & mask;
    const head = words[t];
    const action = head & 7;
    if (action === 6) {
      if (live === 0) continue;
      const k = (words[t + 3] * live / 4294967296) | 0;
      const sizeBytes = words[t + 2];
      const ptr = adapter.realloc(ptrs[k], sizes[k], sizeBytes);
      if (ptr === 0) throw new Error("out of memory");
      u32[ptr >>> 2] = sizeBytes;
      u8[ptr + sizeBytes - 1] = i;
      ptrs[k] = ptr;
      sizes[k] = sizeBytes;
    } else if (action < 3 || live < liveTarget) {
      const sizeBytes = words[t + 1];
      const ptr = adapter.alloc(sizeBytes, head >>> 3);
      if (ptr === 0) throw new Error("out of memory");
      u32[ptr >>> 2] = sizeBytes;
      u8[ptr + sizeBytes - 1] = i;
      ptrs[live] = ptr;
      sizes[live] = sizeBytes;
      live++;
    } else {
      const k = (words[t + 3] * live / 4294967296) | 0;
      adapter.free(ptrs[k], sizes[k]);
      live--;
      ptrs[k] = ptrs[live];
      sizes[k] = sizes[live];
    }
  }
  lane.cursor = cursor;
  lane.live = live;
`;

function compileRun(): Lane["run"] {
  return new Function("lane", "words", "mask", "steps", RUN_SOURCE) as Lane["run"];
}

/**
 * The views a lane writes its blocks through: a user's. For a heap those
 * are its public `heap.u8` / `heap.u32`, fixed-length views over its
 * growable buffer; a view made with `new Uint8Array(heap.buffer)` would
 * track the buffer's length, and V8's optimised code takes a slower path for
 * every access through a length-tracking view of a growable buffer (with
 * such views the typedheap lanes ran ~20% slower here at 300 live). The floor and
 * `@thi.ng/malloc` have plain `ArrayBuffer`s, whose views are all fixed.
 */
interface LaneViews {
  u8: Uint8Array;
  u32: Uint32Array;
}

function plainViews(buffer: ArrayBuffer): LaneViews {
  return { u8: new Uint8Array(buffer), u32: new Uint32Array(buffer) };
}

function heapViews(heap: Heap): LaneViews {
  return { u8: heap.u8, u32: heap.u32 };
}

function lane(
  name: string,
  adapter: AllocatorAdapter,
  views: LaneViews,
  liveTarget: number,
  steps: number,
): Lane {
  return {
    name,
    adapter,
    u8: views.u8,
    u32: views.u32,
    ptrs: new Uint32Array(liveTarget * 4 + 1024),
    sizes: new Uint32Array(liveTarget * 4 + 1024),
    live: 0,
    cursor: 0,
    liveTarget,
    steps,
    run: compileRun(),
    rates: [],
  };
}

/** The `Heap` class of another copy of the library, when its `mod.ts` is given. */
const otherPath = Deno.args[1];
const OtherHeap: typeof Heap | null = otherPath === undefined
  ? null
  : (await import(new URL(otherPath, `file://${Deno.cwd()}/`).href)).Heap;

function makeLanes(liveTarget: number, steps: number, peerSteps: number): Lane[] {
  const poolBytes = liveTarget >= 100_000 ? 512 * MiB : 16 * MiB;
  const heap = Heap.create({ initialBytes: poolBytes, maxBytes: poolBytes });
  const floor = new FloorAdapter(poolBytes);
  const pool = new MemPool({ buf: new ArrayBuffer(poolBytes) });
  const lanes = [
    lane("floor", floor, plainViews(floor.floor.i32.buffer as ArrayBuffer), liveTarget, steps),
    lane("typedheap", new HeapAdapter(heap), heapViews(heap), liveTarget, steps),
    lane(
      "@thi.ng/malloc",
      new MemPoolAdapter(pool),
      plainViews(pool.buf as ArrayBuffer),
      liveTarget,
      peerSteps,
    ),
  ];
  if (OtherHeap !== null) {
    const other = OtherHeap.create({ initialBytes: poolBytes, maxBytes: poolBytes });
    lanes.push(
      lane("typedheap (other)", new HeapAdapter(other), heapViews(other), liveTarget, steps),
    );
  }
  return lanes;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Frees random live blocks until the lane is back at its target (untimed). */
function trim(l: Lane, words: Uint32Array, mask: number): void {
  while (l.live > l.liveTarget) {
    const t = l.cursor << 2;
    l.cursor = (l.cursor + 1) & mask;
    const k = (words[t + 3] * l.live / 4294967296) | 0;
    l.adapter.free(l.ptrs[k], l.sizes[k]);
    l.live--;
    l.ptrs[k] = l.ptrs[l.live];
    l.sizes[k] = l.sizes[l.live];
  }
}

function fmt(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(1)}k`;
}

const rounds = Number(Deno.args[0] ?? 15);
const trace = makeRandomActionsTrace(MAX_SIZE_BYTES, SEED, 18);
const words = trace.words;
const mask = trace.steps - 1;
const cases = [
  { liveTarget: 300, lanes: makeLanes(300, 1_000_000, 20_000) },
  { liveTarget: 100_000, lanes: makeLanes(100_000, 1_000_000, 100) },
];
// Fill every lane to its target and warm it up (untimed).
for (const c of cases) {
  for (const l of c.lanes) {
    for (let guard = 0; l.live < l.liveTarget && guard < 64; guard++) {
      l.run(l, words, mask, l.liveTarget - l.live);
    }
    l.run(l, words, mask, Math.min(l.steps, 20_000));
    trim(l, words, mask);
  }
}
const all = cases.flatMap((c) => c.lanes);
for (let r = 0; r < rounds; r++) {
  for (let j = 0; j < all.length; j++) {
    const l = all[(j + r) % all.length];
    const before = cpuMicros();
    l.run(l, words, mask, l.steps);
    const micros = Math.max(cpuMicros() - before, 1);
    l.rates.push(l.steps / (micros / 1e6));
    trim(l, words, mask);
  }
}

console.log(
  `Talc random actions, max ${MAX_SIZE_BYTES} B, each new block written; ${rounds} rounds`,
);
console.log("ops per CPU-second, median (min..max) over rounds:");
for (const c of cases) {
  for (const l of c.lanes) {
    console.log(
      `  ${String(c.liveTarget).padStart(7)} live  ${l.name.padEnd(17)} ${fmt(median(l.rates))} ` +
        `(${fmt(Math.min(...l.rates))}..${fmt(Math.max(...l.rates))})`,
    );
  }
}
const ratio = (a: Lane, b: Lane): number[] => a.rates.map((x, i) => x / b.rates[i]);
for (const c of cases) {
  const [floor, ours, peer] = c.lanes;
  const vsFloor = ratio(ours, floor);
  const vsPeer = ratio(ours, peer);
  console.log(
    `${c.liveTarget} live: typedheap / floor = median ${median(vsFloor).toFixed(2)}x, ` +
      `min ${Math.min(...vsFloor).toFixed(2)}x; typedheap / @thi.ng/malloc = median ${
        median(vsPeer).toFixed(1)
      }x`,
  );
  if (c.lanes.length > 3) {
    const vsOther = ratio(c.lanes[3], floor);
    console.log(
      `${c.liveTarget} live: typedheap (other) / floor = median ${median(vsOther).toFixed(2)}x, ` +
        `min ${Math.min(...vsOther).toFixed(2)}x`,
    );
  }
}
if (OtherHeap !== null) {
  const otherScale = ratio(cases[1].lanes[3], cases[0].lanes[3]);
  console.log(`typedheap (other) 100k / 300 live rate: median ${median(otherScale).toFixed(2)}`);
}
const scale = ratio(cases[1].lanes[1], cases[0].lanes[1]);
const floorScale = ratio(cases[1].lanes[0], cases[0].lanes[0]);
console.log(
  `typedheap 100k / 300 live rate: median ${median(scale).toFixed(2)}, min ${
    Math.min(...scale).toFixed(2)
  } (floor: median ${median(floorScale).toFixed(2)})`,
);
