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
 * 2. Two workers inserting disjoint keys into one SharedMap (N each) against
 *    one worker inserting N alone (aggregate throughput, as the issue states it)
 *    and against one worker inserting the same 2N keys (the same final map: a
 *    bigger map costs more per insert, which the first ratio charges to the
 *    sharing). Control in the same rounds: the same workers on maps in private
 *    heaps, which is what the machine's second core gives. CPU time per insert,
 *    per thread (Linux: /proc/thread-self/schedstat) and for the process, shows
 *    what sharing costs apart from waiting.
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
  type Variant = "shared" | "control";
  const asWritten: Record<Variant, number[]> = { shared: [], control: [] };
  const sameMap: Record<Variant, number[]> = { shared: [], control: [] };
  const processCpu: Record<Variant, number[]> = { shared: [], control: [] };
  const threadCpu: Record<Variant, number[]> = { shared: [], control: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const variants: Variant[] = r % 2 === 0 ? ["shared", "control"] : ["control", "shared"];
    for (const variant of variants) {
      let heap = Heap.create({ initialBytes: 32 << 20 });
      let map = SharedMap.create(heap, { key: "u32", value: u32 });
      const make = (base: number, count: number) => (go: SharedArrayBuffer): BenchTask => ({
        task: "mapInsert",
        go,
        buffer: variant === "control" ? null : heap.buffer,
        ptr: map.ptr,
        base,
        count,
      });
      const fresh = (): void => {
        heap = Heap.create({ initialBytes: 32 << 20 });
        map = SharedMap.create(heap, { key: "u32", value: u32 });
      };
      // One worker inserting N, one inserting 2N (the two workers' keys: the
      // same final map), then two at once inserting N each; fresh maps each time.
      const one = await together([[a, make(0, N)]]);
      fresh();
      const oneDouble = await together([[a, make(0, 2 * N)]]);
      fresh();
      const two = await together([[a, make(0, N)], [b, make(N, N)]]);
      if (variant === "shared" && map.size !== 2 * N) throw new Error("lost inserts");
      asWritten[variant].push((2 * one.ms) / two.ms); // aggregate(2 workers) / aggregate(1 worker)
      sameMap[variant].push(oneDouble.ms / two.ms);
      // CPU time per insert, 1 worker (2N) / 2 workers (N each): 1.0 = sharing costs nothing.
      processCpu[variant].push(oneDouble.cpuMs / two.cpuMs);
      const threads = (x: { replies: BenchReply[] }): number =>
        x.replies.reduce((t, reply) => t + reply.cpuMs, 0);
      threadCpu[variant].push(threads(oneDouble) / threads(two));
    }
  }
  const line = (label: string, xs: Record<Variant, number[]>): void => {
    const s = stats(xs.shared);
    const c = stats(xs.control);
    console.log(
      `   ${label.padEnd(54)} shared min ${fmt(s.min)} median ${fmt(s.median)}; control min ${
        fmt(c.min)
      } median ${fmt(c.median)}`,
    );
  };
  console.log(`\n2. Inserts into one SharedMap from 2 workers, u32→u32 (${ROUNDS} rounds)`);
  console.log(`   (control: the same workers on maps in private heaps, same rounds)`);
  line(`2 workers x ${N} / 1 worker x ${N}, aggregate`, asWritten);
  line(`1 worker x ${2 * N} time / 2 workers x ${N} time (same map)`, sameMap);
  line("CPU per insert, 1 worker / 2 workers (thread CPU)", threadCpu);
  line("CPU per insert, 1 worker / 2 workers (process CPU)", processCpu);
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
