// The shared worker pool: replies in order, failures and hangs as rejected
// promises naming the worker and the message, termination of every worker.

import assert from "node:assert/strict";
import {
  describeMessage,
  failedReply,
  type PoolWorker,
  startWorkers,
  terminateAll,
  withWorkers,
} from "./pool.ts";
import type { PoolTestMessage, PoolTestReply } from "./_pool_test_worker.ts";

const URL_ = new URL("./_pool_test_worker.ts", import.meta.url);
type W = PoolWorker<PoolTestMessage, PoolTestReply>;

Deno.test("pool: each worker's replies come back in the order it posted them", async () => {
  await withWorkers<PoolTestMessage, PoolTestReply, void>(URL_, 3, async (workers) => {
    assert.deepEqual(workers.map((w) => w.index), [0, 1, 2]);
    assert.equal(workers[1].name, "_pool_test_worker.ts #1");
    // Several messages in flight to each worker at once.
    for (const w of workers) {
      for (let k = 0; k < 5; k++) w.send({ do: "echo", value: w.index * 100 + k });
    }
    for (const w of [...workers].reverse()) {
      for (let k = 0; k < 5; k++) assert.equal((await w.next()).value, w.index * 100 + k);
    }
    // A message answered twice is read with two next() calls.
    const [a] = workers;
    assert.equal((await a.send({ do: "twice", value: 7 }).ok()).value, 7);
    assert.equal((await a.ok()).value, 8);
    assert.equal(a.failure, undefined);
  });
});

Deno.test("pool: a reply reporting a failure is returned by next() and rejected by ok()", async () => {
  await withWorkers<PoolTestMessage, PoolTestReply, void>(URL_, 1, async ([w]) => {
    const raw = await w.send({ do: "fail", value: 1 }).next();
    assert.deepEqual(raw, { ok: false, value: 1, error: "asked to fail", errorName: "RangeError" });
    assert.equal(w.failure, "RangeError: asked to fail");
    await assert.rejects(w.send({ do: "fail", value: 2 }).ok(), (e: Error) => {
      assert.match(e.message, /^Worker _pool_test_worker\.ts #0 failed/);
      assert.match(e.message, /do: "fail", value: 2/);
      assert.match(e.message, /RangeError: asked to fail/);
      return true;
    });
    // The worker is still usable.
    assert.equal((await w.send({ do: "echo", value: 3 }).ok()).value, 3);
  });
});

Deno.test("pool: a custom failure test decides what ok() refuses", async () => {
  await withWorkers<PoolTestMessage, PoolTestReply, void>(URL_, 1, async ([w]) => {
    await assert.rejects(w.send({ do: "echo", value: 13 }).ok(), /unlucky 13/);
    assert.equal((await w.send({ do: "fail", value: 1 }).ok()).ok, false);
  }, { failureOf: (r) => (r.value === 13 ? "unlucky 13" : undefined) });
});

Deno.test("pool: an uncaught error in a worker rejects the waiting and every later reply", async () => {
  await withWorkers<PoolTestMessage, PoolTestReply, void>(URL_, 2, async ([bad, good]) => {
    const waiting = bad.send({ do: "throw", value: 42 }).next();
    const check = (e: Error): boolean => {
      assert.match(e.message, /^Worker _pool_test_worker\.ts #0 threw while handling/);
      assert.match(e.message, /do: "throw", value: 42/);
      assert.match(e.message, /thrown on request 42/);
      return true;
    };
    await assert.rejects(waiting, check);
    await assert.rejects(bad.next(), check);
    assert.match(bad.failure ?? "", /thrown on request 42/);
    // The other worker is unaffected.
    assert.equal((await good.send({ do: "echo", value: 5 }).ok()).value, 5);
  });
});

Deno.test("pool: replies posted before an error are still read first", async () => {
  await withWorkers<PoolTestMessage, PoolTestReply, void>(URL_, 1, async ([w]) => {
    w.send({ do: "echo", value: 1 }).send({ do: "throw", value: 2 });
    // Wait until the error has arrived, without reading anything.
    for (let n = 0; n < 3000 && w.failure === undefined; n++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.match(w.failure ?? "", /thrown on request 2/);
    assert.equal((await w.next()).value, 1);
    await assert.rejects(w.next(), /thrown on request 2/);
  });
});

Deno.test("pool: the hang guard names the worker, the reply awaited and the last message", async () => {
  await withWorkers<PoolTestMessage, PoolTestReply, void>(URL_, 1, async ([w]) => {
    w.send({ do: "echo", value: 1 });
    assert.equal((await w.next()).value, 1);
    const started = performance.now();
    await assert.rejects(w.send({ do: "silent", value: 9 }).next(), (e: Error) => {
      assert.match(e.message, /^Worker _pool_test_worker\.ts #0 did not reply within 100 ms/);
      assert.match(e.message, /reply 2 awaited; last sent: message 2 \{ do: "silent", value: 9 \}/);
      return true;
    });
    assert.ok(performance.now() - started >= 90, "it waited for the guard");
  }, { replyTimeoutMs: 100 });
});

Deno.test("pool: terminate rejects a waiting reply and later sends; withWorkers terminates all on a throw", async () => {
  let seen: W[] = [];
  await assert.rejects(
    withWorkers<PoolTestMessage, PoolTestReply, void>(URL_, 2, async (workers) => {
      seen = workers;
      const waiting = workers[0].send({ do: "silent", value: 1 }).next();
      workers[0].terminate();
      await assert.rejects(waiting, /#0 was terminated while a reply was awaited/);
      await assert.rejects(workers[0].next(), /#0 was terminated: no more replies/);
      assert.throws(() => workers[0].send({ do: "echo", value: 1 }), /Cannot send to worker/);
      // A reply awaited but never read when the body throws: no unhandled rejection.
      workers[1].send({ do: "silent", value: 2 }).next();
      throw new Error("body failed");
    }),
    /body failed/,
  );
  assert.deepEqual(seen.map((w) => w.terminated), [true, true]);
});

Deno.test("pool: startWorkers and terminateAll without the wrapper", async () => {
  const workers = startWorkers<PoolTestMessage, PoolTestReply>(URL_, 2);
  try {
    const replies = await Promise.all(workers.map((w) => w.send({ do: "echo", value: 7 }).ok()));
    assert.deepEqual(replies.map((r) => r.value), [7, 7]);
  } finally {
    terminateAll(workers);
  }
  assert.ok(workers.every((w) => w.terminated));
});

Deno.test("pool: failedReply and describeMessage", () => {
  assert.equal(failedReply({ ok: true }), undefined);
  assert.equal(failedReply({ value: 1 }), undefined);
  assert.equal(failedReply(null), undefined);
  assert.equal(failedReply({ ok: false }), "Error: (no message)");
  assert.equal(failedReply({ ok: false, error: "x", errorName: "TypeError" }), "TypeError: x");
  assert.equal(
    describeMessage({ task: "mix", n: 3, buffer: new SharedArrayBuffer(16), list: [1, 2] }),
    '{ task: "mix", n: 3, buffer: SharedArrayBuffer(16), list: [2] }',
  );
  assert.equal(describeMessage(5), "5");
});
