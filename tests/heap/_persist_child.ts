// Child-process side of tests/heap/persist_process_test.ts: when started with
// TYPEDHEAP_PERSIST_SAVE set to a file path, it builds a heap used by 2 worker
// threads (blocks of several slab classes and arena sizes, a lock word taken
// and released by both, roots), snapshots it to that file and exits. The
// workers never detach, so their slab pages are still claimed in the snapshot.

import { writeFileSync } from "node:fs";
import process from "node:process";
import { Heap } from "../../mod.ts";
import { type Block, runInWorker } from "./_persist_worker.ts";

/** This module's URL (a `.ts` file under Deno, the compiled `.js` under Node). */
export const PERSIST_CHILD_URL: string = import.meta.url;

/** Blocks each worker of the saving process makes. */
export const SAVE_BLOCKS_PER_WORKER = 600;

/**
 * Stores blocks in a heap block (count, then pointer, size, seed per block)
 * and returns that block.
 */
export function storeIndex(heap: Heap, blocks: Block[]): number {
  const index = heap.alloc(4 + blocks.length * 12);
  const u32 = heap.u32;
  u32[index >>> 2] = blocks.length;
  blocks.forEach(([ptr, size, seed], i) => {
    u32[(index >>> 2) + 1 + i * 3] = ptr;
    u32[(index >>> 2) + 2 + i * 3] = size;
    u32[(index >>> 2) + 3 + i * 3] = seed;
  });
  return index;
}

/** Reads the blocks stored by {@linkcode storeIndex}. */
export function loadIndex(heap: Heap, index: number): Block[] {
  const u32 = heap.u32;
  const blocks: Block[] = [];
  for (let i = 0; i < u32[index >>> 2]; i++) {
    const w = (index >>> 2) + 1 + i * 3;
    blocks.push([u32[w], u32[w + 1], u32[w + 2]]);
  }
  return blocks;
}

async function save(path: string): Promise<void> {
  const heap = Heap.create({ initialBytes: 1 << 20, maxBytes: 64 << 20 });
  const lock = heap.allocZeroed(8);
  const [a, b] = await Promise.all([1, 2].map((k) =>
    runInWorker({
      buffer: heap.buffer,
      seed: k * 100_000,
      count: SAVE_BLOCKS_PER_WORKER,
      lockIndex: lock >>> 2,
      free: [],
    })
  ));
  for (const reply of [a, b]) if (!reply.ok) throw new Error(reply.error);
  // Each worker frees a few blocks of the other (remote frees, not yet collected).
  const blocks = [...a.blocks, ...b.blocks].filter((_, i) => i % 5 !== 0);
  for (const [ptr] of [...a.blocks, ...b.blocks].filter((_, i) => i % 5 === 0)) heap.free(ptr);
  heap.setRoot("index", storeIndex(heap, blocks));
  heap.setRoot("lock", lock);
  heap.setRoot("workers", a.workerId * 1000 + b.workerId);
  heap.check();
  writeFileSync(path, heap.snapshot());
}

const savePath = process.env.TYPEDHEAP_PERSIST_SAVE;
if (savePath !== undefined && savePath !== "") {
  save(savePath).then(() => process.exit(0), (e) => {
    console.error(e);
    process.exit(1);
  });
}
