// recover() against a live worker (Deno workers; the portable part is liveness_test.ts).

import assert from "node:assert/strict";
import { Heap, WorkerAliveError } from "../../mod.ts";
import { withWorkers } from "../_support/pool.ts";
import type { CheckReply, CheckTask } from "./_check_worker.ts";

const H_LOCK = 5;
const CHECK_WORKER_URL = new URL("./_check_worker.ts", import.meta.url);

Deno.test("recover() refuses while a live worker holds the heap lock in a long check() that renews its heartbeat", async () => {
  // Many chunks, so check() holds the lock a long while and renews its
  // heartbeat as it walks. (lockTimeoutMs is what recover() watches: it must
  // exceed how long this loaded machine may leave a thread unscheduled. 1 s was
  // not enough under CI's parallel suite; a refusal returns at the first sign
  // of life, so a long watch costs nothing here.)
  const heap = Heap.create({ initialBytes: 64 << 20, maxBytes: 64 << 20, lockTimeoutMs: 10_000 });
  for (let i = 0; i < 45_000; i++) heap.alloc(1100 + (i % 7) * 8);
  const stop = new Int32Array(new SharedArrayBuffer(4));
  await withWorkers<CheckTask, CheckReply, void>(CHECK_WORKER_URL, 1, async ([worker]) => {
    const id = (await worker.send({ buffer: heap.buffer, stop: stop.buffer }).next()).workerId ?? 0;
    let refused = 0;
    for (let attempt = 0; attempt < 20_000 && refused < 3; attempt++) {
      if (Atomics.load(heap.i32, H_LOCK) >>> 1 !== id) {
        if (attempt % 64 === 0) await new Promise((r) => setTimeout(r, 0));
        continue;
      }
      // The lock names the worker, which is busy in check(): not dead.
      assert.throws(() => heap.recover(id), WorkerAliveError);
      refused++;
    }
    assert.ok(refused >= 1, "never saw the worker holding the lock");
    Atomics.store(stop, 0, 1);
    assert.ok(((await worker.next()).checks ?? 0) >= 1);
    heap.check();
  });
});
