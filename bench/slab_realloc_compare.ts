/**
 * Same-run comparison of slab `realloc` and aligned small allocations between
 * this tree's `Heap` and another copy of the library (for example `main`,
 * extracted with `git archive main mod.ts src structs | tar -x -C /tmp/old`):
 *
 * ```
 * deno run -A bench/slab_realloc_compare.ts /tmp/old/mod.ts [rounds] [name filter]
 * ```
 *
 * Workloads: realloc within a slot's class (no move), realloc that moves
 * between two slab classes (24 B <-> 40 B, and 200 B <-> 400 B), a grow from
 * the slab into the arena and back, and alloc + free of 16-, 32- and 64-byte
 * aligned small blocks. Each live block's first word is written. Each round
 * runs every workload on both heaps in alternating order; the report gives
 * ns per operation (median over rounds) and the ratio new / old of the CPU
 * time per round, min and median (below 1: faster).
 *
 * @module
 */

import { Heap } from "../mod.ts";
import { cpuMs, median } from "./_stats.ts";

const otherPath = Deno.args[0];
if (otherPath === undefined) {
  throw new Error("usage: slab_realloc_compare.ts <other mod.ts> [rounds] [filter]");
}
const rounds = Number(Deno.args[1] ?? 15);
const only = Deno.args[2] ?? "";
const OtherHeap = (await import(new URL(otherPath, `file://${Deno.cwd()}/`).href))
  .Heap as typeof Heap;

interface Workload {
  name: string;
  /** Operations per round (for ns per operation). */
  ops: number;
  /** Builds the state for one heap class; returns the timed body of one round. */
  make(H: typeof Heap): () => void;
}

const LIVE = 256;

/** `LIVE` blocks resized in turn between sizes `a` and `b` (each realloc keeps the data). */
function reallocBetween(a: number, b: number, ops: number): (H: typeof Heap) => () => void {
  return (H) => {
    const heap = H.create({ initialBytes: 8 << 20 });
    const blocks = new Uint32Array(LIVE);
    const big = new Uint8Array(LIVE);
    for (let i = 0; i < LIVE; i++) {
      blocks[i] = heap.alloc(a);
      heap.u32[blocks[i] >>> 2] = i;
    }
    return () => {
      const u32 = heap.u32;
      for (let n = 0; n < ops; n++) {
        const i = n & (LIVE - 1);
        const p = heap.realloc(blocks[i], big[i] === 0 ? b : a);
        big[i] ^= 1;
        if (u32[p >>> 2] !== i) throw new Error("realloc lost the data");
        blocks[i] = p;
      }
    };
  };
}

/** alloc + free of `size` bytes aligned to `align`, with the first word written. */
function alignedAllocFree(
  size: number,
  align: number,
  ops: number,
): (H: typeof Heap) => () => void {
  return (H) => {
    const heap = H.create();
    const keep = Array.from({ length: 64 }, () => heap.alloc(size, align));
    let k = 0;
    return () => {
      for (let n = 0; n < ops; n++) {
        heap.free(keep[k]);
        const p = heap.alloc(size, align);
        if (p % align !== 0) throw new Error("misaligned");
        heap.u32[p >>> 2] = n;
        keep[k] = p;
        k = (k + 1) & 63;
      }
    };
  };
}

const workloads: Workload[] = [
  {
    name: "realloc in place 24 B <-> 20 B",
    ops: 1_000_000,
    make: reallocBetween(24, 20, 1_000_000),
  },
  { name: "realloc moves 24 B <-> 56 B", ops: 500_000, make: reallocBetween(24, 56, 500_000) },
  { name: "realloc moves 200 B <-> 400 B", ops: 300_000, make: reallocBetween(200, 400, 300_000) },
  {
    name: "realloc slab <-> arena 900 B <-> 3000 B",
    ops: 100_000,
    make: reallocBetween(900, 3000, 100_000),
  },
  {
    name: "realloc moves 500 B <-> 1000 B",
    ops: 200_000,
    make: reallocBetween(500, 1000, 200_000),
  },
  {
    name: "alloc(24) + free (alignment 8, for reference)",
    ops: 1_000_000,
    make: alignedAllocFree(24, 8, 1_000_000),
  },
  { name: "alloc(24, 16) + free", ops: 1_000_000, make: alignedAllocFree(24, 16, 1_000_000) },
  { name: "alloc(48, 32) + free", ops: 1_000_000, make: alignedAllocFree(48, 32, 1_000_000) },
  { name: "alloc(100, 64) + free", ops: 1_000_000, make: alignedAllocFree(100, 64, 1_000_000) },
];

console.log(
  `new = ${new URL("../mod.ts", import.meta.url).pathname}, old = ${otherPath}, ${rounds} rounds`,
);
for (const w of workloads.filter((w) => w.name.includes(only))) {
  const runNew = w.make(Heap);
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
  const ns = (ms: number): string => (ms * 1e6 / w.ops).toFixed(1);
  console.log(
    `${w.name.padEnd(40)} new/old min ${Math.min(...ratios).toFixed(3)} median ${
      median(ratios).toFixed(3)
    }  (median ns/op: new ${ns(median(newMs))}, old ${ns(median(oldMs))})`,
  );
}
