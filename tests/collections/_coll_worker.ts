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
  | { task: "tally"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number }
  | { task: "vec"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number }
  | { task: "produce"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number }
  | { task: "consume"; buffer: SharedArrayBuffer; ptr: number; worker: number; count: number };

/** A worker's reply: what it did, or the error it hit. */
export interface Reply {
  ok: boolean;
  error?: string;
  /** map: entries left; consume: records taken. */
  count?: number;
  /** consume: sum of the ids taken. */
  sum?: number;
}

const TIMEOUT_MS = 60_000;

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
