// Churn with killed workers: several workers allocate, free and resize blocks
// of a shared table (so blocks move between workers) while the heap grows;
// workers are terminated at random points and recovered with heap.recover().
// Afterwards every surviving block is verified byte for byte, no two blocks
// overlap, check() is clean and, once everything is freed, no byte is leaked.

import assert from "node:assert/strict";
import { DoubleFreeError, Heap, InvalidPointerError, WorkerAliveError } from "../../mod.ts";
import { ARENA_START, EPILOGUE_BYTES, H_KEY, SIZE_MASK, USED_BIT } from "../../src/heap/layout.ts";
import { isUsedTag } from "../../src/alloc/arena.ts";
import {
  AREA_BYTES,
  freeSlotTag,
  P_BUMP,
  P_MAGIC2,
  P_SLOT,
  PAGE_BYTES,
  PAGE_HEADER_BYTES,
  pageMagic,
  pageMagic2,
  tombstoneMagic,
} from "../../src/alloc/slab.ts";
import {
  C_BLOCKED,
  C_FAILED,
  C_OPS,
  C_STOP,
  type ChurnReply,
  type ChurnTask,
  E_FILL,
  E_PTR,
  E_SIZE,
  E_STATE,
  EMPTY,
  ENTRY_WORDS,
  LIVE,
} from "./_churn_worker.ts";
import { PoolWorker } from "../_support/pool.ts";
import { Sfc32 } from "../_support/prng.ts";

const WORKER_URL = new URL("./_churn_worker.ts", import.meta.url);
const MiB = 1 << 20;
const WORKERS = 4;
const KILLS = 6;
/** Most operations of one worker (a bound: the main thread stops them first). */
const OPS = 1_000_000;
const ENTRIES = 1024;
/** Operations (over all workers) between two kills. */
const OPS_BETWEEN_KILLS = 2500;
const HANG_GUARD_MS = 120_000;

interface Running {
  worker: PoolWorker<ChurnTask, ChurnReply>;
  workerId: number;
  done: Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Every live user block: arena chunks with a user tag, and live slots of slab pages. */
function liveBlocks(heap: Heap): number[] {
  const u32 = heap.u32;
  const limit = u32[3] - EPILOGUE_BYTES;
  const out: number[] = [];
  for (let c = ARENA_START; c < limit;) {
    const h = u32[c >>> 2];
    const size = (h & SIZE_MASK) >>> 0;
    assert.ok(size >= 24, `chunk walk broken at ${c}`);
    const p = c + 8;
    if ((h & USED_BIT) !== 0) {
      if (isUsedTag(u32[H_KEY], c, u32[(c + 4) >>> 2])) {
        out.push(p);
      } else if (
        p % PAGE_BYTES === 0 && u32[p >>> 2] === pageMagic(p) &&
        u32[(p >>> 2) + P_MAGIC2] === pageMagic2(p)
      ) {
        const slot = u32[(p >>> 2) + P_SLOT];
        for (let s = p + PAGE_HEADER_BYTES; s < u32[(p >>> 2) + P_BUMP]; s += slot) {
          if (u32[(s + 4) >>> 2] !== freeSlotTag(u32[H_KEY], s)) out.push(s);
        }
      }
    }
    c += size;
  }
  return out;
}

Deno.test("churn: 4 workers, growth, cross-worker frees, realloc, 6 workers killed and recovered", async () => {
  const heap = Heap.create({ initialBytes: 1 * MiB, maxBytes: 256 * MiB, lockTimeoutMs: 400 });
  const table = new Int32Array(new SharedArrayBuffer(ENTRIES * ENTRY_WORDS * 4));
  const control = new Int32Array(new SharedArrayBuffer(64));
  const failures: string[] = [];
  let nextIndex = 0;
  const running = new Map<number, Running>();

  const spawn = async (): Promise<void> => {
    const index = nextIndex++;
    const worker = new PoolWorker<ChurnTask, ChurnReply>(WORKER_URL, index, {
      replyTimeoutMs: HANG_GUARD_MS,
    });
    worker.send({
      buffer: heap.buffer,
      table: table.buffer as SharedArrayBuffer,
      control: control.buffer as SharedArrayBuffer,
      index,
      ops: OPS,
      seed: 0xc0ffee + index * 7919,
    });
    const workerId = (await worker.next()).workerId ?? 0;
    // Its failures as they come, until it reports done (a killed worker never does).
    const done = (async (): Promise<void> => {
      for (;;) {
        const reply = await worker.next();
        if (reply.failed !== undefined) failures.push(reply.failed);
        if (reply.done) return;
      }
    })().catch((error: Error) => {
      if (!worker.terminated) failures.push(`worker error: ${error.message}`);
    });
    running.set(index, { worker, workerId, done });
  };

  const started = performance.now();
  for (let i = 0; i < WORKERS; i++) await spawn();
  const rng = new Sfc32(99);
  const rand = (n: number): number => rng.below(n);
  const killed: number[] = [];
  let aliveRefusals = 0;
  for (let k = 0; k < KILLS; k++) {
    const target = Atomics.load(control, C_OPS) + OPS_BETWEEN_KILLS;
    while (Atomics.load(control, C_OPS) < target && performance.now() - started < HANG_GUARD_MS) {
      await sleep(2 + rand(5));
    }
    const indexes = [...running.keys()];
    const victim = indexes[rand(indexes.length)];
    const r = running.get(victim);
    if (r === undefined) continue;
    running.delete(victim);
    r.worker.terminate();
    killed.push(victim);
    // recover() refuses while the worker still runs (terminate() returns before it stops).
    for (let attempt = 0;; attempt++) {
      try {
        heap.recover(r.workerId);
        break;
      } catch (e) {
        if (!(e instanceof WorkerAliveError) || attempt > 50) throw e;
        aliveRefusals++;
        await sleep(20);
      }
    }
    await spawn();
  }
  const target = Atomics.load(control, C_OPS) + OPS_BETWEEN_KILLS;
  while (Atomics.load(control, C_OPS) < target && performance.now() - started < HANG_GUARD_MS) {
    await sleep(5);
  }
  Atomics.store(control, C_STOP, 1);
  await Promise.race([
    Promise.all([...running.values()].map((r) => r.done)),
    sleep(HANG_GUARD_MS).then(() => assert.fail("workers did not finish")),
  ]);
  for (const r of running.values()) r.worker.terminate();
  assert.deepEqual(failures, []);
  assert.equal(Atomics.load(control, C_FAILED), 0);

  // Entries a killed worker had claimed: its block may or may not exist.
  const livePtrs = new Set<number>();
  for (let e = 0; e < table.length; e += ENTRY_WORDS) {
    if (table[e + E_STATE] === LIVE) livePtrs.add(table[e + E_PTR]);
  }
  let claimedFreed = 0;
  for (let e = 0; e < table.length; e += ENTRY_WORDS) {
    if (table[e + E_STATE] >= 0) continue;
    const ptr = table[e + E_PTR];
    table[e + E_STATE] = EMPTY;
    if (ptr === 0 || livePtrs.has(ptr)) continue;
    try {
      heap.usableSize(ptr);
      heap.free(ptr);
      claimedFreed++;
    } catch (err) {
      if (!(err instanceof InvalidPointerError || err instanceof DoubleFreeError)) throw err;
    }
  }
  // Every surviving block: its bytes, and no overlap with another.
  const live: [number, number, number][] = [];
  for (let e = 0; e < table.length; e += ENTRY_WORDS) {
    if (table[e + E_STATE] === LIVE) {
      live.push([table[e + E_PTR], table[e + E_SIZE], table[e + E_FILL]]);
    }
  }
  live.sort((a, b) => a[0] - b[0]);
  const u8 = heap.u8;
  for (let i = 0; i < live.length; i++) {
    const [ptr, size, fill] = live[i];
    for (let j = ptr; j < ptr + size; j++) {
      if (u8[j] !== fill) assert.fail(`block ${ptr}: byte ${j - ptr} is ${u8[j]}, not ${fill}`);
    }
    if (i + 1 < live.length) {
      assert.ok(ptr + size <= live[i + 1][0], `blocks ${ptr} and ${live[i + 1][0]} overlap`);
    }
  }
  heap.check();
  for (const [ptr] of live) heap.free(ptr);
  // What is left: allocations a killed worker had made but not yet recorded
  // (at most one per kill).
  const leftovers = liveBlocks(heap);
  assert.ok(leftovers.length <= KILLS, `${leftovers.length} unrecorded blocks`);
  for (const p of leftovers) heap.free(p);
  heap.detach();
  heap.check();
  const s = heap.stats();
  assert.equal(s.liveAllocations, 0);
  assert.equal(s.slab.pages, 0);
  assert.equal(s.slab.areas, 0);
  // Only the kept areas of killed workers remain: every used chunk is one.
  let tombstones = 0;
  let tombstoneBytes = 0;
  const u32 = heap.u32;
  for (let c = ARENA_START; c < heap.byteLength - EPILOGUE_BYTES;) {
    const size = (u32[c >>> 2] & SIZE_MASK) >>> 0;
    if ((u32[c >>> 2] & USED_BIT) !== 0) {
      assert.equal(u32[(c + 8) >>> 2], tombstoneMagic(c + 8), `used chunk ${c} is not a kept area`);
      assert.ok(size >= AREA_BYTES + 12);
      tombstones++;
      tombstoneBytes += size;
    }
    c += size;
  }
  assert.equal(tombstones, s.slab.recoveredAreas);
  assert.equal(s.usedBytes, tombstoneBytes);
  assert.ok(s.slab.recoveredAreas <= KILLS);
  assert.ok(heap.byteLength > 1 * MiB, "the heap grew");
  console.log("churn with kills:", {
    ops: Atomics.load(control, C_OPS),
    blockedRetries: Atomics.load(control, C_BLOCKED),
    killed: killed.length,
    aliveRefusals,
    survivingBlocks: live.length,
    claimedFreed,
    leftovers: leftovers.length,
    recoveredAreas: s.slab.recoveredAreas,
    heapBytes: heap.byteLength,
    ms: Math.round(performance.now() - started),
  });
});
