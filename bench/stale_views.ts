/**
 * What marking a destroyed view costs live views: run with
 * `deno run -A bench/stale_views.ts <base dir> [rounds] [aa]`, where `<base dir>`
 * is a checkout of the commit before (e.g. `git archive <commit> | tar -x -C /tmp/base`).
 * Both copies of the library are loaded in this one process; each round
 * (the order alternates) times the same loops with each, in CPU time:
 *
 * - cursor: `p.x += p.vx; p.y += p.vy` over 100,000 records with a cursor
 * - views: the same through 20,000 long-lived views (one per record)
 * - at: `s += Body.at(heap, ptr).x` (a view per record)
 * - create+destroy: create a record, read it, destroy it
 *
 * In this checkout, before timing, views are destroyed and then read (the
 * error caught) through the same accessors, so V8 has seen the dead
 * views: the worst case for the live ones (`NOREAD=1`: destroyed, not read). Prints, per loop, the median and
 * minimum over rounds of this checkout's time / the base's.
 *
 * @module
 */

import process from "node:process";

type Lib = { Heap: typeof import("../mod.ts").Heap; S: typeof import("../structs/mod.ts") };

const base = Deno.args[0];
if (base === undefined) throw new Error("usage: stale_views.ts <base dir> [rounds]");
const ROUNDS = Number(Deno.args[1] ?? 15);
const N = 100_000;
const LIVE = 20_000;
const REPS = 40; // loop runs per timing
/** `aa` as third argument: the base against itself, to show the noise. */
const CONTROL = Deno.args[2] === "aa";

async function load(dir: string): Promise<Lib> {
  const root = new URL(dir.endsWith("/") ? dir : `${dir}/`, `file://${Deno.cwd()}/`);
  const { Heap } = await import(new URL("mod.ts", root).href);
  const S = await import(new URL("structs/mod.ts", root).href);
  return { Heap, S };
}

function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function loops(lib: Lib, markDead: boolean): Record<string, () => number> {
  const { Heap, S } = lib;
  const Body = S.defineStruct("Body", { x: S.f64, y: S.f64, vx: S.f64, vy: S.f64 });
  const heap = Heap.create({ initialBytes: 32 << 20 });
  const array = Body.createArray(heap, N);
  array.each((b, i) => {
    b.x = i;
    b.vx = 1 / (1 + (i % 7));
    b.vy = 0.5;
  });
  const views = Array.from({ length: LIVE }, (_, i) => Body.create(heap, { x: i, vx: 1, vy: 2 }));
  const ptrs = views.map((v) => v.ptr);
  if (markDead) {
    for (let i = 0; i < 100; i++) {
      const dead = Body.create(heap, { x: 1 });
      Body.destroy(heap, dead);
      if (Deno.env.get("NOREAD")) continue;
      try {
        dead.x += dead.vx;
        dead.y += dead.vy;
      } catch { /* expected */ }
    }
  }
  return {
    cursor(): number {
      const c = array.cursor();
      for (let i = 0; i < N; i++) {
        const p = c.seek(i);
        p.x += p.vx;
        p.y += p.vy;
      }
      return array.at(7).x;
    },
    views(): number {
      for (let r = 0; r < 5; r++) {
        for (let i = 0; i < LIVE; i++) {
          const p = views[i];
          p.x += p.vx;
          p.y += p.vy;
        }
      }
      return views[3].x;
    },
    at(): number {
      let s = 0;
      for (let r = 0; r < 5; r++) {
        for (let i = 0; i < LIVE; i++) s += Body.at(heap, ptrs[i]).x;
      }
      return s;
    },
    "create+destroy"(): number {
      let s = 0;
      for (let i = 0; i < LIVE; i++) {
        const b = Body.create(heap, { x: i, y: 1 });
        s += b.x + b.y;
        Body.destroy(heap, b);
      }
      return s;
    },
  };
}

const ours = loops(await load(CONTROL ? base : "."), !CONTROL);
const theirs = loops(await load(base), false);
const names = Object.keys(ours);
const ratios: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
let sink = 0;
for (let warm = 0; warm < 3; warm++) for (const n of names) sink += ours[n]() + theirs[n]();
for (let round = 0; round < ROUNDS; round++) {
  for (const n of names) {
    const order = round % 2 === 0 ? [ours, theirs] : [theirs, ours];
    const t: number[] = [];
    for (const lib of order) {
      const start = cpu();
      for (let rep = 0; rep < REPS; rep++) sink += lib[n]();
      t.push(cpu() - start);
    }
    const [a, b] = round % 2 === 0 ? t : [t[1], t[0]];
    ratios[n].push(a / b);
  }
}
console.log(`this checkout / base, ${ROUNDS} rounds (CPU time; < 1 is faster)`);
for (const n of names) {
  const r = ratios[n].sort((x, y) => x - y);
  console.log(
    `${n.padEnd(16)} median ${r[r.length >> 1].toFixed(3)}  min ${r[0].toFixed(3)}  max ${
      r[r.length - 1].toFixed(3)
    }`,
  );
}
if (Number.isNaN(sink)) console.log(sink);
