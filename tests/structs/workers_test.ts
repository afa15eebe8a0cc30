// Struct records shared by real workers: a linked list built by one worker
// and walked by another, atomic fields updated by four workers, an array of
// records updated by two.

import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import type { ViewOf } from "../../structs/mod.ts";
import { Body, Doc, ListNode, type Reply, Stats, type Task } from "./_struct_worker.ts";
import { withWorkers } from "../_support/pool.ts";

const WORKER_URL = new URL("./_struct_worker.ts", import.meta.url);
const REPLY_TIMEOUT_MS = 60_000;

/** Runs one task in a fresh worker and returns its reply. */
function runInWorker(task: Task): Promise<Reply> {
  return withWorkers<Task, Reply, Reply>(
    WORKER_URL,
    1,
    ([worker]) => worker.send(task).next(),
    { replyTimeoutMs: REPLY_TIMEOUT_MS },
  );
}

function ok(reply: Reply): Reply {
  assert.ok(reply.ok, reply.error);
  return reply;
}

Deno.test("a linked list built by one worker is walked by another and by the main thread", async () => {
  const count = 20_000;
  // Small on purpose: the builder grows the heap, so the walkers must follow.
  const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 << 20 });
  const startBytes = heap.byteLength;
  const built = ok(await runInWorker({ task: "build", buffer: heap.buffer, count }));
  const head = built.head ?? 0;
  assert.ok((built.heapBytes ?? 0) > startBytes, "the builder grew the heap");
  const walked = ok(await runInWorker({ task: "walk", buffer: heap.buffer, head }));
  const expectedSum = (count * (count - 1)) / 2 * 1.5;
  assert.deepEqual(
    { count: walked.count, sum: walked.sum, labels: walked.labels },
    { count, sum: expectedSum, labels: true },
  );
  // The main thread sees the same list through the grown buffer.
  let n = 0;
  let sum = 0;
  let node: ViewOf<typeof ListNode> | null = ListNode.at(heap, head);
  for (; node !== null; node = node.next) {
    sum += node.value + node.weight;
    n++;
  }
  assert.equal(n, count);
  assert.equal(sum, expectedSum);
  heap.check();
});

Deno.test("four workers increment atomic fields to an exact total", async () => {
  const heap = Heap.create();
  const stats = Stats.create(heap);
  const times = 100_000;
  const replies = await Promise.all(
    Array.from(
      { length: 4 },
      () => runInWorker({ task: "count", buffer: heap.buffer, stats: stats.ptr, times }),
    ),
  );
  replies.forEach(ok);
  assert.equal(stats.hits.load(), 4 * times);
  assert.equal(stats.bytes.load(), BigInt(4 * times * 3));
});

Deno.test("two workers update the two halves of a shared struct array with cursors", async () => {
  const heap = Heap.create();
  const n = 10_000;
  const bodies = Body.createArray(heap, n);
  bodies.each((b, i) => (b.v = i));
  const steps = 10;
  const half = n / 2;
  const replies = await Promise.all([
    runInWorker({
      task: "step",
      buffer: heap.buffer,
      bodies: bodies.ptr,
      from: 0,
      to: half,
      id: 1,
      steps,
    }),
    runInWorker({
      task: "step",
      buffer: heap.buffer,
      bodies: bodies.ptr,
      from: half,
      to: n,
      id: 2,
      steps,
    }),
  ]);
  replies.forEach(ok);
  const cursor = bodies.cursor();
  for (let i = 0; i < n; i++) {
    const b = cursor.seek(i);
    assert.equal(b.x, i * steps);
    assert.equal(b.owner, i < half ? 1 : 2);
  }
  bodies.destroy();
  heap.check();
});

Deno.test("a worker reads and replaces the strings and vecs of a record made by another", async () => {
  const heap = Heap.create();
  const baseline = heap.stats().liveAllocations;
  const title = "日本語のタイトル with emoji 🚀 and more than 32 bytes";
  const doc = Doc.create(heap, { id: 7, title, tags: [1, 2, 3] });
  const oldTitleBlock = heap.u32[(doc.ptr + Doc.offsetOf("title")) >>> 2];
  const oldTagsBlock = heap.u32[(doc.ptr + Doc.offsetOf("tags")) >>> 2];
  const live = heap.stats().liveAllocations;
  assert.equal(live, baseline + 3);
  const next = "é".repeat(200); // 400 bytes: does not fit the old block
  const reply = ok(
    await runInWorker({ task: "doc", buffer: heap.buffer, doc: doc.ptr, title: next, push: 10 }),
  );
  assert.equal(reply.title, title);
  assert.deepEqual(reply.tags, [1, 2, 3]);
  // The main thread sees the worker's blocks, and the old ones were freed there.
  assert.equal(doc.title, next);
  assert.deepEqual(doc.tags.toArray(), [
    1,
    2,
    3,
    ...Array.from({ length: 10 }, (_, i) => 1000 + i),
  ]);
  assert.notEqual(heap.u32[(doc.ptr + Doc.offsetOf("title")) >>> 2], oldTitleBlock);
  assert.notEqual(heap.u32[(doc.ptr + Doc.offsetOf("tags")) >>> 2], oldTagsBlock);
  assert.equal(heap.stats().liveAllocations, live, "one block each, the old ones freed");
  heap.check();
  Doc.destroy(heap, doc);
  assert.equal(heap.stats().liveAllocations, baseline);
  heap.check();
});
