/// <reference lib="deno.worker" />
// Worker side of tests/heap/workers_test.ts: attaches the heap it is sent,
// runs one task on it and posts one reply (or, for "hold", a reply and then
// nothing: it keeps the heap lock until it is terminated).

import { Heap, LockTimeoutError, lockWord } from "../../mod.ts";
import { Sfc32 } from "../_support/prng.ts";
import { talcAlignBytes, talcSizeBytes } from "../../bench/_workloads.ts";

/** Control words (i32, relative to the control block) shared by the "mix" workers. */
export const C_DONE_SENDING = 0;
export const C_FREED_ALL = 1;
export const C_FAILED = 2;
/** Set by the "grow" worker when it is done: the heap size it reached. */
export const C_GROWN_BYTES = 3;
/** Pointers of the "grow" worker's blocks, for another worker to free. */
export const C_GROWN_COUNT = 4;
export const C_GROWN_PTRS = 8;
/** First ring word: ring (s, r) carries blocks from worker s to worker r. */
export const C_RINGS = 64;
/** Ring header words: consumer head, producer tail; then the entries. */
const R_HEAD = 0;
const R_TAIL = 1;
const R_ENTRIES = 4;
/** Words per ring entry: pointer, size, block id, alignment. */
const ENTRY_WORDS = 4;

/** Words of one ring of `entries` entries. */
export function ringWords(entries: number): number {
  return R_ENTRIES + entries * ENTRY_WORDS;
}

/** Words of the control block for `workers` workers with rings of `entries` entries. */
export function controlWords(workers: number, entries: number): number {
  return C_RINGS + workers * workers * ringWords(entries);
}

/** Mixed alloc/free/realloc with blocks handed between workers. */
export interface MixTask {
  task: "mix";
  buffer: SharedArrayBuffer;
  /** One byte per 8-byte granule of the heap: which worker's block holds it (0: none). */
  owners: SharedArrayBuffer;
  /** Byte offset of the control block. */
  control: number;
  ringEntries: number;
  index: number;
  workers: number;
  ops: number;
  seed: number;
  /** Percent of allocations whose size cap is drawn up to 30000 instead of 200 (0: slab sizes only). */
  largePercent: number;
  /** Largest alignment drawn (Talc's rule, capped). */
  maxAlignBytes: number;
  /** Live blocks a worker keeps at most. */
  maxLive: number;
}

/** Allocate while the "grow" worker grows the heap. */
export interface GrowTask {
  task: "grow" | "alloc-while-growing";
  buffer: SharedArrayBuffer;
  control: number;
  index: number;
  workers: number;
  seed: number;
  /** grow: number of large blocks; alloc-while-growing: ops after the growth was seen. */
  count: number;
  /** grow: bytes of each large block. */
  blockBytes: number;
}

/** Take some slots, then take the heap lock and keep it until terminated. */
export interface HoldTask {
  task: "hold";
  buffer: SharedArrayBuffer;
  slots: number;
  /** Also take the heap lock (else just keep the slots and idle). */
  lock: boolean;
}

/** Allocate `sizeBytes` (which may wait for the heap lock) and report how it went. */
export interface ProbeTask {
  task: "probe";
  buffer: SharedArrayBuffer;
  sizeBytes: number;
  /** Post a "waiting" reply first. */
  announce: boolean;
}

export type Task = MixTask | GrowTask | HoldTask | ProbeTask;

/** What a worker posts back. */
export interface Reply {
  workerId: number;
  ok: boolean;
  error?: string;
  errorName?: string;
  /** LockTimeoutError.ownerId, when that was the error. */
  ownerId?: number;
  elapsedMs?: number;
  /** Pointers the worker allocated ("hold"). */
  ptrs?: number[];
  stage?: string;
  counts?: Record<string, number>;
}

/** Any wait in a worker gives up after this, so a bug fails instead of hanging. */
const DEADLINE_MS = 30_000;

self.onmessage = (event: MessageEvent<Task>) => {
  const data = event.data;
  let heap: Heap | undefined;
  try {
    heap = Heap.attach(data.buffer);
    const reply = run(heap, data);
    if (reply !== undefined) self.postMessage(reply);
  } catch (error) {
    const e = error as Error;
    if (data.task === "mix" || data.task === "grow" || data.task === "alloc-while-growing") {
      const i32 = new Int32Array(data.buffer, data.control, C_RINGS);
      Atomics.store(i32, C_FAILED, 1);
      Atomics.notify(i32, C_FREED_ALL);
    }
    self.postMessage(
      {
        workerId: heap?.workerId ?? 0,
        ok: false,
        error: `${e.message}\n${e.stack ?? ""}`,
        errorName: e.name,
        ownerId: e instanceof LockTimeoutError ? e.ownerId : undefined,
      } satisfies Reply,
    );
  }
};

function run(heap: Heap, data: Task): Reply | undefined {
  switch (data.task) {
    case "mix":
      return new Mixer(heap, data).run();
    case "grow":
      return grow(heap, data);
    case "alloc-while-growing":
      return allocWhileGrowing(heap, data);
    case "hold":
      return hold(heap, data);
    case "probe":
      return probe(heap, data);
  }
}

// ---- helpers ----

/** Talc's alignment rule, `8 << (trailing zeros of a u16 / 2)`, capped at `maxAlignBytes`. */
function talcAlign(rng: Sfc32, maxAlignBytes: number): number {
  return Math.min(talcAlignBytes(rng.nextU32() & 0xffff), maxAlignBytes);
}

function pattern(id: number, i: number): number {
  return (id * 131 + i * 7 + (i >>> 8)) & 255;
}

function fill(heap: Heap, ptr: number, sizeBytes: number, id: number, from: number): void {
  const u8 = heap.u8;
  for (let i = from; i < sizeBytes; i++) u8[ptr + i] = pattern(id, i);
}

function verify(heap: Heap, ptr: number, sizeBytes: number, id: number, what: string): void {
  const u8 = heap.u8;
  for (let i = 0; i < sizeBytes; i++) {
    if (u8[ptr + i] !== pattern(id, i)) {
      throw new Error(
        `Block ${id} at ${ptr} (${sizeBytes} B) lost byte ${i} ${what} in worker ${heap.workerId}: ` +
          `${u8[ptr + i]} != ${pattern(id, i)} (overlap or corruption)`,
      );
    }
  }
}

function deadlineCheck(deadline: number, what: string): void {
  if (performance.now() > deadline) throw new Error(`Worker gave up waiting: ${what}`);
}

// ---- "mix" ----

class Mixer {
  readonly heap: Heap;
  readonly task: MixTask;
  readonly rng: Sfc32;
  /** Control block words (a fixed view: stays valid when the heap grows). */
  readonly ctl: Int32Array;
  readonly owners: Uint8Array;
  readonly tag: number;
  readonly ringWords: number;
  ptrs: number[] = [];
  sizes: number[] = [];
  ids: number[] = [];
  aligns: number[] = [];
  nextId: number;
  counts = {
    allocs: 0,
    frees: 0,
    reallocs: 0,
    sent: 0,
    received: 0,
    ringFull: 0,
    freedForeign: 0,
    maxLive: 0,
    lastPtr: 0,
  };

  constructor(heap: Heap, task: MixTask) {
    this.heap = heap;
    this.task = task;
    this.rng = new Sfc32(task.seed);
    this.ctl = new Int32Array(
      task.buffer,
      task.control,
      controlWords(task.workers, task.ringEntries),
    );
    this.owners = new Uint8Array(task.owners);
    this.tag = task.index + 1;
    this.ringWords = ringWords(task.ringEntries);
    this.nextId = (task.index + 1) * 2 ** 24;
  }

  run(): Reply {
    const { ops, workers } = this.task;
    for (let op = 0; op < ops; op++) {
      if ((op & 7) === 0) this.drain(false);
      if ((op & 4095) === 0 && Atomics.load(this.ctl, C_FAILED) !== 0) {
        throw new Error("Another worker failed");
      }
      const r = this.rng.nextU32() / 2 ** 32;
      const live = this.ptrs.length;
      if (live < 4 || (r < 0.5 && live < this.task.maxLive)) this.alloc();
      else if (r < 0.85 || live >= this.task.maxLive) this.freeAt(this.rng.range(0, live));
      else this.reallocAt(this.rng.range(0, live));
      if (this.ptrs.length > this.counts.maxLive) this.counts.maxLive = this.ptrs.length;
    }
    // Free everything still held, then everything others keep sending until all are done.
    while (this.ptrs.length > 0) this.freeAt(this.ptrs.length - 1);
    Atomics.add(this.ctl, C_DONE_SENDING, 1);
    const deadline = performance.now() + DEADLINE_MS;
    for (;;) {
      const done = Atomics.load(this.ctl, C_DONE_SENDING) === workers;
      this.drain(true); // received blocks are freed at once from here on
      if (done) break; // every send happened before its sender counted itself done
      deadlineCheck(deadline, "other workers to finish sending");
      Atomics.wait(this.ctl, C_FAILED, 0, 1);
      if (Atomics.load(this.ctl, C_FAILED) !== 0) throw new Error("Another worker failed");
    }
    // Barrier: detach only once every block (ours on others' pages too) is freed,
    // so detach finds its pages empty and hands them all back to the arena.
    Atomics.add(this.ctl, C_FREED_ALL, 1);
    Atomics.notify(this.ctl, C_FREED_ALL);
    for (;;) {
      const freed = Atomics.load(this.ctl, C_FREED_ALL);
      if (freed >= workers) break;
      if (Atomics.load(this.ctl, C_FAILED) !== 0) throw new Error("Another worker failed");
      deadlineCheck(deadline, "the free barrier");
      Atomics.wait(this.ctl, C_FREED_ALL, freed, 50);
    }
    this.heap.detach();
    return { workerId: this.heap.workerId, ok: true, counts: this.counts };
  }

  alloc(): void {
    const { rng, heap, task } = this;
    const large = task.largePercent > 0 && rng.range(0, 100) < task.largePercent;
    const size = talcSizeBytes(rng, large ? 30_000 : 200);
    const align = talcAlign(rng, task.maxAlignBytes);
    const ptr = heap.alloc(size, align);
    if (ptr % align !== 0) throw new Error(`Block at ${ptr} is not aligned to ${align}`);
    this.claim(ptr, size);
    const id = this.nextId++;
    fill(heap, ptr, size, id, 0);
    this.counts.allocs++;
    if (ptr > this.counts.lastPtr) this.counts.lastPtr = ptr;
    if (task.workers > 1 && rng.range(0, 4) === 0) {
      let to = rng.range(0, task.workers - 1);
      if (to >= task.index) to++;
      // A full ring means the receiver is descheduled: wait for it, taking our own
      // deliveries meanwhile (so two workers waiting on each other both move on).
      const deadline = performance.now() + DEADLINE_MS;
      while (!this.send(to, ptr, size, id, align)) {
        this.counts.ringFull++;
        this.drain(false);
        deadlineCheck(deadline, "room in a ring");
        if (Atomics.load(this.ctl, C_FAILED) !== 0) throw new Error("Another worker failed");
        Atomics.wait(this.ctl, C_FAILED, 0, 0.1);
      }
      return;
    }
    this.ptrs.push(ptr);
    this.sizes.push(size);
    this.ids.push(id);
    this.aligns.push(align);
  }

  freeAt(k: number): void {
    const ptr = this.ptrs[k];
    const size = this.sizes[k];
    const id = this.ids[k];
    verify(this.heap, ptr, size, id, "before free");
    if ((id >>> 24) !== this.tag) this.counts.freedForeign++;
    this.release(ptr, size);
    this.heap.free(ptr);
    this.counts.frees++;
    const last = this.ptrs.length - 1;
    this.ptrs[k] = this.ptrs[last];
    this.sizes[k] = this.sizes[last];
    this.ids[k] = this.ids[last];
    this.aligns[k] = this.aligns[last];
    this.ptrs.pop();
    this.sizes.pop();
    this.ids.pop();
    this.aligns.pop();
  }

  reallocAt(k: number): void {
    const { rng, heap, task } = this;
    const old = this.ptrs[k];
    const oldSize = this.sizes[k];
    const id = this.ids[k];
    const large = task.largePercent > 0 && rng.range(0, 100) < task.largePercent;
    const size = talcSizeBytes(rng, large ? 30_000 : 200);
    verify(heap, old, oldSize, id, "before realloc");
    // Give the old bytes up first: realloc frees them, and another worker may get them at once.
    this.release(old, oldSize);
    const ptr = heap.realloc(old, size);
    this.claim(ptr, size);
    const kept = Math.min(oldSize, size);
    verify(heap, ptr, kept, id, "after realloc");
    const align = this.aligns[k];
    if (ptr % align !== 0) throw new Error(`realloc lost alignment ${align}: ${ptr}`);
    fill(heap, ptr, size, id, kept);
    this.ptrs[k] = ptr;
    this.sizes[k] = size;
    this.counts.reallocs++;
  }

  /** Marks the granules of a new block as ours; finding one taken means two live blocks overlap. */
  claim(ptr: number, size: number): void {
    const owners = this.owners;
    const end = (ptr + Math.max(size, 1) + 7) >>> 3;
    for (let g = ptr >>> 3; g < end; g++) {
      const seen = Atomics.compareExchange(owners, g, 0, this.tag);
      if (seen !== 0) {
        for (let u = ptr >>> 3; u < g; u++) Atomics.store(owners, u, 0);
        throw new Error(
          `Overlap: block [${ptr}, +${size}) from worker ${this.tag} covers byte ${
            g * 8
          }, still live in a block of worker ${seen}`,
        );
      }
    }
  }

  release(ptr: number, size: number): void {
    const owners = this.owners;
    const end = (ptr + Math.max(size, 1) + 7) >>> 3;
    for (let g = ptr >>> 3; g < end; g++) {
      if (Atomics.exchange(owners, g, 0) === 0) {
        throw new Error(`Granule ${g * 8} of block ${ptr} was not marked live`);
      }
    }
  }

  send(to: number, ptr: number, size: number, id: number, align: number): boolean {
    const ctl = this.ctl;
    const ring = C_RINGS + (this.task.index * this.task.workers + to) * this.ringWords;
    const entries = this.task.ringEntries;
    const tail = Atomics.load(ctl, ring + R_TAIL);
    if (tail - Atomics.load(ctl, ring + R_HEAD) >= entries) return false;
    const e = ring + R_ENTRIES + (tail % entries) * ENTRY_WORDS;
    ctl[e] = ptr;
    ctl[e + 1] = size;
    ctl[e + 2] = id; // below 2^31: (worker index + 1) << 24 | a counter
    ctl[e + 3] = align;
    Atomics.store(ctl, ring + R_TAIL, tail + 1);
    this.counts.sent++;
    return true;
  }

  /** Takes every block others sent us: keeps it live (or, with `freeNow`, frees it). */
  drain(freeNow: boolean): void {
    const ctl = this.ctl;
    const { workers, index, ringEntries } = this.task;
    for (let from = 0; from < workers; from++) {
      if (from === index) continue;
      const ring = C_RINGS + (from * workers + index) * this.ringWords;
      let head = Atomics.load(ctl, ring + R_HEAD);
      const tail = Atomics.load(ctl, ring + R_TAIL);
      for (; head < tail; head++) {
        const e = ring + R_ENTRIES + (head % ringEntries) * ENTRY_WORDS;
        const ptr = ctl[e];
        const size = ctl[e + 1];
        const id = ctl[e + 2];
        verify(this.heap, ptr, size, id, "when received");
        this.ptrs.push(ptr);
        this.sizes.push(size);
        this.ids.push(id);
        this.aligns.push(ctl[e + 3]);
        this.counts.received++;
        if (freeNow) this.freeAt(this.ptrs.length - 1);
      }
      Atomics.store(ctl, ring + R_HEAD, head);
    }
  }
}

// ---- "grow" and "alloc-while-growing" ----

/** Allocates `count` large blocks (growing the heap), publishes them, then waits to be freed. */
function grow(heap: Heap, data: GrowTask): Reply {
  const ctl = new Int32Array(data.buffer, data.control, C_GROWN_PTRS + data.count);
  const startBytes = heap.byteLength;
  for (let i = 0; i < data.count; i++) {
    const ptr = heap.alloc(data.blockBytes);
    const u32 = heap.u32; // read after the allocation: it may have grown the heap
    u32[ptr >>> 2] = 0xc0ffee00 + i;
    u32[(ptr + data.blockBytes - 4) >>> 2] = 0xc0ffee00 + i;
    ctl[C_GROWN_PTRS + i] = ptr;
    Atomics.store(ctl, C_GROWN_COUNT, i + 1);
  }
  const grownBytes = heap.byteLength;
  Atomics.store(ctl, C_GROWN_BYTES, grownBytes);
  Atomics.notify(ctl, C_GROWN_BYTES);
  heap.free(heap.alloc(24)); // and it keeps working too
  heap.detach();
  return {
    workerId: heap.workerId,
    ok: true,
    counts: { startBytes, grownBytes, u8Length: heap.u8.length, f64Length: heap.f64.length },
  };
}

/**
 * Allocates, verifies and frees small and medium blocks while another worker
 * grows the heap, and `count` more operations after it saw the growth. Worker
 * 1 also frees the grower's blocks (pointers beyond its views' old length).
 */
function allocWhileGrowing(heap: Heap, data: GrowTask): Reply {
  const ctl = new Int32Array(data.buffer, data.control, C_GROWN_PTRS);
  const rng = new Sfc32(data.seed);
  const ptrs: number[] = [];
  const sizes: number[] = [];
  const ids: number[] = [];
  let nextId = data.index << 24;
  let after = -1;
  let ops = 0;
  let highestEnd = 0;
  const deadline = performance.now() + DEADLINE_MS;
  const startBytes = heap.byteLength;
  while (after < data.count) {
    if (after < 0 && Atomics.load(ctl, C_GROWN_BYTES) !== 0) after = 0;
    if (after >= 0) after++;
    if ((++ops & 1023) === 0) deadlineCheck(deadline, "the grower");
    if (ptrs.length < 200 && (ptrs.length < 10 || rng.range(0, 2) === 0)) {
      const size = rng.range(0, 8) === 0 ? rng.range(1025, 5000) : talcSizeBytes(rng, 200);
      const ptr = heap.alloc(size, talcAlign(rng, 64));
      fill(heap, ptr, size, nextId, 0);
      if (ptr + size > highestEnd) highestEnd = ptr + size;
      ptrs.push(ptr);
      sizes.push(size);
      ids.push(nextId++);
    } else {
      const k = rng.range(0, ptrs.length);
      verify(heap, ptrs[k], sizes[k], ids[k], "before free");
      heap.free(ptrs[k]);
      ptrs[k] = ptrs[ptrs.length - 1];
      sizes[k] = sizes[sizes.length - 1];
      ids[k] = ids[ids.length - 1];
      ptrs.pop();
      sizes.pop();
      ids.pop();
    }
  }
  const seenBytes = heap.byteLength;
  const u8Length = heap.u8.length;
  let grownFreed = 0;
  if (data.index === 1) {
    const grown = new Int32Array(data.buffer, data.control, C_GROWN_PTRS + 4096);
    const count = Atomics.load(grown, C_GROWN_COUNT);
    for (let i = 0; i < count; i++) {
      const ptr = grown[C_GROWN_PTRS + i];
      const u32 = heap.u32;
      if (u32[ptr >>> 2] !== 0xc0ffee00 + i) throw new Error(`Grown block ${i} lost its mark`);
      heap.free(ptr);
      grownFreed++;
    }
  }
  for (let k = 0; k < ptrs.length; k++) {
    verify(heap, ptrs[k], sizes[k], ids[k], "at the end");
    heap.free(ptrs[k]);
  }
  heap.detach();
  return {
    workerId: heap.workerId,
    ok: true,
    counts: { startBytes, seenBytes, u8Length, highestEnd, ops, grownFreed },
  };
}

// ---- "hold" and "probe" ----

function hold(heap: Heap, data: HoldTask): undefined {
  const ptrs: number[] = [];
  for (let i = 0; i < data.slots; i++) ptrs.push(heap.alloc(24 + (i % 4) * 40));
  if (data.lock) lockWord(heap.i32, 5, heap.workerId, 1000); // the heap lock is word 5
  self.postMessage({ workerId: heap.workerId, ok: true, stage: "locked", ptrs } satisfies Reply);
  if (!data.lock) return undefined; // idle with the slots until terminated
  // Spin holding the lock until terminated (bounded, so a leaked worker ends eventually).
  const until = performance.now() + 60_000;
  while (performance.now() < until) { /* hold the lock */ }
  return undefined;
}

function probe(heap: Heap, data: ProbeTask): Reply {
  if (data.announce) self.postMessage({ workerId: heap.workerId, ok: true, stage: "waiting" });
  const started = performance.now();
  const ptr = heap.alloc(data.sizeBytes);
  const elapsedMs = performance.now() - started;
  heap.free(ptr);
  return { workerId: heap.workerId, ok: true, stage: "allocated", elapsedMs };
}
