// The collections under 4 real workers sharing one heap: exact totals at the end.
// Deno-only: the workers are TypeScript modules.

import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import { SharedMap, SharedQueue, SharedVec } from "../../src/collections/mod.ts";
import { u32 } from "../../structs/mod.ts";
import { deleted, Item, type Reply, Tally, type Task, valueOf } from "./_coll_worker.ts";
import { withWorkers } from "../_support/pool.ts";

const WORKER_URL = new URL("./_coll_worker.ts", import.meta.url);
/** A hang guard only: the tasks are bounded by work. */
const REPLY_TIMEOUT_MS = 120_000;

/** Task `task` on the collection at `ptr`, once for each worker id in `workers`. */
function tasksFor(
  task: Exclude<Task["task"], "grower" | "reader">,
  heap: Heap,
  ptr: number,
  count: number,
  workers: number[],
): Task[] {
  return workers.map((worker) => ({ task, buffer: heap.buffer, ptr, worker, count }));
}

/** Runs `tasks`, one per worker, and returns the replies in order (a failed reply rejects). */
function runAll(tasks: Task[]): Promise<Reply[]> {
  return withWorkers<Task, Reply, Reply[]>(
    WORKER_URL,
    tasks.length,
    (workers) => Promise.all(tasks.map((task, i) => workers[i].send(task).ok())),
    { replyTimeoutMs: REPLY_TIMEOUT_MS },
  );
}

Deno.test("SharedMap under 4 workers: disjoint inserts and deletes, shared counters updated by all", async () => {
  const heap = Heap.create({ initialBytes: 1 << 16 }); // small: the map grows the heap meanwhile
  const map = SharedMap.create(heap, { key: "u32", value: u32, segments: 4 });
  const count = 20_000;
  const replies = await runAll(
    tasksFor("map", heap, map.ptr, count, [1, 2, 3, 4]),
  );
  map.check();
  heap.check();
  const mine = replies.reduce((a, r) => a + (r.count ?? 0), 0);
  assert.equal(map.size, mine + 16);
  let counters = 0;
  for (let k = 0; k < 16; k++) counters += map.get(k) ?? 0;
  assert.equal(counters, 4 * count);
  for (let k = 0; k < 16; k++) assert.equal(map.get(k), (4 * count) / 16);
  map.destroy();
  assert.equal(heap.stats().liveAllocations, 0);
});

Deno.test("SharedMap under 4 workers: get during growth and deletion never returns a wrong value", async () => {
  // One worker inserts (growing the map and the heap) and deletes; three read
  // the keys it finished. Fails if a lock-free get can see a table being built
  // or an entry being shifted (the epoch) or a key before its value.
  const heap = Heap.create({ initialBytes: 1 << 16 });
  const map = SharedMap.create(heap, { key: "u32", value: u32, segments: 2 });
  const count = 150_000;
  const progress = new SharedArrayBuffer(8);
  const task = (name: "grower" | "reader", worker: number): Task => ({
    task: name,
    buffer: heap.buffer,
    ptr: map.ptr,
    worker,
    count,
    progress,
  });
  const replies = await runAll([
    task("grower", 1),
    task("reader", 2),
    task("reader", 3),
    task("reader", 4),
  ]);
  for (const r of replies.slice(1)) assert.ok((r.count ?? 0) > 0, "a reader found no key");
  map.check();
  heap.check();
  let live = 0;
  for (let k = 1; k <= count; k++) {
    const gone = deleted(k) && k + 50 <= count;
    assert.equal(map.get(k), gone ? undefined : valueOf(k));
    if (!gone) live++;
  }
  assert.equal(map.size, live);
  map.destroy();
  assert.equal(heap.stats().liveAllocations, 0);
});

Deno.test("SharedMap under 4 workers: string keys and struct values updated in place", async () => {
  const heap = Heap.create({ initialBytes: 1 << 16 });
  const map = SharedMap.create(heap, { key: "string", value: Tally, segments: 8 });
  const count = 7_000;
  await runAll(
    tasksFor("tally", heap, map.ptr, count, [1, 2, 3, 4]),
  );
  map.check();
  heap.check();
  for (let k = 0; k < 50; k++) {
    let sum = 0;
    let n = 0;
    for (let i = k; i < count; i += 50) {
      sum += i;
      n++;
    }
    assert.deepEqual(map.get(`key ${k} é`)?.toJSON(), { count: 4 * n, sum: 4 * sum });
  }
  // Own keys: set at multiples of 7, deleted again at multiples of 14.
  let own = 0;
  for (let i = 0; i < count; i += 7) if (i % 14 !== 0) own++;
  assert.equal(map.size, 50 + 4 * own);
  assert.deepEqual(map.get("own 3 7")?.toJSON(), { count: 1, sum: 7 });
  assert.equal(map.has("own 3 14"), false);
  map.destroy();
  heap.check();
  assert.equal(heap.stats().liveAllocations, 0);
});

Deno.test("SharedVec under 4 workers: concurrent pushes keep every value exactly once", async () => {
  const heap = Heap.create({ initialBytes: 1 << 16 });
  const vec = SharedVec.create(heap, { element: u32 });
  const count = 20_000;
  await runAll(
    tasksFor("vec", heap, vec.ptr, count, [1, 2, 3, 4]),
  );
  vec.check();
  assert.equal(vec.length, 4 * count);
  const seen = new Set<number>();
  const next = [0, 0, 0, 0, 0];
  for (const c = vec.cursor(); c.next();) {
    const x = c.value;
    const w = Math.floor(x / 1_000_000);
    // Each worker's values appear in its push order.
    assert.equal(x % 1_000_000, next[w]++);
    seen.add(x);
  }
  assert.equal(seen.size, 4 * count);
  vec.destroy();
  heap.check();
});

Deno.test("SharedQueue under 4 workers: 2 producers, 2 consumers, 24-byte records, close wakes the consumers", async () => {
  const heap = Heap.create();
  const queue = SharedQueue.create(heap, { element: Item, capacity: 64 });
  const count = 20_000;
  const consumers = runAll(tasksFor("consume", heap, queue.ptr, count, [3, 4]));
  await runAll(tasksFor("produce", heap, queue.ptr, count, [1, 2]));
  queue.close();
  const replies = await consumers;
  assert.equal((replies[0].count ?? 0) + (replies[1].count ?? 0), 2 * count);
  let want = 0;
  for (const w of [1, 2]) for (let i = 0; i < count; i++) want += w * 1_000_000 + i;
  assert.equal((replies[0].sum ?? 0) + (replies[1].sum ?? 0), want);
  assert.equal(queue.length, 0);
  queue.check();
  queue.destroy();
  heap.check();
  assert.equal(heap.stats().liveAllocations, 0);
});
