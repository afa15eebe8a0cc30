// Thread side of tests/_support/thread_test.ts (node:worker_threads): does what
// its task asks.

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import process from "node:process";

/** This module's URL (a `.ts` file under Deno, the compiled `.js` under Node). */
export const THREAD_TEST_URL: string = import.meta.url;

/** What the thread is asked to do. */
export interface ThreadTestTask {
  do: "echo" | "throw" | "exit" | "silent";
  value: number;
}

if (!isMainThread && workerData?.threadTest !== undefined) {
  const task = workerData.threadTest as ThreadTestTask;
  if (task.do === "echo") parentPort?.postMessage({ value: task.value * 2 });
  else if (task.do === "throw") throw new RangeError(`thrown on request ${task.value}`);
  else if (task.do === "exit") process.exit(3);
  // "silent": posts nothing and stays alive until terminated.
  else setInterval(() => {}, 1000);
}
