// A heap saved by one process (used there by 2 worker threads) and restored in
// this one: every root and block reads back, no page or lock belongs to the old
// workers, and 2 new workers go on allocating. Portable: node:child_process and
// node:worker_threads, so it runs under Deno and, against the built package, Node.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Heap, lockWord, unlockWord } from "../../mod.ts";
import { loadIndex, PERSIST_CHILD_URL, SAVE_BLOCKS_PER_WORKER } from "./_persist_child.ts";
import { badByte, runInWorker } from "./_persist_worker.ts";

const IS_DENO = typeof (globalThis as { Deno?: unknown }).Deno === "object";

/** Runs the saving child process; returns the snapshot it wrote. */
function saveInChild(): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "typedheap-persist-"));
  try {
    const file = join(dir, "heap.bin");
    const script = fileURLToPath(PERSIST_CHILD_URL);
    const args = IS_DENO ? ["run", "-A", script] : [script];
    const result = spawnSync(process.execPath, args, {
      env: { ...process.env, TYPEDHEAP_PERSIST_SAVE: file },
      encoding: "utf8",
      timeout: 300_000, // a hang guard only
    });
    assert.equal(result.status, 0, `child failed: ${result.stderr}`);
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("a heap saved in one process and restored in another", () => {
  it("reads every block back and goes on allocating from 2 new workers", async () => {
    const bytes = saveInChild();
    const heap = Heap.restore(bytes);
    heap.check();
    const before = heap.stats();
    // The old process's areas are gone; its pages are orphans or back in the arena.
    assert.equal(before.slab.areas, 0);
    assert.ok(before.slab.pages > 2, `${before.slab.pages} pages`);
    assert.ok(before.slab.classes.filter((c) => c.pages > 0).length >= 6);
    assert.equal(heap.workerId, 1);
    assert.equal(heap.u32[5], 0); // the heap lock is free
    // The old workers were ids 2 and 3 there (in either order: they started at once).
    const old = heap.getRoot("workers");
    assert.deepEqual([Math.floor(old / 1000), old % 1000].sort(), [2, 3]);
    const blocks = loadIndex(heap, heap.getRoot("index"));
    assert.equal(blocks.length, 2 * SAVE_BLOCKS_PER_WORKER * 4 / 5);
    for (const block of blocks) assert.equal(badByte(heap, block), -1, `block ${block}`);
    assert.equal(before.liveAllocations, blocks.length + 2); // plus the index and the lock word
    // The lock word both old workers took and released is free for a new worker.
    const lock = heap.getRoot("lock");
    lockWord(heap.i32, lock >>> 2, heap.workerId, 1000);
    unlockWord(heap.i32, lock >>> 2, heap.workerId);

    // Two new workers (ids 2 and 3 here, as the old ones were: pages must not
    // be mistaken for theirs) free half the old blocks each and allocate more.
    const half = blocks.length / 2;
    const replies = await Promise.all([0, 1].map((k) =>
      runInWorker({
        buffer: heap.buffer,
        seed: 900_000 + k * 10_000,
        count: 500,
        lockIndex: lock >>> 2,
        free: blocks.slice(k * half, (k + 1) * half).map(([ptr]) => ptr),
      })
    ));
    for (const reply of replies) assert.ok(reply.ok, reply.error);
    assert.deepEqual(replies.map((r) => r.workerId).sort(), [2, 3]);
    heap.check();
    for (const reply of replies) {
      for (const block of reply.blocks) assert.equal(badByte(heap, block), -1);
    }
    const after = heap.stats();
    assert.equal(after.liveAllocations, 2 * 500 + 2);
    assert.equal(after.slab.areas, 2);
    // Every block of the new workers is freed by this handle; check passes.
    for (const reply of replies) for (const [ptr] of reply.blocks) heap.free(ptr);
    heap.free(heap.getRoot("index"));
    heap.free(lock);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });
});
