/**
 * Heap efficiency, Talc's procedure: on a fixed 128 MiB heap, run random
 * actions until the first request fails (0–4 allocate with max 10000, 5 frees,
 * 6–9 reallocate to a size uniform in [1, 100000)); the score is the bytes the
 * live blocks asked for divided by the heap's bytes. Runs several seeds for
 * typedheap and for `@thi.ng/malloc` on a pool of the same size and prints
 * min / mean / max. Talc v5 reports 95.2% and dlmalloc 97.7% on this procedure.
 *
 * Run with `deno run -A bench/heap_efficiency.ts [seeds]` (default 10 seeds).
 *
 * @module
 */

import { MemPool } from "@thi.ng/malloc";
import { Heap } from "../mod.ts";
import {
  type AllocatorAdapter,
  type EfficiencyTrial,
  HeapAdapter,
  heapEfficiencyTrial,
  MemPoolAdapter,
} from "./_workloads.ts";

const HEAP_BYTES = 128 << 20;
const DEFAULT_SEEDS = 10;
const FIRST_SEED = 1;

interface Row {
  seed: number;
  trial: EfficiencyTrial;
  score: number;
  /** Allocator-specific detail, printed after the score. */
  note: string;
}

function runTrial(
  seed: number,
  make: () => { adapter: AllocatorAdapter; after: (trial: EfficiencyTrial) => string },
): Row {
  const { adapter, after } = make();
  const trial = heapEfficiencyTrial(adapter, seed);
  return { seed, trial, score: trial.liveRequestedBytes / HEAP_BYTES, note: after(trial) };
}

function typedheapTrial(seed: number): Row {
  return runTrial(seed, () => {
    const heap = Heap.create({ initialBytes: HEAP_BYTES, maxBytes: HEAP_BYTES });
    return {
      adapter: new HeapAdapter(heap),
      after: (trial: EfficiencyTrial): string => {
        heap.check();
        const s = heap.stats();
        if (s.liveAllocations !== trial.liveBlocks) {
          throw new Error(
            `Heap counts ${s.liveAllocations} live allocations but the trial holds ${trial.liveBlocks}`,
          );
        }
        const overhead = percent(s.usedBytes - trial.liveRequestedBytes);
        const largest = kib(s.largestFreeBytes);
        return `used ${percent(s.usedBytes)} (chunk overhead ${overhead}), ` +
          `free ${percent(s.freeBytes)} in ${s.freeChunks} chunks, largest ${largest}`;
      },
    };
  });
}

function peerTrial(seed: number): Row {
  return runTrial(seed, () => {
    const pool = new MemPool({ buf: new SharedArrayBuffer(HEAP_BYTES) });
    return {
      adapter: new MemPoolAdapter(pool),
      after: (): string => {
        const s = pool.stats();
        const freeList = `${percent(s.free.size)} in ${s.free.count} blocks`;
        return `used ${percent(s.used.size)}, free list ${freeList}, untouched top ${
          kib(s.total - s.top)
        }`;
      },
    };
  });
}

function percent(bytes: number): string {
  return `${(bytes / HEAP_BYTES * 100).toFixed(2)}%`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function pct(score: number): string {
  return `${(score * 100).toFixed(2)}%`;
}

function report(name: string, rows: Row[]): void {
  console.log(`\n${name} (${rows.length} seeds, ${HEAP_BYTES >> 20} MiB)`);
  for (const r of rows) {
    const failure = `${r.trial.failedAction} failed at step ${r.trial.steps}`;
    console.log(
      `  seed ${String(r.seed).padStart(2)}: ${
        pct(r.score)
      }  ${r.trial.liveBlocks} live, ${failure}; ${r.note}`,
    );
  }
  const scores = rows.map((r) => r.score);
  const min = pct(Math.min(...scores));
  const mean = pct(scores.reduce((a, b) => a + b, 0) / scores.length);
  const max = pct(Math.max(...scores));
  console.log(`  efficiency min ${min}  mean ${mean}  max ${max}`);
}

const seeds = Number(Deno.args[0] ?? DEFAULT_SEEDS);
if (!Number.isInteger(seeds) || seeds < 1) {
  throw new RangeError(`Cannot run: the seed count must be a positive integer: ${Deno.args[0]}`);
}
const seedList = Array.from({ length: seeds }, (_, i) => FIRST_SEED + i);
report("typedheap", seedList.map(typedheapTrial));
report("@thi.ng/malloc (alignment ignored, see MemPoolAdapter)", seedList.map(peerTrial));
