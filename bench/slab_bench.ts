/**
 * Slab benches: creating and destroying small records through the slab path,
 * the arena path, `@thi.ng/malloc` and plain JS object literals, all in the
 * same run; and the slab path on 1 against 2 workers sharing one heap.
 * Run with `deno bench -A bench/slab_bench.ts`.
 *
 * "create + destroy" groups: every allocator keeps a ring of 1,024 live
 * records; each step destroys the oldest record, creates a new one, writes
 * its fields and stores it in the ring slot (so the JS object escapes and is
 * really allocated, and lives as long as a heap record does). One iteration is
 * 1,000 steps, so time per iteration / 1,000 = cost of one create + destroy.
 *
 * The arena path for a 24-byte record: `heap.alloc` sends every request of at
 * most 1,024 bytes aligned to at most 64 to the slab, so there is no public
 * way to put 24 bytes in the arena without changing the request. Two stand-ins
 * are measured: the heap's arena path itself (lock word, `arenaAlloc` of the
 * 40-byte chunk `heap.alloc(24)` would take, unlock; the same around
 * `arenaFree`) — what `Heap.tryAlloc` runs for an arena request minus its
 * argument and pointer checks — and the public route with a 2,000-byte block.
 *
 * "1 vs 2 workers": each iteration posts "run 1,000,000 steps" to the workers
 * and awaits their replies (workers attached and warmed up beforehand). With 2
 * workers each runs 1,000,000 steps, so aggregate rate(2) / rate(1) =
 * 2 × time(1 worker) / time(2 workers). Two controls in the same run bound
 * what the machine allows: the same workload on a private heap per worker
 * (nothing shared), and an integer loop that touches no memory at all.
 *
 * @module
 */

import { MemPool } from "@thi.ng/malloc";
import { Heap } from "../mod.ts";
import { arenaAlloc, arenaFree } from "../src/alloc/arena.ts";
import { lockWord, unlockWord } from "../src/sync/mod.ts";
import type { RunKind, SlabWorkerMessage, SlabWorkerReply } from "./_slab_worker.ts";
import { type PoolWorker, startWorkers } from "../tests/_support/pool.ts";

const MiB = 1 << 20;
/** Live records per allocator (a power of two). */
const RING = 1024;
const RING_MASK = RING - 1;
/** Create + destroy steps per bench iteration. */
const STEPS = 1_000;
/** The heap lock word (index in `heap.i32`). */
const H_LOCK = 5;
/** Chunk bytes the arena takes for a payload: 12 bytes of tags, rounded up to 8. */
function chunkBytesFor(sizeBytes: number): number {
  return Math.max(24, Math.ceil((sizeBytes + 12) / 8) * 8);
}

interface Rec3 {
  x: number;
  y: number;
  z: number;
}

interface Rec8 {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
  g: number;
  h: number;
}

/** A ring of live heap records (pointers) and where the next step destroys one. */
class PtrRing {
  readonly ptrs = new Uint32Array(RING);
  cursor = 0;

  constructor(alloc: () => number) {
    for (let i = 0; i < RING; i++) this.ptrs[i] = alloc();
  }
}

/** The heap's arena path for one request, without the public checks (see the module doc). */
class ArenaPath {
  readonly heap = Heap.create({ initialBytes: 4 * MiB });
  readonly #u32 = this.heap.u32;
  readonly #i32 = this.heap.i32;
  readonly #id = this.heap.workerId;
  readonly #needBytes: number;

  constructor(sizeBytes: number) {
    this.#needBytes = chunkBytesFor(sizeBytes);
  }

  alloc(): number {
    lockWord(this.#i32, H_LOCK, this.#id, Infinity);
    const ptr = arenaAlloc(this.#u32, this.#needBytes, 8, 3);
    unlockWord(this.#i32, H_LOCK, this.#id);
    if (ptr === 0) throw new Error("Cannot allocate in the arena bench: heap too small");
    return ptr;
  }

  free(ptr: number): void {
    lockWord(this.#i32, H_LOCK, this.#id, Infinity);
    arenaFree(this.#u32, ptr - 8);
    unlockWord(this.#i32, H_LOCK, this.#id);
  }
}

registerRecordBenches();
registerBackToBackBenches();
registerWorkerBenches();

function registerRecordBenches(): void {
  // ---- 24-byte records {x, y, z} ----
  const group24 = "create + destroy a 24-byte record {x, y, z} (x1000, 1024 live)";

  const objects: Rec3[] = Array.from({ length: RING }, () => ({ x: 0, y: 0, z: 0 }));
  let objectCursor = 0;
  Deno.bench({
    name: "JS object literal {x, y, z}",
    group: group24,
    baseline: true,
    fn(): void {
      let k = objectCursor;
      for (let i = 0; i < STEPS; i++) {
        objects[k] = { x: i, y: i + 0.5, z: i + 0.25 };
        k = (k + 1) & RING_MASK;
      }
      objectCursor = k;
    },
  });

  const slabHeap = Heap.create();
  const slabRing = new PtrRing(() => slabHeap.alloc(24));
  Deno.bench({
    name: "slab: heap.alloc(24) + heap.free",
    group: group24,
    fn(): void {
      const heap = slabHeap;
      const ptrs = slabRing.ptrs;
      let f64 = heap.f64;
      let k = slabRing.cursor;
      for (let i = 0; i < STEPS; i++) {
        heap.free(ptrs[k]);
        const p = heap.alloc(24);
        if (p >= f64.byteLength) f64 = heap.f64;
        const w = p >>> 3;
        f64[w] = i;
        f64[w + 1] = i + 0.5;
        f64[w + 2] = i + 0.25;
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      slabRing.cursor = k;
    },
  });

  const classHeap = Heap.create();
  const points = classHeap.slab(24);
  const classRing = new PtrRing(() => points.alloc());
  Deno.bench({
    name: "slab: heap.slab(24).alloc() + heap.free",
    group: group24,
    fn(): void {
      const heap = classHeap;
      const cls = points;
      const ptrs = classRing.ptrs;
      let f64 = heap.f64;
      let k = classRing.cursor;
      for (let i = 0; i < STEPS; i++) {
        heap.free(ptrs[k]);
        const p = cls.alloc();
        if (p >= f64.byteLength) f64 = heap.f64;
        const w = p >>> 3;
        f64[w] = i;
        f64[w + 1] = i + 0.5;
        f64[w + 2] = i + 0.25;
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      classRing.cursor = k;
    },
  });

  const arena = new ArenaPath(24);
  const arenaRing = new PtrRing(() => arena.alloc());
  Deno.bench({
    name: "arena path: lock + arenaAlloc 24 B + unlock, same for free",
    group: group24,
    fn(): void {
      const ptrs = arenaRing.ptrs;
      const f64 = arena.heap.f64;
      let k = arenaRing.cursor;
      for (let i = 0; i < STEPS; i++) {
        arena.free(ptrs[k]);
        const p = arena.alloc();
        const w = p >>> 3;
        f64[w] = i;
        f64[w + 1] = i + 0.5;
        f64[w + 2] = i + 0.25;
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      arenaRing.cursor = k;
    },
  });

  const publicArenaHeap = Heap.create();
  const publicArenaRing = new PtrRing(() => publicArenaHeap.alloc(2000));
  Deno.bench({
    name: "arena via the public API: heap.alloc(2000) + heap.free",
    group: group24,
    fn(): void {
      const heap = publicArenaHeap;
      const ptrs = publicArenaRing.ptrs;
      let f64 = heap.f64;
      let k = publicArenaRing.cursor;
      for (let i = 0; i < STEPS; i++) {
        heap.free(ptrs[k]);
        const p = heap.alloc(2000);
        if (p >= f64.byteLength) f64 = heap.f64;
        const w = p >>> 3;
        f64[w] = i;
        f64[w + 1] = i + 0.5;
        f64[w + 2] = i + 0.25;
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      publicArenaRing.cursor = k;
    },
  });

  const pool = new MemPool({ buf: new SharedArrayBuffer(4 * MiB) });
  const poolF64 = new Float64Array(pool.buf);
  const poolRing = new PtrRing(() => pool.malloc(24));
  Deno.bench({
    name: "@thi.ng/malloc: pool.malloc(24) + pool.free",
    group: group24,
    n: 200,
    warmup: 20,
    fn(): void {
      const ptrs = poolRing.ptrs;
      let k = poolRing.cursor;
      for (let i = 0; i < STEPS; i++) {
        pool.free(ptrs[k]);
        const p = pool.malloc(24);
        if (p === 0) throw new Error("Cannot allocate in the MemPool bench");
        const w = p >>> 3;
        poolF64[w] = i;
        poolF64[w + 1] = i + 0.5;
        poolF64[w + 2] = i + 0.25;
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      poolRing.cursor = k;
    },
  });

  // ---- 64-byte records {a..h} ----
  const group64 = "create + destroy a 64-byte record {a..h} (x1000, 1024 live)";

  const objects8: Rec8[] = Array.from(
    { length: RING },
    () => ({ a: 0, b: 0, c: 0, d: 0, e: 0, f: 0, g: 0, h: 0 }),
  );
  let object8Cursor = 0;
  Deno.bench({
    name: "JS object literal {a, b, c, d, e, f, g, h}",
    group: group64,
    baseline: true,
    fn(): void {
      let k = object8Cursor;
      for (let i = 0; i < STEPS; i++) {
        objects8[k] = { a: i, b: i, c: i, d: i, e: i, f: i, g: i, h: i + 1 };
        k = (k + 1) & RING_MASK;
      }
      object8Cursor = k;
    },
  });

  const slab64Heap = Heap.create();
  const slab64Ring = new PtrRing(() => slab64Heap.alloc(64));
  Deno.bench({
    name: "slab: heap.alloc(64) + heap.free",
    group: group64,
    fn(): void {
      const heap = slab64Heap;
      const ptrs = slab64Ring.ptrs;
      let f64 = heap.f64;
      let k = slab64Ring.cursor;
      for (let i = 0; i < STEPS; i++) {
        heap.free(ptrs[k]);
        const p = heap.alloc(64);
        if (p >= f64.byteLength) f64 = heap.f64;
        writeRec8(f64, p >>> 3, i);
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      slab64Ring.cursor = k;
    },
  });

  const arena64 = new ArenaPath(64);
  const arena64Ring = new PtrRing(() => arena64.alloc());
  Deno.bench({
    name: "arena path: lock + arenaAlloc 64 B + unlock, same for free",
    group: group64,
    fn(): void {
      const ptrs = arena64Ring.ptrs;
      const f64 = arena64.heap.f64;
      let k = arena64Ring.cursor;
      for (let i = 0; i < STEPS; i++) {
        arena64.free(ptrs[k]);
        const p = arena64.alloc();
        writeRec8(f64, p >>> 3, i);
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      arena64Ring.cursor = k;
    },
  });

  const pool64 = new MemPool({ buf: new SharedArrayBuffer(4 * MiB) });
  const pool64F64 = new Float64Array(pool64.buf);
  const pool64Ring = new PtrRing(() => pool64.malloc(64));
  Deno.bench({
    name: "@thi.ng/malloc: pool.malloc(64) + pool.free",
    group: group64,
    n: 200,
    warmup: 20,
    fn(): void {
      const ptrs = pool64Ring.ptrs;
      let k = pool64Ring.cursor;
      for (let i = 0; i < STEPS; i++) {
        pool64.free(ptrs[k]);
        const p = pool64.malloc(64);
        if (p === 0) throw new Error("Cannot allocate in the MemPool bench");
        writeRec8(pool64F64, p >>> 3, i);
        ptrs[k] = p;
        k = (k + 1) & RING_MASK;
      }
      pool64Ring.cursor = k;
    },
  });
}

function writeRec8(f64: Float64Array, w: number, i: number): void {
  f64[w] = i;
  f64[w + 1] = i;
  f64[w + 2] = i;
  f64[w + 3] = i;
  f64[w + 4] = i;
  f64[w + 5] = i;
  f64[w + 6] = i;
  f64[w + 7] = i + 1;
}

/** Alloc and free back to back with nothing else live: each allocator's best case. */
function registerBackToBackBenches(): void {
  const group = "alloc(24) + free back to back (x1000, nothing else live)";
  const heap = Heap.create();
  Deno.bench({
    name: "slab: heap.alloc(24) + heap.free",
    group,
    baseline: true,
    fn(): void {
      for (let i = 0; i < STEPS; i++) heap.free(heap.alloc(24));
    },
  });
  const arena = new ArenaPath(24);
  Deno.bench({
    name: "arena path: lock + arenaAlloc 24 B + unlock, same for free",
    group,
    fn(): void {
      for (let i = 0; i < STEPS; i++) arena.free(arena.alloc());
    },
  });
  const pool = new MemPool({ buf: new SharedArrayBuffer(MiB) });
  Deno.bench({
    name: "@thi.ng/malloc: pool.malloc(24) + pool.free",
    group,
    fn(): void {
      for (let i = 0; i < STEPS; i++) pool.free(pool.malloc(24));
    },
  });
}

// ---- 1 vs 2 workers on the slab path ----

/** Steps each worker runs per bench iteration. */
const WORKER_STEPS = 1_000_000;
const WORKER_URL = new URL("./_slab_worker.ts", import.meta.url).href;

type BenchWorker = PoolWorker<SlabWorkerMessage, SlabWorkerReply>;

function registerWorkerBenches(): void {
  const heap = Heap.create();
  let workers: BenchWorker[] | undefined;

  /** Starts two workers on the heap once, and warms them up (untimed). */
  async function ready(): Promise<BenchWorker[]> {
    if (workers === undefined) {
      workers = startWorkers(WORKER_URL, 2);
      await Promise.all(workers.map((w) => w.send({ buffer: heap.buffer }).ok()));
      for (const kind of ["shared", "private", "loop"] as const) {
        await Promise.all(workers.map((w) => w.send({ steps: WORKER_STEPS, kind }).ok()));
      }
    }
    return workers;
  }

  const cases: { kind: RunKind; group: string }[] = [
    {
      kind: "shared",
      group: "slab path: 1 vs 2 workers on one heap, 1,000,000 create+destroy of 24 B each",
    },
    {
      kind: "private",
      group: "control: 1 vs 2 workers, each on a private heap (nothing shared)",
    },
    {
      kind: "loop",
      group: "control: 1 vs 2 workers running an integer loop (the machine's own scaling)",
    },
  ];
  for (const { kind, group } of cases) {
    for (const count of [1, 2]) {
      Deno.bench({
        name: count === 1 ? "1 worker" : "2 workers (aggregate = 2 x the 1-worker time / this)",
        group,
        baseline: count === 1,
        n: 30,
        warmup: 3,
        async fn(b): Promise<void> {
          const all = await ready();
          b.start();
          await Promise.all(
            all.slice(0, count).map((w) => w.send({ steps: WORKER_STEPS, kind }).ok()),
          );
          b.end();
        },
      });
    }
  }
}
