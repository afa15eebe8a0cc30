// Worker-thread side of tests/wasm/wasm_memory_test.ts (node:worker_threads):
// receives the shared WebAssembly.Memory, attaches the heap in it, instantiates
// the particles module over the same memory and pushes records onto a list.

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { runThread } from "../_support/thread.ts";
import { Heap, type WasmMemory } from "../../mod.ts";
import { instantiate } from "./_particles_module.ts";

/** This module's URL (a `.ts` file under Deno, the compiled `.js` under Node). */
export const WASM_WORKER_URL: string = import.meta.url;

/** What the worker is asked to do. */
export interface WasmTask {
  memory: WasmMemory;
  baseOffset: number;
  first: number;
  count: number;
}

/** The worker's reply: the head of the list it built, or an error. */
export interface WasmReply {
  ok: boolean;
  error?: string;
  head: number;
  workerId: number;
}

/** Runs `task` in a new worker thread (fails after `timeoutMs`, a hang guard). */
export function runWasmWorker(task: WasmTask, timeoutMs = 60_000): Promise<WasmReply> {
  return runThread(WASM_WORKER_URL, "wasmTask", task, timeoutMs);
}

async function main(task: WasmTask): Promise<WasmReply> {
  const heap = Heap.attach(task.memory, { baseOffset: task.baseOffset });
  const wasm = await instantiate(task.memory, heap);
  const head = wasm.push_many(0, task.first, task.count);
  heap.detach();
  return { ok: true, head, workerId: heap.workerId };
}

if (!isMainThread && workerData?.wasmTask !== undefined) {
  main(workerData.wasmTask as WasmTask).then(
    (reply) => parentPort?.postMessage(reply),
    (e) =>
      parentPort?.postMessage({ ok: false, error: String(e?.stack ?? e), head: 0, workerId: 0 }),
  );
}
