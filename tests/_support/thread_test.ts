// One task in a node:worker_threads thread: its reply, or an error that names
// the thread and the task when it throws, exits or hangs.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runThread } from "./thread.ts";
import { THREAD_TEST_URL, type ThreadTestTask } from "./_thread_test_worker.ts";

const run = (task: ThreadTestTask, timeoutMs?: number): Promise<{ value: number }> =>
  runThread(THREAD_TEST_URL, "threadTest", task, timeoutMs);

describe("runThread", () => {
  it("resolves with the thread's reply", async () => {
    assert.deepEqual(await run({ do: "echo", value: 21 }), { value: 42 });
  });

  it("rejects naming the thread and the task when the thread throws", async () => {
    await assert.rejects(run({ do: "throw", value: 5 }), (e: Error) => {
      assert.match(
        e.message,
        /^Thread _thread_test_worker\.(ts|js) threw on \{ do: "throw", value: 5 \}/,
      );
      assert.match(e.message, /thrown on request 5/);
      return true;
    });
  });

  it("rejects when the thread exits without replying", async () => {
    await assert.rejects(run({ do: "exit", value: 1 }), /exited with code 3 before replying/);
  });

  it("rejects after the hang guard when the thread never replies", async () => {
    await assert.rejects(
      run({ do: "silent", value: 9 }, 200),
      /did not reply within 200 ms to \{ do: "silent", value: 9 \}/,
    );
  });
});
