/**
 * One task in a fresh `node:worker_threads` thread, for the tests that run
 * under Deno and Node alike (a web `Worker`, as in pool.ts, exists only in
 * Deno and browsers). The thread's module reads its task from `workerData`
 * and posts one reply.
 *
 * @module
 */

import { Worker } from "node:worker_threads";
import { describeMessage } from "./describe.ts";

/**
 * Starts a thread on `url` with `workerData` `{ [key]: task }`, resolves with the first message it
 * posts (then terminates it), and rejects when it throws, exits without a
 * reply, or does not reply within `timeoutMs` (a hang guard, not a bound of the test).
 *
 * @param url The thread's module (a `.ts` file under Deno, the compiled `.js` under Node).
 * @param key The `workerData` field the thread reads its task from.
 * @param task The task.
 * @param timeoutMs The hang guard. Default 60,000 ms.
 * @returns The thread's reply.
 */
export function runThread<Task, Reply>(
  url: string,
  key: string,
  task: Task,
  timeoutMs = 60_000,
): Promise<Reply> {
  const name = url.slice(url.lastIndexOf("/") + 1);
  const what = describeMessage(task);
  const worker = new Worker(new URL(url), { workerData: { [key]: task } });
  return new Promise<Reply>((resolve, reject) => {
    let settled = false;
    const settle = (then: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      then();
    };
    const timer = setTimeout(() => {
      settle(() =>
        reject(new Error(`Thread ${name} did not reply within ${timeoutMs} ms to ${what}`))
      );
      worker.terminate();
    }, timeoutMs);
    worker.once("message", (reply: Reply) => {
      settle(() => worker.terminate().then(() => resolve(reply), reject));
    });
    worker.once("error", (error: Error) => {
      settle(() =>
        reject(new Error(`Thread ${name} threw on ${what}: ${error.message}`, { cause: error }))
      );
    });
    worker.once("exit", (code: number) => {
      settle(() =>
        reject(new Error(`Thread ${name} exited with code ${code} before replying to ${what}`))
      );
    });
  });
}
