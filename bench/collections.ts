/**
 * The shared collections against their peers, all in one run, interleaved
 * rounds, min and median. Run with `deno task bench:collections`
 * (`deno run -A bench/collections.ts [rounds] [map,workers,queue]`).
 *
 * 1. SharedMap u32 → u32, 1,000,000 random keys, one thread: `set` (inserting,
 *    growth included) and `get` against a JS `Map<number, number>`, the gets
 *    in a shuffled order and again in reverse insertion order (which favours
 *    the JS Map, whose entries sit in insertion order); the heap bytes the map
 *    uses at 1,000,000 entries.
 * 2. Two workers inserting disjoint keys into one SharedMap against one worker
 *    inserting the same count alone: aggregate throughput ratio. Control in the
 *    same rounds: two workers each inserting into a map in a private heap
 *    against one, which is what the machine's second core gives.
 * 3. 24-byte records from one worker to another: SharedQueue (push/popInto)
 *    against `postMessage` of the same records (one message each, over a
 *    MessageChannel) and against a hand-written single-producer
 *    single-consumer `Int32Array` ring.
 *
 * @module
 */

import process from "node:process";
import { Heap } from "../mod.ts";
import { SharedMap, SharedQueue } from "../src/collections/mod.ts";
import { u32 } from "../structs/mod.ts";
import {
  type BenchReply,
  type BenchTask,
  Rec,
  RING_DATA,
  RING_WORDS,
} from "./_collections_worker.ts";
import { type PoolWorker, withWorkers } from "../tests/_support/pool.ts";
import { Sfc32 } from "../tests/_support/prng.ts";

const ROUNDS = Number(Deno.args[0] ?? 5);
/** Which parts to run: a comma-separated subset of `map,workers,queue` (default all). */
const PARTS = (Deno.args[1] ?? "map,workers,queue").split(",");
const WORKER_URL = new URL("./_collections_worker.ts", import.meta.url).href;

function stats(xs: number[]): { min: number; median: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)] };
}
const fmt = (x: number): string => x.toFixed(2);

// ---------------------------------------------------------------------------
// 1. One thread.

function singleThread(): void {
  const N = 1_000_000;
  const keys = new Uint32Array(N);
  const rng = new Sfc32(0x12345);
  const drawn = new Set<number>();
  for (let i = 0; i < N; i++) {
    let key = rng.nextU32();
    while (drawn.has(key)) key = rng.nextU32(); // distinct keys
    drawn.add(key);
    keys[i] = key;
  }
  // Lookups in a shuffled order, and in reverse insertion order, which favours
  // a JS Map: its entries are stored in insertion order.
  const shuffled = new Uint32Array(N);
  for (let i = 0; i < N; i++) shuffled[i] = i;
  for (let i = N - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = shuffled[i];
    shuffled[i] = shuffled[j];
    shuffled[j] = t;
  }
  const names = ["set", "get", "getSeq"] as const;
  const ratios: Record<string, number[]> = { set: [], get: [], getSeq: [] };
  const ns: Record<string, number[]> = {};
  for (const n of names) {
    ns["map " + n] = [];
    ns["js " + n] = [];
  }
  let memory = 0;
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const heap = Heap.create({ initialBytes: 64 << 20 });
    const before = heap.stats().usedBytes;
    const map = SharedMap.create(heap, { key: "u32", value: u32 });
    const js = new Map<number, number>();
    const first = r % 2 === 0 ? ["map", "js"] : ["js", "map"];
    const t: Record<string, number> = {};
    for (const who of first) {
      const t0 = performance.now();
      if (who === "map") { for (let i = 0; i < N; i++) map.set(keys[i], i); }
      else for (let i = 0; i < N; i++) js.set(keys[i], i);
      t[who + " set"] = performance.now() - t0;
    }
    for (const who of first) {
      const t0 = performance.now();
      let s = 0;
      if (who === "map") { for (let i = 0; i < N; i++) s += map.get(keys[shuffled[i]]) as number; }
      else for (let i = 0; i < N; i++) s += js.get(keys[shuffled[i]]) as number;
      t[who + " get"] = performance.now() - t0;
      sink += s;
    }
    for (const who of first) {
      const t0 = performance.now();
      let s = 0;
      if (who === "map") { for (let i = N - 1; i >= 0; i--) s += map.get(keys[i]) as number; }
      else for (let i = N - 1; i >= 0; i--) s += js.get(keys[i]) as number;
      t[who + " getSeq"] = performance.now() - t0;
      sink += s;
    }
    if (map.size !== N || js.size !== N) throw new Error("map sizes differ");
    memory = heap.stats().usedBytes - before;
    for (const n of names) {
      ratios[n].push(t["js " + n] / t["map " + n]);
      ns["map " + n].push((t["map " + n] * 1e6) / N);
      ns["js " + n].push((t["js " + n] * 1e6) / N);
    }
    map.destroy();
  }
  console.log(`\n1. SharedMap u32→u32, ${N} entries, one thread (${ROUNDS} rounds)`);
  for (const [name, xs] of Object.entries(ns)) {
    const s = stats(xs);
    console.log(`   ${name.padEnd(10)} ns/op min ${fmt(s.min)} median ${fmt(s.median)}`);
  }
  const label: Record<string, string> = {
    set: "set (inserting, growth included)",
    get: "get, shuffled order",
    getSeq: "get, reverse insertion order",
  };
  for (const n of names) {
    const s = stats(ratios[n]);
    const best = stats(ns["js " + n]).min / stats(ns["map " + n]).min;
    console.log(
      `   ${label[n].padEnd(33)} SharedMap speed / Map speed: min ${fmt(s.min)} median ${
        fmt(s.median)
      }, best rounds ${fmt(best)}`,
    );
  }
  console.log(
    `   heap bytes used by the map: ${(memory / 2 ** 20).toFixed(2)} MiB (${
      fmt(memory / N)
    } B/entry)`,
  );
  if (sink === 0) console.log("");
}

// ---------------------------------------------------------------------------
// Workers.

type BenchWorker = PoolWorker<BenchTask, BenchReply>;

/** Starts tasks together; returns the elapsed time from the first start to the last end, in ms. */
async function together(
  pairs: [BenchWorker, (go: SharedArrayBuffer) => BenchTask, Transferable[]?][],
): Promise<{ ms: number; cpuMs: number; replies: BenchReply[] }> {
  const cpu0 = process.cpuUsage();
  const go = new SharedArrayBuffer(8);
  const i32 = new Int32Array(go);
  const running = pairs.map(([w, make, transfer]) => w.send(make(go), transfer).ok());
  // Bounded: every worker reports ready at once; a hang guard of 60 s.
  const deadline = performance.now() + 60_000;
  while (Atomics.load(i32, 1) < pairs.length && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1));
  }
  Atomics.store(i32, 0, 1);
  Atomics.notify(i32, 0);
  const replies = await Promise.all(running);
  const start = Math.min(...replies.map((r) => r.start));
  const end = Math.max(...replies.map((r) => r.end));
  const cpu = process.cpuUsage(cpu0);
  return { ms: end - start, cpuMs: (cpu.user + cpu.system) / 1000, replies };
}

async function twoWorkersMap(a: BenchWorker, b: BenchWorker): Promise<void> {
  const N = 300_000;
  const shared: number[] = [];
  const control: number[] = [];
  const sharedCpu: number[] = [];
  const controlCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const variants = r % 2 === 0 ? ["shared", "control"] : ["control", "shared"];
    for (const variant of variants) {
      const make = (base: number) => (go: SharedArrayBuffer): BenchTask => {
        if (variant === "control") {
          return { task: "mapInsert", go, buffer: null, ptr: 0, base, count: N };
        }
        return {
          task: "mapInsert",
          go,
          buffer: sharedHeap.buffer,
          ptr: sharedMap.ptr,
          base,
          count: N,
        };
      };
      // One worker alone, then two at once, on fresh maps.
      let sharedHeap = Heap.create({ initialBytes: 32 << 20 });
      let sharedMap = SharedMap.create(sharedHeap, { key: "u32", value: u32 });
      const one = await together([[a, make(0)]]);
      sharedHeap = Heap.create({ initialBytes: 32 << 20 });
      sharedMap = SharedMap.create(sharedHeap, { key: "u32", value: u32 });
      const two = await together([[a, make(0)], [b, make(N)]]);
      if (variant === "shared" && sharedMap.size !== 2 * N) throw new Error("lost inserts");
      const ratio = (2 * one.ms) / two.ms; // aggregate(2) / aggregate(1)
      (variant === "shared" ? shared : control).push(ratio);
      // CPU time of the whole process per insert, 1 worker over 2: what 2 workers would
      // give with a core each (1.0 = no cost from sharing), whatever else the machine runs.
      (variant === "shared" ? sharedCpu : controlCpu).push((2 * one.cpuMs) / two.cpuMs);
    }
  }
  const s = stats(shared);
  const c = stats(control);
  console.log(`\n2. ${N} inserts per worker, u32→u32 (${ROUNDS} rounds)`);
  console.log(
    `   one shared SharedMap: 2 workers aggregate / 1 worker  min ${fmt(s.min)} median ${
      fmt(s.median)
    }`,
  );
  console.log(
    `   control, private heaps: 2 workers / 1 worker          min ${fmt(c.min)} median ${
      fmt(c.median)
    }`,
  );
  const sc = stats(sharedCpu);
  const cc = stats(controlCpu);
  console.log(
    `   CPU per insert, 1 worker / 2 workers: shared min ${fmt(sc.min)} median ${
      fmt(sc.median)
    }, control min ${fmt(cc.min)} median ${fmt(cc.median)}`,
  );
}

async function queues(a: BenchWorker, b: BenchWorker): Promise<void> {
  const N = 200_000;
  const ms: Record<string, number[]> = { queue: [], postMessage: [], ring: [] };
  const vsPm: number[] = [];
  const vsRing: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t: Record<string, number> = {};
    const order = [["queue", "ring", "postMessage"], ["postMessage", "queue", "ring"], [
      "ring",
      "postMessage",
      "queue",
    ]][r % 3];
    for (const variant of order) {
      if (variant === "queue") {
        const heap = Heap.create();
        const queue = SharedQueue.create(heap, { element: Rec, capacity: 1024 });
        const out = await together([
          [a, (go) => ({ task: "qProduce", go, buffer: heap.buffer, ptr: queue.ptr, count: N })],
          [b, (go) => ({ task: "qConsume", go, buffer: heap.buffer, ptr: queue.ptr, count: N })],
        ]);
        t.queue = out.ms;
        if (out.replies[1].sum !== (N * (N - 1)) / 4) throw new Error("queue lost records");
      } else if (variant === "ring") {
        const slots = 1024;
        const ring = new SharedArrayBuffer((RING_DATA + slots * RING_WORDS) * 4);
        const out = await together([
          [a, (go) => ({ task: "ringProduce", go, ring, slots, count: N })],
          [b, (go) => ({ task: "ringConsume", go, ring, slots, count: N })],
        ]);
        t.ring = out.ms;
        if (out.replies[1].sum !== (N * (N - 1)) / 4) throw new Error("ring lost records");
      } else {
        const channel = new MessageChannel();
        const out = await together([
          [a, (go) => ({ task: "pmProduce", go, port: channel.port1, count: N }), [channel.port1]],
          [b, (go) => ({ task: "pmConsume", go, port: channel.port2, count: N }), [channel.port2]],
        ]);
        t.postMessage = out.ms;
        if (out.replies[1].sum !== (N * (N - 1)) / 4) throw new Error("postMessage lost records");
      }
    }
    for (const k of Object.keys(ms)) ms[k].push(t[k]);
    vsPm.push(t.postMessage / t.queue);
    vsRing.push(t.ring / t.queue);
  }
  console.log(
    `\n3. ${N} records of ${Rec.size} bytes, 1 producer worker → 1 consumer worker (${ROUNDS} rounds)`,
  );
  for (const [name, xs] of Object.entries(ms)) {
    const s = stats(xs);
    console.log(
      `   ${name.padEnd(11)} ns/record min ${fmt((s.min * 1e6) / N)} median ${
        fmt((s.median * 1e6) / N)
      }`,
    );
  }
  const p = stats(vsPm);
  const g = stats(vsRing);
  console.log(
    `   SharedQueue speed / postMessage speed    min ${fmt(p.min)} median ${fmt(p.median)}`,
  );
  console.log(
    `   SharedQueue speed / Int32Array ring speed min ${fmt(g.min)} median ${fmt(g.median)}`,
  );
}

if (PARTS.includes("map")) singleThread();
await withWorkers<BenchTask, BenchReply, void>(WORKER_URL, 2, async ([a, b]) => {
  if (PARTS.includes("workers")) await twoWorkersMap(a, b);
  if (PARTS.includes("queue")) await queues(a, b);
});
