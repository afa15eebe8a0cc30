// recover() against a live worker (Deno workers; the portable part is liveness_test.ts).

import assert from "node:assert/strict";
import { Heap, WorkerAliveError } from "../../mod.ts";

const H_LOCK = 5;

Deno.test("recover() refuses while a live worker holds the heap lock in a long check() that renews its heartbeat", async () => {
  // Many chunks, so check() holds the lock a long while and renews its
  // heartbeat as it walks. (lockTimeoutMs is what recover() watches: it must
  // exceed how long this loaded machine may leave a thread unscheduled. 1 s was
  // not enough under CI's parallel suite; a refusal returns at the first sign
  // of life, so a long watch costs nothing here.)
  const heap = Heap.create({ initialBytes: 64 << 20, maxBytes: 64 << 20, lockTimeoutMs: 10_000 });
  for (let i = 0; i < 45_000; i++) heap.alloc(1100 + (i % 7) * 8);
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL("./_check_worker.ts", import.meta.url), { type: "module" });
  try {
    const replies: { workerId?: number; checks?: number }[] = [];
    let wake: () => void = () => {};
    worker.onmessage = (e) => {
      replies.push(e.data);
      wake();
    };
    worker.postMessage({ buffer: heap.buffer, stop: stop.buffer });
    while (replies.length === 0) await new Promise<void>((r) => (wake = r));
    const id = replies[0].workerId ?? 0;
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
    while (replies.length < 2) await new Promise<void>((r) => (wake = r));
    assert.ok((replies[1].checks ?? 0) >= 1);
    heap.check();
  } finally {
    worker.terminate();
  }
});
