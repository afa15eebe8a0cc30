/// <reference lib="deno.worker" />
// Worker side of tests/alloc/arena_cache_workers_test.ts. "churn": attaches
// with `arenaCache: true`, allocates and frees mid-size blocks (stamped, so an
// overlap is seen), hands some of them to the next worker to free, detaches
// and replies. "victim": fills its arena cache, replies, then waits to be
// terminated.

import { Heap } from "../../mod.ts";

/** Control words (i32): per ring, head (consumer) and tail (producer), then entries. */
const RING_ENTRIES = 256;
const RING_WORDS = 2 + RING_ENTRIES;
/** Control word: workers that finished their own operations. */
export const C_DONE = 0;
/** First ring word; ring `r` carries blocks from worker r - 1 (mod n) to worker r. */
const C_RINGS = 16;

/** Words of the control block for `workers` workers. */
export function controlWords(workers: number): number {
  return C_RINGS + workers * RING_WORDS;
}

/** What the test asks a worker to do. */
export type ArenaCacheTask =
  | {
    task: "churn";
    buffer: SharedArrayBuffer;
    control: SharedArrayBuffer;
    index: number;
    workers: number;
    ops: number;
    seed: number;
  }
  | { task: "victim"; buffer: SharedArrayBuffer };

/** The reply. */
export interface ArenaCacheReply {
  ok: boolean;
  error?: string;
  workerId?: number;
  /** Victim: a block it keeps live. */
  live?: number;
  /** Victim: chunks in its cache when it stopped. */
  cachedChunks?: number;
  /** Churn: the most cached chunks seen at a stats() call. */
  cachedSeen?: number;
  /** Churn: blocks received from another worker and freed here. */
  remoteFrees?: number;
}

/** Small deterministic PRNG (xorshift32). */
function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function stamp(heap: Heap, ptr: number, sizeBytes: number): void {
  const u32 = heap.u32;
  u32[ptr >>> 2] = ptr ^ 0x5a5a5a5a;
  u32[(ptr + ((sizeBytes >>> 1) & ~3)) >>> 2] = ptr ^ 0x3c3c3c3c;
  u32[(ptr + sizeBytes - 4) >>> 2] = ptr;
}

function verify(heap: Heap, ptr: number, sizeBytes: number): void {
  const u32 = heap.u32;
  if (
    u32[ptr >>> 2] !== ((ptr ^ 0x5a5a5a5a) >>> 0) ||
    u32[(ptr + ((sizeBytes >>> 1) & ~3)) >>> 2] !== ((ptr ^ 0x3c3c3c3c) >>> 0) ||
    u32[(ptr + sizeBytes - 4) >>> 2] !== ptr
  ) {
    throw new Error(`block ${ptr} of ${sizeBytes} bytes was overwritten: two blocks overlap`);
  }
}

function churn(task: Extract<ArenaCacheTask, { task: "churn" }>): ArenaCacheReply {
  const heap = Heap.attach(task.buffer, { arenaCache: true });
  const ctl = new Int32Array(task.control);
  const next = (task.index + 1) % task.workers;
  const outRing = C_RINGS + next * RING_WORDS;
  const inRing = C_RINGS + task.index * RING_WORDS;
  const random = rng(task.seed);
  const ptrs: number[] = [];
  const sizes: number[] = [];
  let cachedSeen = 0;
  let remoteFrees = 0;
  const drain = (): void => {
    for (let n = 0; n < RING_ENTRIES; n++) {
      const head = Atomics.load(ctl, inRing);
      if (head === Atomics.load(ctl, inRing + 1)) return;
      const slot = inRing + 2 + (head % (RING_ENTRIES / 2)) * 2;
      const ptr = ctl[slot] >>> 0;
      const size = ctl[slot + 1];
      verify(heap, ptr, size);
      heap.free(ptr); // a block another worker allocated (maybe from its cache)
      remoteFrees++;
      Atomics.store(ctl, inRing, head + 1);
    }
  };
  const handOff = (ptr: number, size: number): boolean => {
    const tail = Atomics.load(ctl, outRing + 1);
    if (tail - Atomics.load(ctl, outRing) >= RING_ENTRIES / 2) return false; // full
    const slot = outRing + 2 + (tail % (RING_ENTRIES / 2)) * 2;
    ctl[slot] = ptr;
    ctl[slot + 1] = size;
    Atomics.store(ctl, outRing + 1, tail + 1);
    return true;
  };
  for (let op = 0; op < task.ops; op++) {
    if ((op & 15) === 0) drain();
    if (op === task.ops >>> 1) cachedSeen = heap.stats().cachedChunks;
    if (ptrs.length < 40 || (ptrs.length < 400 && random() < 0.5)) {
      // Talc's size rule up to 30,000 bytes; a quarter aligned to 16 or 64.
      const cap = 16 + Math.floor(random() * 29_984);
      const size = 16 + Math.floor(random() * (cap - 16)) & ~3;
      const r = random();
      const align = r < 0.75 ? 8 : r < 0.95 ? 16 : 64;
      const ptr = heap.alloc(size, align);
      if (ptr % align !== 0) throw new Error(`block ${ptr} is not aligned to ${align}`);
      stamp(heap, ptr, size);
      ptrs.push(ptr);
      sizes.push(size);
    } else {
      const k = Math.floor(random() * ptrs.length);
      const ptr = ptrs[k];
      const size = sizes[k];
      ptrs[k] = ptrs[ptrs.length - 1];
      sizes[k] = sizes[sizes.length - 1];
      ptrs.pop();
      sizes.pop();
      verify(heap, ptr, size);
      if (random() < 0.25 && handOff(ptr, size)) continue;
      if (random() < 0.1) {
        const moved = heap.realloc(ptr, size + 100);
        stamp(heap, moved, size);
        verify(heap, moved, size);
        heap.free(moved);
      } else {
        heap.free(ptr);
      }
    }
  }
  for (let k = 0; k < ptrs.length; k++) {
    verify(heap, ptrs[k], sizes[k]);
    heap.free(ptrs[k]);
  }
  Atomics.add(ctl, C_DONE, 1);
  // Free what the previous worker still hands over, until every worker is done.
  for (let spins = 0; spins < 1 << 24; spins++) {
    drain();
    const done = Atomics.load(ctl, C_DONE) === task.workers;
    if (done && Atomics.load(ctl, inRing) === Atomics.load(ctl, inRing + 1)) break;
    Atomics.wait(ctl, C_DONE, Atomics.load(ctl, C_DONE), 1);
  }
  heap.detach(); // gives the cached chunks back
  return { ok: true, workerId: heap.workerId, cachedSeen, remoteFrees };
}

function victim(task: Extract<ArenaCacheTask, { task: "victim" }>): ArenaCacheReply {
  const heap = Heap.attach(task.buffer, { arenaCache: true });
  heap.free(heap.alloc(3000)); // makes the cache, which keeps this block
  const live = heap.alloc(5000);
  const blocks = [heap.alloc(2000), heap.alloc(4000), heap.alloc(8000)];
  for (const b of blocks) heap.free(b);
  return { ok: true, workerId: heap.workerId, live, cachedChunks: heap.stats().cachedChunks };
}

self.onmessage = (event: MessageEvent<ArenaCacheTask>) => {
  const task = event.data;
  try {
    const reply = task.task === "churn" ? churn(task) : victim(task);
    self.postMessage(reply);
    if (task.task === "victim") {
      // Wait (bounded) to be terminated, holding the cached chunks.
      const sleeper = new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(sleeper, 0, 0, 60_000);
    }
  } catch (error) {
    self.postMessage({ ok: false, error: String(error) } satisfies ArenaCacheReply);
  }
};
