// The arena cache with real workers: 2 and 4 workers attached with
// `arenaCache: true` allocate and free mid-size blocks (stamped: an overlap
// is seen) and free blocks of the previous worker; a terminated worker that
// held cached chunks is recovered meanwhile. Bounded by work (a fixed number
// of operations); the timeouts are hang guards only.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import { type ArenaCacheReply, type ArenaCacheTask, controlWords } from "./_arena_cache_worker.ts";

const WORKER_URL = new URL("./_arena_cache_worker.ts", import.meta.url).href;
const HANG_GUARD_MS = 240_000;

/** Runs one task on a new worker and returns its reply and the worker. */
function start(task: ArenaCacheTask): { worker: Worker; reply: Promise<ArenaCacheReply> } {
  const worker = new Worker(WORKER_URL, { type: "module" });
  const reply = new Promise<ArenaCacheReply>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("a worker hung")), HANG_GUARD_MS);
    worker.onmessage = (event: MessageEvent<ArenaCacheReply>) => {
      clearTimeout(timer);
      resolve(event.data);
    };
    worker.onerror = (event) => {
      clearTimeout(timer);
      event.preventDefault();
      reject(new Error(`a worker crashed: ${event.message}`));
    };
  });
  worker.postMessage(task);
  return { worker, reply };
}

async function churnWithRecovery(workers: number, ops: number): Promise<void> {
  const heap = Heap.create({ lockTimeoutMs: 100 });
  // A worker fills its cache, then is terminated holding it.
  const victim = start({ task: "victim", buffer: heap.buffer });
  const v = await victim.reply;
  assert.ok(v.ok, v.error);
  assert.equal(v.cachedChunks, 4);
  victim.worker.terminate();
  assert.equal(heap.stats().cachedChunks, 4);
  const control = new SharedArrayBuffer(controlWords(workers) * 4);
  const running = Array.from({ length: workers }, (_, index) =>
    start({
      task: "churn",
      buffer: heap.buffer,
      control,
      index,
      workers,
      ops,
      seed: 0x9e37 + index * 7919,
    }));
  try {
    // Recover the dead worker while the others run: its cached chunks go back.
    let recovered = false;
    for (let attempt = 0; attempt < 50 && !recovered; attempt++) {
      try {
        const report = heap.recover(v.workerId as number);
        assert.equal(report.areas, 1);
        recovered = true;
      } catch (e) {
        // Deno's terminate() may return before the worker stopped: it looks alive for a moment.
        if (!(e instanceof Error) || e.name !== "WorkerAliveError") throw e;
      }
    }
    assert.ok(recovered, "the terminated worker was never recovered");
    const replies = await Promise.all(running.map((r) => r.reply));
    for (const r of replies) assert.ok(r.ok, r.error);
    // The caches were in use, and blocks crossed between workers.
    assert.ok(replies.some((r) => (r.cachedSeen ?? 0) > 0), "no worker ever cached a chunk");
    assert.ok(replies.every((r) => (r.remoteFrees ?? 0) > 0), "a worker freed no block of another");
    heap.check();
    const s = heap.stats();
    assert.equal(s.cachedChunks, 0); // every worker detached; the victim was recovered
    assert.equal(s.cachedBytes, 0);
    assert.equal(s.liveAllocations, 1); // the victim's live block
    heap.free(v.live as number);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  } finally {
    for (const r of running) r.worker.terminate();
  }
}

describe("arena cache with workers", () => {
  it("2 workers, cross-worker frees, a terminated worker's cache recovered: check() clean", async () => {
    await churnWithRecovery(2, 20_000);
  });

  it("4 workers, cross-worker frees, a terminated worker's cache recovered: check() clean", async () => {
    await churnWithRecovery(4, 10_000);
  });
});
