/**
 * 24-byte alloc + free with 1,024 live, fields written: typedheap against a
 * `{x, y, z}` object literal, in one process, by interleaved rounds.
 *
 * Run: `deno run -A bench/small_object.ts [rounds] [opsPerSlice]`
 * (default 15 rounds of 500,000 operations per variant).
 *
 * Every variant keeps a ring of 1,024 live records and, per operation:
 * reads the three fields of the oldest record and adds them to a sum (so
 * nothing can be optimised away and every record is really used), drops or
 * frees it, allocates a new one, writes its three fields and stores it in the
 * ring slot. Variants, each through the API a user would use:
 *
 * - `object {x,y,z} f64`: `ring[k] = { x, y, z }` with double fields (the baseline
 *   of the f64 variants).
 * - `heap.alloc(24) f64`: `heap.alloc(24)` / `heap.free(ptr)`, fields through `heap.f64`.
 * - `heap.slab(24) f64`: the `SlabClass` of `heap.slab(24)`: `points.alloc()` / `points.free(ptr)`.
 * - `heap.alloc(24) + object`: `heap.alloc(24)` / `heap.free`, the block zeroed, then
 *   written, and a new object of three fields (the array, the pointer, `ptr`: what a
 *   struct view holds) per block: the floor of any API that returns an object per record.
 * - `struct Point f64`: `Point.create(heap)` (a `defineStruct` of x, y, z: f64), fields
 *   through its view, `Point.destroy(heap, view)`; the ring holds the views.
 * - `struct Point f64 (ptr)`: the same, destroyed by pointer: `Point.destroy(heap, view.ptr)`
 *   (destroying by view also marks that view dead).
 * - `struct Point f64 (init)`: `Point.create(heap, { x, y, z })` (the fields checked and
 *   written by `create`) and `Point.destroy(heap, view)`.
 * - `object {x,y,z} int` and `heap.alloc(24) i32`: the same with small integers
 *   (V8 keeps them unboxed in the object) and three i32 words in the block.
 *
 * Each round runs every variant once for `opsPerSlice` operations, in an order
 * that rotates from round to round; the time of a slice is the process's CPU
 * time (`process.cpuUsage`, user + system: it counts the garbage collector's
 * helper threads, which the object literal needs and the heap does not) and,
 * for reference, wall time. Reported: ns per operation, min and median over
 * the rounds, and per round the ratio variant / baseline of the same round,
 * min and median. The target: median ratio ≤ 2 for 24-byte alloc + free.
 *
 * @module
 */

import process from "node:process";
import { Heap } from "../mod.ts";
import { defineStruct, f64 } from "../structs/mod.ts";

const ROUNDS = Number(Deno.args[0] ?? 15);
const OPS = Number(Deno.args[1] ?? 500_000);
/** Live records per variant (a power of two). */
const RING = 1024;
const MASK = RING - 1;

const Point = defineStruct("Point", { x: f64, y: f64, z: f64 });
type PointView = ReturnType<typeof Point.create>;

interface Rec {
  x: number;
  y: number;
  z: number;
}

/** One variant: runs `ops` operations and returns the sum of the fields it read. */
interface Variant {
  name: string;
  /** The variant whose time divides this one's in the ratio (itself for a baseline). */
  baseline: string;
  run(ops: number): number;
  /** Verifies the variant's state after the rounds (live count, heap invariants). */
  verify(): void;
}

// Each variant is its own function with its own state, so V8 gathers separate
// type feedback for each and nothing is shared between them.

function objectF64(): Variant {
  const ring: Rec[] = Array.from({ length: RING }, (_, i) => ({ x: i + 0.5, y: i + 0.25, z: 1.5 }));
  let k = 0;
  let n = 0;
  return {
    name: "object {x,y,z} f64",
    baseline: "object {x,y,z} f64",
    run(ops: number): number {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ring[k];
        sum += old.x + old.y + old.z;
        const v = n++ + 0.5;
        ring[k] = { x: v, y: v * 0.5, z: v + 0.25 };
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify(): void {
      if (ring.length !== RING) throw new Error("object ring lost records");
    },
  };
}

function objectInt(): Variant {
  const ring: Rec[] = Array.from({ length: RING }, (_, i) => ({ x: i, y: i + 1, z: 2 }));
  let k = 0;
  let n = 0;
  return {
    name: "object {x,y,z} int",
    baseline: "object {x,y,z} int",
    run(ops: number): number {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ring[k];
        sum += old.x + old.y + old.z;
        const v = n++ & 0xfffff;
        ring[k] = { x: v, y: v + 1, z: v ^ 5 };
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify(): void {
      if (ring.length !== RING) throw new Error("object ring lost records");
    },
  };
}

/** Verifies that `heap` holds exactly `live` blocks and passes `check()`. */
function verifyHeap(heap: Heap, live: number, name: string): void {
  heap.check();
  const s = heap.stats();
  if (s.liveAllocations !== live) {
    throw new Error(`${name}: ${s.liveAllocations} live blocks, expected ${live}`);
  }
}

function heapAllocF64(): Variant {
  const heap = Heap.create();
  const ptrs = new Uint32Array(RING);
  for (let i = 0; i < RING; i++) ptrs[i] = heap.alloc(24);
  let k = 0;
  let n = 0;
  return {
    name: "heap.alloc(24) f64",
    baseline: "object {x,y,z} f64",
    run(ops: number): number {
      let f = heap.f64;
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ptrs[k] >>> 3;
        sum += f[old] + f[old + 1] + f[old + 2];
        heap.free(ptrs[k]);
        const p = heap.alloc(24);
        if (p >= f.byteLength) f = heap.f64; // the heap grew: fresh views
        const w = p >>> 3;
        const v = n++ + 0.5;
        f[w] = v;
        f[w + 1] = v * 0.5;
        f[w + 2] = v + 0.25;
        ptrs[k] = p;
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify: () => verifyHeap(heap, RING, "heap.alloc(24) f64"),
  };
}

/** What a struct view holds: the heap's array, the record's pointer, and `ptr` again as a public field. */
class Handle {
  readonly f: Float64Array;
  readonly p: number;
  readonly ptr: number;
  constructor(f: Float64Array, p: number) {
    this.f = f;
    this.p = p;
    this.ptr = p;
  }
}

function heapAllocHandleF64(): Variant {
  const heap = Heap.create();
  const ring: Handle[] = Array.from({ length: RING }, () => new Handle(heap.f64, heap.alloc(24)));
  let k = 0;
  let n = 0;
  return {
    name: "heap.alloc(24) + object",
    baseline: "object {x,y,z} f64",
    run(ops: number): number {
      let f = heap.f64;
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ring[k];
        const o = old.p >>> 3;
        const g = old.f;
        sum += g[o] + g[o + 1] + g[o + 2];
        heap.free(old.ptr);
        const p = heap.alloc(24);
        if (p >= f.byteLength) f = heap.f64;
        const w = p >>> 3;
        f[w] = 0; // zeroed, as create does
        f[w + 1] = 0;
        f[w + 2] = 0;
        const v = n++ + 0.5;
        f[w] = v;
        f[w + 1] = v * 0.5;
        f[w + 2] = v + 0.25;
        ring[k] = new Handle(f, p);
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify: () => verifyHeap(heap, RING, "heap.alloc(24) + object"),
  };
}

function slabClassF64(): Variant {
  const heap = Heap.create();
  const points = heap.slab(24);
  const ptrs = new Uint32Array(RING);
  for (let i = 0; i < RING; i++) ptrs[i] = points.alloc();
  let k = 0;
  let n = 0;
  return {
    name: "heap.slab(24) f64",
    baseline: "object {x,y,z} f64",
    run(ops: number): number {
      let f = heap.f64;
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ptrs[k] >>> 3;
        sum += f[old] + f[old + 1] + f[old + 2];
        points.free(ptrs[k]);
        const p = points.alloc();
        if (p >= f.byteLength) f = heap.f64;
        const w = p >>> 3;
        const v = n++ + 0.5;
        f[w] = v;
        f[w + 1] = v * 0.5;
        f[w + 2] = v + 0.25;
        ptrs[k] = p;
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify: () => verifyHeap(heap, RING, "heap.slab(24) f64"),
  };
}

function structF64(): Variant {
  const heap = Heap.create();
  const ring: PointView[] = Array.from({ length: RING }, () => Point.create(heap));
  let k = 0;
  let n = 0;
  return {
    name: "struct Point f64",
    baseline: "object {x,y,z} f64",
    run(ops: number): number {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ring[k];
        sum += old.x + old.y + old.z;
        Point.destroy(heap, old);
        const p = Point.create(heap);
        const v = n++ + 0.5;
        p.x = v;
        p.y = v * 0.5;
        p.z = v + 0.25;
        ring[k] = p;
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify: () => verifyHeap(heap, RING, "struct Point f64"),
  };
}

function structF64ByPtr(): Variant {
  const heap = Heap.create();
  const ring: PointView[] = Array.from({ length: RING }, () => Point.create(heap));
  let k = 0;
  let n = 0;
  return {
    name: "struct Point f64 (ptr)",
    baseline: "object {x,y,z} f64",
    run(ops: number): number {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ring[k];
        sum += old.x + old.y + old.z;
        Point.destroy(heap, old.ptr);
        const p = Point.create(heap);
        const v = n++ + 0.5;
        p.x = v;
        p.y = v * 0.5;
        p.z = v + 0.25;
        ring[k] = p;
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify: () => verifyHeap(heap, RING, "struct Point f64 (ptr)"),
  };
}

function structF64Init(): Variant {
  const heap = Heap.create();
  const ring: PointView[] = Array.from({ length: RING }, () => Point.create(heap));
  let k = 0;
  let n = 0;
  return {
    name: "struct Point f64 (init)",
    baseline: "object {x,y,z} f64",
    run(ops: number): number {
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ring[k];
        sum += old.x + old.y + old.z;
        Point.destroy(heap, old);
        const v = n++ + 0.5;
        ring[k] = Point.create(heap, { x: v, y: v * 0.5, z: v + 0.25 });
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify: () => verifyHeap(heap, RING, "struct Point f64 (init)"),
  };
}

function heapAllocI32(): Variant {
  const heap = Heap.create();
  const ptrs = new Uint32Array(RING);
  for (let i = 0; i < RING; i++) ptrs[i] = heap.alloc(24);
  let k = 0;
  let n = 0;
  return {
    name: "heap.alloc(24) i32",
    baseline: "object {x,y,z} int",
    run(ops: number): number {
      let a = heap.i32;
      let sum = 0;
      for (let i = 0; i < ops; i++) {
        const old = ptrs[k] >>> 2;
        sum += a[old] + a[old + 1] + a[old + 2];
        heap.free(ptrs[k]);
        const p = heap.alloc(24);
        if (p >= a.byteLength) a = heap.i32;
        const w = p >>> 2;
        const v = n++ & 0xfffff;
        a[w] = v;
        a[w + 1] = v + 1;
        a[w + 2] = v ^ 5;
        ptrs[k] = p;
        k = (k + 1) & MASK;
      }
      return sum;
    },
    verify: () => verifyHeap(heap, RING, "heap.alloc(24) i32"),
  };
}

interface Sample {
  cpuNs: number;
  wallNs: number;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function minMedian(xs: number[]): { min: number; median: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0], median: s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2 };
}

function main(): void {
  const variants = [
    objectF64(),
    heapAllocF64(),
    slabClassF64(),
    heapAllocHandleF64(),
    structF64(),
    structF64ByPtr(),
    structF64Init(),
    objectInt(),
    heapAllocI32(),
  ];
  let sink = 0;
  // Warm-up (untimed): every variant optimised before the first round.
  for (let w = 0; w < 3; w++) for (const v of variants) sink += v.run(OPS / 5);
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(r + j) % variants.length];
      const wall0 = performance.now();
      const cpu0 = cpuMicros();
      sink += v.run(OPS);
      const cpu1 = cpuMicros();
      const wall1 = performance.now();
      samples.get(v.name)?.push({
        cpuNs: ((cpu1 - cpu0) * 1000) / OPS,
        wallNs: ((wall1 - wall0) * 1e6) / OPS,
      });
    }
  }
  for (const v of variants) v.verify();

  const fmt = (x: number): string => x.toFixed(1).padStart(6);
  const fmtR = (x: number): string => x.toFixed(2).padStart(5);
  console.log(
    `24-byte alloc + free, ${RING} live, 3 fields written and read back; ` +
      `${ROUNDS} interleaved rounds x ${OPS.toLocaleString("en")} ops per variant`,
  );
  console.log(
    `${"variant".padEnd(24)}  CPU ns/op min median   wall ns/op min median` +
      `   CPU ratio/baseline min median   wall ratio min median`,
  );
  for (const v of variants) {
    const own = samples.get(v.name) ?? [];
    const base = samples.get(v.baseline) ?? [];
    const cpu = minMedian(own.map((s) => s.cpuNs));
    const wall = minMedian(own.map((s) => s.wallNs));
    const cpuRatio = minMedian(own.map((s, r) => s.cpuNs / base[r].cpuNs));
    const wallRatio = minMedian(own.map((s, r) => s.wallNs / base[r].wallNs));
    const ratios = v.baseline === v.name
      ? `${"(baseline)".padStart(31)}`
      : `${" ".repeat(19)}${fmtR(cpuRatio.min)} ${fmtR(cpuRatio.median)}   ${" ".repeat(10)}${
        fmtR(wallRatio.min)
      } ${fmtR(wallRatio.median)}`;
    console.log(
      `${v.name.padEnd(24)}  ${" ".repeat(9)}${fmt(cpu.min)} ${fmt(cpu.median)}   ${" ".repeat(9)}${
        fmt(wall.min)
      } ${fmt(wall.median)}${ratios}`,
    );
  }
  console.log(`(sink ${sink.toExponential(3)})`);
}

main();
