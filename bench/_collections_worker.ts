/// <reference lib="deno.worker" />
// Worker side of bench/collections.ts: one timed task per message. Every task
// waits on the shared start word (so all workers of a round start together)
// and reports its own start and end times on the epoch clock.

import { Heap } from "../mod.ts";
import { SharedMap, SharedQueue } from "../src/collections/mod.ts";
import { defineStruct, f64, u32 } from "../structs/mod.ts";

/** The 24-byte record every queue variant moves. */
export const Rec = defineStruct("Rec", { id: f64, tag: u32, check: u32, value: f64 });

/** Ring layout (Int32Array words) of the hand-written single-producer single-consumer ring. */
export const RING_HEAD = 0; // next slot to read (consumer)
export const RING_TAIL = 16; // next slot to write (producer), own cache line
export const RING_DATA = 32;
export const RING_WORDS = 6; // one record: id (2 words as f64), tag, check, value (2 words)

/** A bench task. */
export type BenchTask =
  | {
    task: "mapInsert";
    go: SharedArrayBuffer;
    buffer: SharedArrayBuffer | null;
    ptr: number;
    base: number;
    count: number;
  }
  | {
    task: "qProduce" | "qConsume";
    go: SharedArrayBuffer;
    buffer: SharedArrayBuffer;
    ptr: number;
    count: number;
  }
  | {
    task: "ringProduce" | "ringConsume";
    go: SharedArrayBuffer;
    ring: SharedArrayBuffer;
    slots: number;
    count: number;
  }
  | { task: "pmProduce" | "pmConsume"; go: SharedArrayBuffer; port: MessagePort; count: number };

/** A worker's reply. */
export interface BenchReply {
  ok: boolean;
  error?: string;
  start: number;
  end: number;
  sum: number;
  /** mapInsert: this thread's CPU time for the inserts in ms (NaN where the OS does not tell). */
  cpuMs: number;
}

const now = (): number => performance.timeOrigin + performance.now();

/** This thread's CPU time in ms, from Linux's /proc/thread-self/schedstat (NaN elsewhere). */
function threadCpuMs(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]) / 1e6;
  } catch {
    return NaN;
  }
}

function waitGo(go: SharedArrayBuffer): void {
  const i32 = new Int32Array(go);
  Atomics.add(i32, 1, 1); // ready
  Atomics.notify(i32, 1);
  // Bounded: the bench sets the word within a moment; a hang guard of 60 s.
  Atomics.wait(i32, 0, 0, 60_000);
}

async function run(t: BenchTask): Promise<BenchReply> {
  let sum = 0;
  let start = 0;
  let cpuMs = NaN;
  switch (t.task) {
    case "mapInsert": {
      // buffer null: a private heap and map (the control).
      const heap = t.buffer === null ? Heap.create() : Heap.attach(t.buffer);
      const map = t.buffer === null
        ? SharedMap.create(heap, { key: "u32", value: u32 })
        : SharedMap.at<"u32", typeof u32>(heap, t.ptr);
      waitGo(t.go);
      start = now();
      const cpu0 = threadCpuMs();
      for (let i = 0; i < t.count; i++) map.set(Math.imul(t.base + i, 0x9e3779b1) >>> 0 || 1, i);
      cpuMs = threadCpuMs() - cpu0;
      sum = map.size;
      break;
    }
    case "qProduce": {
      const heap = Heap.attach(t.buffer);
      const queue = SharedQueue.at(heap, t.ptr, Rec);
      const r = Rec.create(heap);
      waitGo(t.go);
      start = now();
      for (let i = 0; i < t.count; i++) {
        r.id = i;
        r.tag = 7;
        r.check = i ^ 0x55aa;
        r.value = i * 0.5;
        if (!queue.push(r, 60_000)) throw new Error("push timed out");
      }
      break;
    }
    case "qConsume": {
      const heap = Heap.attach(t.buffer);
      const queue = SharedQueue.at(heap, t.ptr, Rec);
      const r = Rec.create(heap);
      waitGo(t.go);
      start = now();
      for (let i = 0; i < t.count; i++) {
        if (!queue.popInto(r, 60_000)) throw new Error("pop timed out");
        if (r.check !== (r.id ^ 0x55aa)) throw new Error("torn record");
        sum += r.value;
      }
      break;
    }
    case "ringProduce": {
      const i32 = new Int32Array(t.ring);
      const f64v = new Float64Array(t.ring);
      const slots = t.slots;
      waitGo(t.go);
      start = now();
      let tail = 0;
      for (let i = 0; i < t.count; i++) {
        // Bounded by the 60 s waits: the consumer frees a slot or the bench fails.
        while (tail - Atomics.load(i32, RING_HEAD) === slots) {
          Atomics.wait(i32, RING_HEAD, Atomics.load(i32, RING_HEAD), 1);
        }
        const w = RING_DATA + (tail % slots) * RING_WORDS;
        f64v[w >>> 1] = i;
        i32[w + 2] = 7;
        i32[w + 3] = i ^ 0x55aa;
        f64v[(w + 4) >>> 1] = i * 0.5;
        Atomics.store(i32, RING_TAIL, ++tail);
        Atomics.notify(i32, RING_TAIL, 1);
      }
      break;
    }
    case "ringConsume": {
      const i32 = new Int32Array(t.ring);
      const f64v = new Float64Array(t.ring);
      const slots = t.slots;
      waitGo(t.go);
      start = now();
      let head = 0;
      for (let i = 0; i < t.count; i++) {
        while (Atomics.load(i32, RING_TAIL) === head) {
          Atomics.wait(i32, RING_TAIL, head, 1);
        }
        const w = RING_DATA + (head % slots) * RING_WORDS;
        const id = f64v[w >>> 1];
        if (i32[w + 3] !== (id ^ 0x55aa)) throw new Error("torn record");
        sum += f64v[(w + 4) >>> 1];
        Atomics.store(i32, RING_HEAD, ++head);
        Atomics.notify(i32, RING_HEAD, 1);
      }
      break;
    }
    case "pmProduce": {
      waitGo(t.go);
      start = now();
      for (let i = 0; i < t.count; i++) {
        t.port.postMessage({ id: i, tag: 7, check: i ^ 0x55aa, value: i * 0.5 });
      }
      break;
    }
    case "pmConsume": {
      const port = t.port;
      let n = 0;
      const done = new Promise<void>((resolve) => {
        port.onmessage = (e: MessageEvent<{ id: number; check: number; value: number }>) => {
          const r = e.data;
          if (r.check !== (r.id ^ 0x55aa)) throw new Error("torn record");
          sum += r.value;
          if (++n === t.count) resolve();
        };
      });
      waitGo(t.go);
      start = now();
      await done;
      port.close();
      break;
    }
  }
  return { ok: true, start, end: now(), sum, cpuMs };
}

self.onmessage = async (event: MessageEvent<BenchTask>) => {
  try {
    self.postMessage(await run(event.data));
  } catch (error) {
    self.postMessage({
      ok: false,
      error: String((error as Error)?.stack ?? error),
      start: 0,
      end: 0,
      sum: 0,
      cpuMs: NaN,
    });
  }
};
