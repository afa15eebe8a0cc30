/**
 * One heap shared by workers: Talc's random-actions workload (the arena
 * bench's sizes and alignments) on 1 worker against 2 workers, aggregate
 * operations per second, in the same run. Run with
 * `deno bench -A bench/heap_workers_bench.ts`.
 *
 * Each iteration posts "run N steps" to the workers and awaits their replies;
 * the workers attached the heap, filled their workloads to 300 live blocks
 * and warmed up beforehand. With 2 workers each runs N steps, so aggregate
 * rate(2) / rate(1) = 2 × time(1 worker) / time(2 workers).
 *
 * Max 200 is the arena bench's small case; with the slab in place nearly all
 * of it goes to the workers' own slab pages (requests of at most 1,024 bytes
 * aligned to at most 64; Talc's rule asks for 128 or more about once in 300).
 * Max 30,000 sends most requests to the arena, so it measures the heap lock
 * under contention, and the workers' arena caches (freed blocks of 500 B to
 * 32 KiB reused without the lock; on by default once a handle has waited for
 * the lock). Each case has three groups: the shared heap with the default
 * handles, the same heap through handles attached with `arenaCache: false`,
 * and a control in which every worker runs the same workload on a private
 * heap: nothing shared, so the control shows what the machine itself allows.
 *
 * Run directly (`deno run -A bench/heap_workers_bench.ts [rounds] [maxSizeBytes...]`)
 * it first counts heap-lock acquisitions per operation of one handle with
 * and without its arena cache (what the cache saves, whatever the machine's
 * load), then measures in interleaved rounds: each round times 1 worker and
 * then 2 workers in every group, in a rotating order, and prints the min,
 * median and max of the aggregate ratio 2 × time(1) / time(2) per group, and
 * of its quotient by the private-heap control's ratio of the same round.
 *
 * @module
 */

import { Heap } from "../mod.ts";
import { HeapLock } from "../src/heap/_lock.ts";
import type { HeapMode, HeapWorkersMessage } from "./_heap_workers_worker.ts";
import { HeapAdapter, makeRandomActionsTrace, RandomActions } from "./_workloads.ts";
import {
  type PoolWorker,
  startWorkers as startPool,
  terminateAll,
} from "../tests/_support/pool.ts";

const WORKER_URL = new URL("./_heap_workers_worker.ts", import.meta.url).href;
const LIVE_TARGET = 300;
const SEED = 0x7a1c;
const MODES: HeapMode[] = ["shared", "shared-no-cache", "private"];

/** A bench worker: one message in flight at a time; a reply with `ok: false` rejects. */
type BenchWorker = PoolWorker<HeapWorkersMessage, { ok: boolean; error?: string }>;

interface Case {
  maxSizeBytes: number;
  /** Steps each worker runs per iteration. */
  steps: number;
}

const CASES: Case[] = [
  { maxSizeBytes: 200, steps: 300_000 },
  { maxSizeBytes: 30_000, steps: 100_000 },
];

/** Starts two workers on a fresh shared heap for case `c`, filled and warmed up. */
async function startWorkers(c: Case): Promise<BenchWorker[]> {
  const heap = Heap.create();
  const workers: BenchWorker[] = startPool(WORKER_URL, 2);
  await Promise.all(workers.map((w, i) =>
    w.send({
      buffer: heap.buffer,
      seed: SEED + i,
      maxSizeBytes: c.maxSizeBytes,
      liveTarget: LIVE_TARGET,
    }).ok()
  ));
  for (const mode of MODES) {
    await Promise.all(workers.map((w) => w.send({ steps: c.steps, mode }).ok()));
  }
  return workers;
}

function groupName(c: Case, mode: HeapMode): string {
  return mode === "shared"
    ? `random actions, max ${c.maxSizeBytes} B, ${LIVE_TARGET} live: 1 vs 2 workers on one heap, ${c.steps} steps each`
    : mode === "shared-no-cache"
    ? `the same through handles attached with arenaCache: false (max ${c.maxSizeBytes} B)`
    : `control: the same on a private heap per worker (max ${c.maxSizeBytes} B)`;
}

/** Milliseconds for the first `count` workers to run the case's steps in `mode`. */
async function timeRun(
  workers: BenchWorker[],
  c: Case,
  mode: HeapMode,
  count: number,
): Promise<number> {
  const t0 = performance.now();
  await Promise.all(workers.slice(0, count).map((w) => w.send({ steps: c.steps, mode }).ok()));
  return performance.now() - t0;
}

/** `min / median / max` of `xs`, as ratios. */
function summary(xs: number[]): string {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.floor(q * (sorted.length - 1) + 0.5)].toFixed(2);
  return `min ${at(0)}x median ${at(0.5)}x max ${at(1)}x`;
}

/** Interleaved rounds: the aggregate ratio per group, min / median / max. */
async function interleaved(rounds: number, cases: Case[]): Promise<void> {
  for (const c of cases) {
    const workers = await startWorkers(c);
    const ratios = new Map<HeapMode, number[]>(MODES.map((m) => [m, []]));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < MODES.length; k++) {
        const mode = MODES[(r + k) % MODES.length];
        const one = await timeRun(workers, c, mode, 1);
        const two = await timeRun(workers, c, mode, 2);
        ratios.get(mode)?.push((2 * one) / two);
      }
    }
    terminateAll(workers);
    console.log(
      `max ${c.maxSizeBytes} B, ${c.steps} steps per worker, ${rounds} interleaved rounds:`,
    );
    const control = ratios.get("private") ?? [];
    for (const mode of MODES) {
      const own = ratios.get(mode) ?? [];
      // Against the control of the same round: the machine's load mostly cancels out.
      const relative = own.map((x, r) => x / control[r]);
      console.log(`  2 vs 1 workers, ${mode}: ${summary(own)}`);
      if (mode !== "private") {
        console.log(`    / the control's ratio of the same round: ${summary(relative)}`);
      }
    }
  }
}

/**
 * Heap-lock acquisitions per operation of one handle running the case's
 * workload alone, with and without its arena cache: what the cache saves,
 * independent of the machine's load (the lock is counted by wrapping it).
 */
function lockCounts(cases: Case[]): void {
  const lock = HeapLock.prototype.lock;
  let locks = 0;
  HeapLock.prototype.lock = function (this: HeapLock): void {
    locks++;
    lock.call(this);
  };
  try {
    for (const c of cases) {
      const perOp: string[] = [];
      for (const arenaCache of [false, true]) {
        const heap = Heap.attach(Heap.create().buffer, { arenaCache });
        const trace = makeRandomActionsTrace(c.maxSizeBytes, SEED);
        const workload = new RandomActions(new HeapAdapter(heap), trace, LIVE_TARGET);
        workload.fill();
        workload.run(4 * c.steps); // the cache reaches its steady state
        locks = 0;
        workload.run(c.steps);
        perOp.push(`${arenaCache ? "with" : "without"} ${(locks / c.steps).toFixed(3)}`);
      }
      console.log(
        `max ${c.maxSizeBytes} B, one handle: heap-lock acquisitions per operation, ` +
          `arena cache ${perOp.join(", ")}`,
      );
    }
  } finally {
    HeapLock.prototype.lock = lock;
  }
}

if (import.meta.main) {
  const rounds = Number(Deno.args[0] ?? 15);
  const sizes = Deno.args.slice(1).map(Number);
  lockCounts(sizes.length === 0 ? CASES : CASES.filter((c) => sizes.includes(c.maxSizeBytes)));
  await interleaved(
    rounds,
    sizes.length === 0 ? CASES : CASES.filter((c) => sizes.includes(c.maxSizeBytes)),
  );
} else {
  for (const c of CASES) {
    let workers: Promise<BenchWorker[]> | undefined;
    for (const mode of MODES) {
      for (const count of [1, 2]) {
        Deno.bench({
          name: count === 1 ? "1 worker" : "2 workers (aggregate = 2 x the 1-worker time / this)",
          group: groupName(c, mode),
          baseline: count === 1,
          n: 30,
          warmup: 3,
          async fn(b): Promise<void> {
            workers ??= startWorkers(c);
            const all = await workers;
            b.start();
            await Promise.all(
              all.slice(0, count).map((w) => w.send({ steps: c.steps, mode }).ok()),
            );
            b.end();
          },
        });
      }
    }
  }
}
