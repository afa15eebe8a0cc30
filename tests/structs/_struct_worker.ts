/// <reference lib="deno.worker" />
// Worker side of tests/structs/workers_test.ts: attaches the heap it is sent,
// runs one task on struct records and posts a reply.

import { Heap } from "../../mod.ts";
import {
  atomicI32,
  atomicU64,
  defineStruct,
  f64,
  i32,
  selfRef,
  u32,
  utf8,
  vec,
  type ViewOf,
} from "../../structs/mod.ts";

/** A list node; the same definition in every worker gives the same layout. */
export const ListNode = defineStruct("ListNode", {
  value: i32,
  weight: f64,
  label: utf8(12),
  next: selfRef,
});

/** Counters updated by several workers at once. */
export const Stats = defineStruct("Stats", { hits: atomicI32, bytes: atomicU64, plain: u32 });

/** A particle updated by two workers, each on its own half of an array. */
export const Body = defineStruct("Body", { x: f64, v: f64, owner: i32 });

/** A record with variable-length fields, read and changed by another worker. */
export const Doc = defineStruct("Doc", { id: u32, title: utf8(), tags: vec(u32) });

export type Task =
  | { task: "doc"; buffer: SharedArrayBuffer; doc: number; title: string; push: number }
  | { task: "build"; buffer: SharedArrayBuffer; count: number }
  | { task: "walk"; buffer: SharedArrayBuffer; head: number }
  | { task: "count"; buffer: SharedArrayBuffer; stats: number; times: number }
  | {
    task: "step";
    buffer: SharedArrayBuffer;
    bodies: number;
    from: number;
    to: number;
    id: number;
    steps: number;
  };

export interface Reply {
  ok: boolean;
  error?: string;
  head?: number;
  count?: number;
  sum?: number;
  labels?: boolean;
  heapBytes?: number;
  title?: string;
  tags?: number[];
}

function run(task: Task): Reply {
  const heap = Heap.attach(task.buffer);
  switch (task.task) {
    case "build": {
      // Built back to front so the head is the last node made.
      let head: ViewOf<typeof ListNode> | null = null;
      for (let i = task.count - 1; i >= 0; i--) {
        head = ListNode.create(heap, { value: i, weight: i / 2, label: `node ${i}`, next: head });
      }
      return { ok: true, head: head?.ptr ?? 0, heapBytes: heap.byteLength };
    }
    case "walk": {
      let count = 0;
      let sum = 0;
      let labels = true;
      let n: ViewOf<typeof ListNode> | null = ListNode.at(heap, task.head);
      for (; n !== null; n = n.next) {
        sum += n.value + n.weight;
        labels &&= n.label === `node ${n.value}`;
        count++;
      }
      return { ok: true, count, sum, labels };
    }
    case "doc": {
      // Reads what the main thread stored, then replaces the title (a new
      // block; the old one, allocated by the main thread, freed here) and
      // grows the tags past their capacity (the same).
      const doc = Doc.at(heap, task.doc);
      const title = doc.title;
      const tags = doc.tags.toArray() as number[];
      doc.title = task.title;
      for (let i = 0; i < task.push; i++) doc.tags.push(1000 + i);
      heap.detach();
      return { ok: true, title, tags };
    }
    case "count": {
      const stats = Stats.at(heap, task.stats);
      const hits = stats.hits;
      const bytes = stats.bytes;
      for (let i = 0; i < task.times; i++) {
        hits.add(1);
        bytes.add(3n);
      }
      return { ok: true };
    }
    case "step": {
      const bodies = Body.arrayAt(heap, task.bodies);
      const cursor = bodies.cursor();
      for (let s = 0; s < task.steps; s++) {
        for (let i = task.from; i < task.to; i++) {
          const b = cursor.seek(i);
          b.x += b.v;
          b.owner = task.id;
        }
      }
      return { ok: true };
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
