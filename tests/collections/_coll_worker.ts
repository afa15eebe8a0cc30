/// <reference lib="deno.worker" />
// Worker side of tests/collections/workers_test.ts: attaches the heap it is
// sent, runs one task on a shared collection and posts a reply.

import { Heap } from "../../mod.ts";
import { QueueClosedError, SharedMap, SharedQueue, SharedVec } from "../../src/collections/mod.ts";
import { defineStruct, f64, u32 } from "../../structs/mod.ts";

/** The record type of the queue test (24 bytes). */
export const Item = defineStruct("Item", { id: f64, producer: u32, check: u32, sum: f64 });

/** The value type of the string-keyed map test. */
export const Tally = defineStruct("Tally", { count: u32, sum: f64 });

/** A task for one worker. */
export type Task =
  | { task: "map"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number }
  | {
    task: "grower" | "reader";
    buffer: SharedArrayBuffer;
    ptr: number;
    worker: number;
    count: number;
    /** Word 0: the last key the grower finished; word 1: 1 once it is done. */
    progress: SharedArrayBuffer;
  }
  | { task: "tally"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number }
  | { task: "vec"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number }
  | { task: "produce"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number }
  | { task: "consume"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number };

/** A worker's reply: what it did, or the error it hit. */
export interface Reply {
  ok: boolean;
  error?: string;
  /** map: entries left; consume: records taken; reader: lookups of present keys. */
  count?: number;
  /** consume: sum of the ids taken. */
  sum?: number;
}

const TIMEOUT_MS = 60_000;

/** The value the grower stores for key `k`. */
export function valueOf(k: number): number {
  return Math.imul(k, 0x9e3779b1) >>> 0;
}

/** Keys the grower deletes again (50 keys later): `k % 4 === 2`. */
export function deleted(k: number): boolean {
  return k % 4 === 2;
}

function run(t: Task): Reply {
  const heap = Heap.attach(t.buffer);
  switch (t.task) {
    case "map": {
      // Own keys: worker * 1e6 + i; every third removed again. Shared counter
      // keys 0..15 are bumped through update() by every worker.
      const map = SharedMap.at<"u32", typeof u32>(heap, t.ptr);
      const base = t.worker * 1_000_000 + 100;
      for (let i = 0; i < t.count; i++) {
        map.set(base + i, i);
        map.update(i & 15, (n) => (n ?? 0) + 1);
        if (i % 3 === 2) map.delete(base + i - 1);
      }
      let mine = 0;
      for (let i = 0; i < t.count; i++) {
        const want = i % 3 === 1 && i + 1 < t.count ? undefined : i;
        const got = map.get(base + i);
        if (got !== want) throw new Error(`key ${base + i}: ${got} !== ${want}`);
        if (got !== undefined) mine++;
      }
      return { ok: true, count: mine };
    }
    case "grower": {
      // Keys 1..count in order (the map grows all along), each published in
      // progress word 0 once set; every key k % 4 === 2 deleted 50 keys later
      // (a backward shift moves entries while the readers read).
      const map = SharedMap.at<"u32", typeof u32>(heap, t.ptr);
      const progress = new Int32Array(t.progress);
      for (let k = 1; k <= t.count; k++) {
        map.set(k, valueOf(k));
        if (k > 50 && deleted(k - 50)) map.delete(k - 50);
        Atomics.store(progress, 0, k);
      }
      Atomics.store(progress, 1, 1);
      return { ok: true };
    }
    case "reader": {
      // Until the grower is done: a key it finished must read as its value
      // (or, for a deleted one, as absent), a key it may be inserting as its
      // value or absent, never as anything else.
      const map = SharedMap.at<"u32", typeof u32>(heap, t.ptr);
      const progress = new Int32Array(t.progress);
      let seed = t.worker * 7919;
      let present = 0;
      // Bounded: the grower sets word 1 after a fixed number of inserts.
      for (let n = 0; Atomics.load(progress, 1) === 0 || n < 1000; n++) {
        const last = Atomics.load(progress, 0);
        if (last === 0) continue;
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        // Every 4th lookup: a key the grower may be inserting right now.
        const k = (n & 3) === 0 ? last + 1 + (seed & 3) : 1 + (seed % last);
        const got = map.get(k);
        if (got === valueOf(k)) present++;
        else if (!(got === undefined && (deleted(k) || k > last))) {
          throw new Error(`get(${k}) returned ${got} during growth, not ${valueOf(k)}`);
        }
      }
      return { ok: true, count: present };
    }
    case "tally": {
      // String keys shared by every worker, struct values updated in place.
      const map = SharedMap.at<"string", typeof Tally>(heap, t.ptr, Tally);
      for (let i = 0; i < t.count; i++) {
        map.update(`key ${i % 50} é`, (r) => {
          r.count++;
          r.sum += i;
        });
        if (i % 7 === 0) map.set(`own ${t.worker} ${i}`, { count: 1, sum: i });
        if (i % 14 === 0) map.delete(`own ${t.worker} ${i}`);
      }
      return { ok: true };
    }
    case "vec": {
      const vec = SharedVec.at<typeof u32>(heap, t.ptr);
      for (let i = 0; i < t.count; i++) vec.push(t.worker * 1_000_000 + i);
      return { ok: true };
    }
    case "produce": {
      const queue = SharedQueue.at(heap, t.ptr, Item);
      const item = Item.create(heap);
      for (let i = 0; i < t.count; i++) {
        const id = t.worker * 1_000_000 + i;
        item.id = id;
        item.producer = t.worker;
        item.check = id ^ 0x5a5a5a5a;
        item.sum = id * 2;
        if (!queue.push(item, TIMEOUT_MS)) throw new Error("push timed out");
      }
      Item.destroy(heap, item);
      return { ok: true };
    }
    case "consume": {
      const queue = SharedQueue.at(heap, t.ptr, Item);
      const item = Item.create(heap);
      let count = 0;
      let sum = 0;
      // Bounded: the producers push a fixed number of records, then the queue is closed.
      for (;;) {
        try {
          if (!queue.popInto(item, TIMEOUT_MS)) throw new Error("pop timed out");
        } catch (error) {
          if (error instanceof QueueClosedError) break;
          throw error;
        }
        if ((item.check ^ 0x5a5a5a5a) !== item.id || item.sum !== item.id * 2) {
          throw new Error(`torn record: ${JSON.stringify(item.toJSON())}`);
        }
        count++;
        sum += item.id;
      }
      Item.destroy(heap, item);
      return { ok: true, count, sum };
    }
  }
}

self.onmessage = (event: MessageEvent<Task>) => {
  try {
    self.postMessage(run(event.data));
  } catch (error) {
    self.postMessage({ ok: false, error: String((error as Error)?.stack ?? error) });
  }
};
