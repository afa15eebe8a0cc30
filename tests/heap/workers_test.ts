// One heap shared by real Deno workers: mixed arena and slab churn with blocks
// freed by other workers, growth seen by everyone, and a worker that dies
// holding the heap lock.

import assert from "node:assert/strict";
import { Heap, LockTimeoutError, lockWord, unlockWord } from "../../mod.ts";
import {
  C_GROWN_BYTES,
  C_GROWN_PTRS,
  controlWords,
  type MixTask,
  type Reply,
  type Task,
} from "./_heap_worker.ts";
import { type PoolWorker, withWorkers } from "../_support/pool.ts";

const WORKER_URL = new URL("./_heap_worker.ts", import.meta.url).href;
/** A reply that takes longer than this fails the test instead of hanging it. */
const REPLY_TIMEOUT_MS = 30_000;
const MiB = 1 << 20;
/** The heap lock word (index in `heap.i32`). */
const H_LOCK = 5;

type Peer = PoolWorker<Task, Reply>;

/** Runs `body` with `count` fresh workers and terminates them afterwards. */
function withPeers<T>(count: number, body: (peers: Peer[]) => Promise<T>): Promise<T> {
  return withWorkers(WORKER_URL, count, body, { replyTimeoutMs: REPLY_TIMEOUT_MS });
}

/** A zeroed block of `words` i32 words; its byte offset. */
function zeroedBlock(heap: Heap, words: number): number {
  // Above the slab limit on purpose: the control block lives in the arena, so the
  // main handle takes no slab pages and its used bytes stay put.
  const ptr = heap.alloc(Math.max(words * 4, 2048));
  heap.i32.fill(0, ptr >>> 2, (ptr >>> 2) + words);
  return ptr;
}

interface ChurnOptions {
  workers: number;
  ops: number;
  largePercent: number;
  maxAlignBytes: number;
  maxLive: number;
}

/** Runs the "mix" task on `workers` workers and checks the heap afterwards. */
async function churn(o: ChurnOptions): Promise<Record<string, number>[]> {
  const maxBytes = 64 * MiB;
  const heap = Heap.create({ initialBytes: 1 * MiB, maxBytes });
  const ringEntries = 1024;
  const control = zeroedBlock(heap, controlWords(o.workers, ringEntries));
  const owners = new SharedArrayBuffer(maxBytes / 8);
  const start = heap.stats();
  const counts = await withPeers(o.workers, async (peers) => {
    peers.forEach((peer, index) => {
      const task: MixTask = {
        task: "mix",
        buffer: heap.buffer,
        owners,
        control,
        ringEntries,
        index,
        workers: o.workers,
        ops: o.ops,
        seed: 0x5eed + index * 7919,
        largePercent: o.largePercent,
        maxAlignBytes: o.maxAlignBytes,
        maxLive: o.maxLive,
      };
      peer.send(task);
    });
    const replies = await Promise.all(peers.map((peer) => peer.next()));
    for (const r of replies) {
      assert.ok(r.ok, `worker ${r.workerId} failed: ${r.errorName}: ${r.error}`);
    }
    return replies.map((r) => r.counts ?? {});
  });
  // Every worker finished and detached.
  heap.check();
  const end = heap.stats();
  assert.equal(end.liveAllocations, start.liveAllocations, "only the control block is live");
  assert.equal(end.slab.usedSlots, 0);
  assert.equal(end.slab.areas, 0);
  assert.equal(end.slab.pages, 0, "detached workers left no slab pages behind");
  assert.equal(end.usedBytes, start.usedBytes, "used bytes are back to where they started");
  assert.ok(new Uint8Array(owners).every((b) => b === 0), "every granule was released");
  let sent = 0;
  let received = 0;
  let frees = 0;
  let foreign = 0;
  let allocs = 0;
  for (const c of counts) {
    assert.ok(c.allocs + c.frees + c.reallocs >= o.ops, "each worker ran its operations");
    sent += c.sent;
    received += c.received;
    frees += c.frees;
    foreign += c.freedForeign;
    allocs += c.allocs;
  }
  assert.equal(received, sent, "every block handed over arrived");
  assert.equal(frees, allocs, "every block was freed once");
  assert.ok(
    foreign === sent && sent > allocs * 0.2,
    `${sent} of ${allocs} freed by another worker`,
  );
  heap.free(control);
  heap.check();
  if (Deno.env.get("TYPEDHEAP_VERBOSE") === "1") console.log(counts);
  return counts;
}

for (const workers of [2, 4]) {
  Deno.test(
    `mixed alloc/free/realloc: ${workers} workers x 100,000, a quarter freed by another worker`,
    async () => {
      await churn({ workers, ops: 100_000, largePercent: 3, maxAlignBytes: 2048, maxLive: 1000 });
    },
  );
}

for (const workers of [2, 4]) {
  Deno.test(
    `slab churn: ${workers} workers x 200,000 small operations with cross-worker frees`,
    async () => {
      await churn({ workers, ops: 200_000, largePercent: 0, maxAlignBytes: 64, maxLive: 2000 });
    },
  );
}

Deno.test("one worker grows the heap while others allocate; all see the new size", async () => {
  const initialBytes = 64 * 1024;
  const heap = Heap.create({ initialBytes, maxBytes: 256 * MiB });
  const blocks = 48;
  const blockBytes = 512 * 1024;
  const control = zeroedBlock(heap, C_GROWN_PTRS + 4096);
  const start = heap.stats();
  await withPeers(3, async ([grower, a, b]) => {
    const base = { buffer: heap.buffer, control, workers: 3, seed: 11 };
    a.send({ ...base, task: "alloc-while-growing", index: 1, count: 20_000, blockBytes: 0 });
    b.send({ ...base, task: "alloc-while-growing", index: 2, count: 20_000, blockBytes: 0 });
    grower.send({ ...base, task: "grow", index: 0, count: blocks, blockBytes });
    const g = (await grower.ok()).counts ?? {};
    const ra = (await a.ok()).counts ?? {};
    const rb = (await b.ok()).counts ?? {};
    // The others may have grown the small heap a little before the grower started.
    assert.ok(g.startBytes < blocks * blockBytes / 4, `the grower started at ${g.startBytes}`);
    assert.ok(g.grownBytes >= blocks * blockBytes, `grown to ${g.grownBytes}`);
    assert.equal(g.u8Length, g.grownBytes);
    assert.equal(heap.i32[(control >>> 2) + C_GROWN_BYTES], g.grownBytes);
    for (const r of [ra, rb]) {
      assert.ok(r.seenBytes >= g.grownBytes, `a worker saw ${r.seenBytes} < ${g.grownBytes}`);
      assert.equal(r.u8Length, r.seenBytes, "its views cover the grown heap");
      assert.ok(r.highestEnd > initialBytes, "it allocated beyond the initial size");
    }
    assert.equal(ra.grownFreed, blocks, "worker 1 freed the grower's blocks");
  });
  assert.ok(heap.byteLength >= blocks * blockBytes);
  assert.equal(heap.u8.length, heap.byteLength);
  heap.check();
  const end = heap.stats();
  assert.equal(end.usedBytes, start.usedBytes);
  assert.equal(end.liveAllocations, start.liveAllocations);
  heap.free(heap.alloc(3 * MiB));
  heap.check();
});

Deno.test("a worker terminated while holding the heap lock: others time out naming it, recover frees it", async () => {
  const heap = Heap.create({ lockTimeoutMs: 300 });
  const timeoutMs = 300;
  await withPeers(2, async ([doomed, bystander]) => {
    doomed.send({ task: "hold", buffer: heap.buffer, slots: 50, lock: true });
    const held = await doomed.ok();
    assert.equal(held.stage, "locked");
    const deadId = held.workerId;
    assert.equal(heap.i32[H_LOCK] >>> 1, deadId, "the heap lock word names the holder");
    doomed.terminate();

    // The main thread's handle: an arena allocation needs the lock.
    const started = performance.now();
    assert.throws(
      () => heap.alloc(5000),
      (e) => e instanceof LockTimeoutError && e.ownerId === deadId,
    );
    const waitedMs = performance.now() - started;
    assert.ok(waitedMs >= timeoutMs * 0.9 && waitedMs < timeoutMs + 2000, `waited ${waitedMs} ms`);
    // Small allocations on this handle's own slab pages need no lock... once it has
    // pages; its first one needs the lock for its area, and so times out too.
    assert.throws(() => heap.alloc(24), LockTimeoutError);

    // Another worker gets the same error within the bounded wait.
    bystander.send({ task: "probe", buffer: heap.buffer, sizeBytes: 5000, announce: false });
    const probe = await bystander.next();
    assert.equal(probe.ok, false);
    assert.equal(probe.errorName, "LockTimeoutError");
    assert.equal(probe.ownerId, deadId);

    const report = heap.recover(deadId);
    assert.equal(report.lockReleased, true);
    assert.equal(report.areas, 1);
    assert.ok(report.pages >= 1, `${report.pages} pages handed over`);
    assert.equal(heap.i32[H_LOCK], 0);
    heap.check();
    // Allocation continues, here and in the other worker.
    const p = heap.alloc(5000);
    heap.free(p);
    bystander.send({ task: "probe", buffer: heap.buffer, sizeBytes: 5000, announce: false });
    assert.equal((await bystander.ok()).stage, "allocated");
    // The dead worker's blocks stay valid and can be freed by anyone.
    assert.equal(heap.stats().liveAllocations, 50);
    for (const ptr of held.ptrs ?? []) heap.free(ptr);
    assert.equal(heap.stats().liveAllocations, 0);
    heap.check();
    // recover() of an id that does not hold the lock releases nothing.
    assert.equal(heap.recover(deadId).lockReleased, false);
  });
});

Deno.test("a worker terminated without the lock: recover hands its pages over", async () => {
  const heap = Heap.create({ lockTimeoutMs: 300 });
  await withPeers(1, async ([doomed]) => {
    doomed.send({ task: "hold", buffer: heap.buffer, slots: 30, lock: false });
    const held = await doomed.ok();
    doomed.terminate();
    const report = heap.recover(held.workerId);
    assert.deepEqual(
      { lockReleased: report.lockReleased, areas: report.areas },
      { lockReleased: false, areas: 1 },
    );
    assert.equal(heap.stats().slab.areas, 0);
    for (const ptr of held.ptrs ?? []) heap.free(ptr);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });
});

Deno.test("a worker terminated while parked waiting for the heap lock does not stall the others", async () => {
  const heap = Heap.create({ lockTimeoutMs: 5000 });
  await withPeers(2, async ([parked, next]) => {
    lockWord(heap.i32, H_LOCK, heap.workerId, 1000); // the main thread holds the heap lock
    parked.send({ task: "probe", buffer: heap.buffer, sizeBytes: 5000, announce: true });
    assert.equal((await parked.ok()).stage, "waiting");
    // Let it reach Atomics.wait (it sets the waiters bit first), then kill it there.
    for (let n = 0; n < 500 && (Atomics.load(heap.i32, H_LOCK) & 1) === 0; n++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(heap.i32[H_LOCK] & 1, 1, "a waiter is announced on the lock word");
    await new Promise((resolve) => setTimeout(resolve, 50));
    parked.terminate();
    next.send({ task: "probe", buffer: heap.buffer, sizeBytes: 5000, announce: true });
    assert.equal((await next.ok()).stage, "waiting");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const released = performance.now();
    unlockWord(heap.i32, H_LOCK, heap.workerId);
    const reply = await next.ok();
    assert.equal(reply.stage, "allocated");
    const lateMs = performance.now() - released;
    assert.ok(lateMs < 2000, `the live waiter got the lock ${lateMs} ms after the unlock`);
  });
  heap.check();
});
