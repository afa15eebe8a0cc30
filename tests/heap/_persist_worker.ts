// Worker-thread side of tests/heap/persist_process_test.ts (node:worker_threads,
// so it runs under Deno and Node alike): attaches the heap it is given, makes
// blocks of several slab classes and arena sizes with known contents, takes and
// releases a lock word in the heap, frees the blocks it is told to, and posts
// the blocks it made. It never detaches: its pages stay claimed by it.

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { runThread } from "../_support/thread.ts";
import { Heap, lockWord, unlockWord } from "../../mod.ts";

/** This module's URL (a `.ts` file under Deno, the compiled `.js` under Node). */
export const PERSIST_WORKER_URL: string = import.meta.url;

/** A block: pointer, size and the seed of its contents. */
export type Block = [ptr: number, size: number, seed: number];

/** What a worker is asked to do. */
export interface PersistTask {
  buffer: SharedArrayBuffer;
  /** Seeds of the blocks start here (unique per worker and phase). */
  seed: number;
  /** Blocks to make. */
  count: number;
  /** Index of the lock word in the heap's i32 view (0: no lock). */
  lockIndex: number;
  /** Blocks to free first (made by another worker or process). */
  free: number[];
}

/** The worker's reply. */
export interface PersistReply {
  ok: boolean;
  error?: string;
  workerId: number;
  blocks: Block[];
}

/** The byte `j` of a block made with `seed`. */
export function blockByte(seed: number, j: number): number {
  return (seed * 131 + j * 31 + (j >>> 8)) & 0xff;
}

/** Sizes of block `i`: slab classes of several sizes, and arena blocks. */
export function blockSize(i: number): number {
  const sizes = [8, 24, 40, 64, 100, 256, 520, 1024, 3000, 20_000];
  return sizes[i % sizes.length];
}

/** Writes the contents of a block. */
export function writeBlock(heap: Heap, [ptr, size, seed]: Block): void {
  const u8 = heap.u8;
  for (let j = 0; j < size; j++) u8[ptr + j] = blockByte(seed, j);
}

/** The first byte of a block that does not hold its contents, or -1. */
export function badByte(heap: Heap, [ptr, size, seed]: Block): number {
  const u8 = heap.u8;
  for (let j = 0; j < size; j++) if (u8[ptr + j] !== blockByte(seed, j)) return j;
  return -1;
}

/** Runs one task on a heap handle (in a worker, or inline). */
export function runTask(heap: Heap, task: PersistTask): Block[] {
  for (const p of task.free) heap.free(p);
  const blocks: Block[] = [];
  for (let i = 0; i < task.count; i++) {
    const size = blockSize(i);
    const block: Block = [heap.alloc(size), size, task.seed + i];
    writeBlock(heap, block);
    blocks.push(block);
    if (task.lockIndex !== 0 && i % 50 === 0) {
      lockWord(heap.i32, task.lockIndex, heap.workerId, 30_000);
      unlockWord(heap.i32, task.lockIndex, heap.workerId);
    }
  }
  return blocks;
}

/** Runs `task` in a new worker thread; resolves with its reply (fails after `timeoutMs`). */
export function runInWorker(task: PersistTask, timeoutMs = 60_000): Promise<PersistReply> {
  return runThread(PERSIST_WORKER_URL, "persistTask", task, timeoutMs);
}

if (!isMainThread && workerData?.persistTask !== undefined) {
  const task = workerData.persistTask as PersistTask;
  let reply: PersistReply;
  try {
    const heap = Heap.attach(task.buffer);
    reply = { ok: true, workerId: heap.workerId, blocks: runTask(heap, task) };
  } catch (e) {
    reply = { ok: false, error: String((e as Error)?.stack ?? e), workerId: 0, blocks: [] };
  }
  parentPort?.postMessage(reply);
}
