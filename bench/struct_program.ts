/**
 * Record loops inside a program, not in isolation: run with
 * `deno run -A bench/struct_program.ts [rounds]` (default 15 rounds). A
 * script, not a `deno bench` file: its ratios come from interleaved rounds
 * in one process, each loop timed against the raw loop run just before it.
 *
 * `deno bench` of one loop on its own cannot see what a real program does to
 * V8's feedback: the same `each` called with several callbacks, cursors of
 * several struct types, set-up code that walks every type. This script does
 * all of that first (several struct types, `each` with several callbacks per
 * type, cursors, `at`), then times, in one process and in interleaved rounds
 * (the order rotates every round), the same two loops over 200,000 records
 * of `{ x, y, vx, vy: f64 }`:
 *
 * - update: `p.x += p.vx; p.y += p.vy`
 * - sum: `s += p.x + p.y` (read only)
 *
 * written as a raw `Float64Array` loop over a module-level constant (the
 * baseline, the best case: V8 folds the array into the code), a raw loop over
 * an array V8 cannot fold, a `StructArray` cursor (`seek`, `seekUnchecked`),
 * `each`, `reduce`, `at(i)` (a view per record), plain JS objects (class
 * instances), and struct-of-arrays columns; and a scan of one field: a plain
 * `Float64Array` against a struct-of-arrays cursor and `column()`, and the
 * same through an array of records. Times are CPU time (user + system), so
 * that time spent descheduled on a loaded machine does not count. It prints,
 * per loop, the median and the minimum over the rounds of the ratio to the
 * raw loop timed just before it, and the median time per record.
 *
 * @module
 */

import process from "node:process";
import { Heap } from "../mod.ts";
import { defineStruct, f32, f64, i32, u16, u32, type ViewOf } from "../structs/mod.ts";
import { median } from "./_stats.ts";

const N = 200_000;
const ROUNDS = Number(Deno.args[0] ?? 15);
const REPS = 40; // loop runs per timing, so one timing is well above the clock's resolution

const Body = defineStruct("Body", { x: f64, y: f64, vx: f64, vy: f64 });
const Vec2 = defineStruct("Vec2", { x: f32, y: f32 });
const Sprite = defineStruct("Sprite", { id: u32, layer: u16, pos: Vec2, scale: f64 });
const Cell = defineStruct("Cell", { value: i32, weight: f64 });

const heap = Heap.create({ initialBytes: 64 << 20, maxBytes: 512 << 20 });
const bodies = Body.createArray(heap, N);
const sprites = Sprite.createArray(heap, N / 4);
const cells = Cell.createArray(heap, N / 4);
const columns = Body.createColumns(heap, N);

// --- set-up code, as a program has it: several callbacks per type, all types walked.
bodies.each((b, i) => {
  b.x = i * 0.5;
  b.y = i * 0.25;
  b.vx = 1 / (1 + (i % 7));
  b.vy = -1 / (1 + (i % 5));
});
bodies.each((b) => {
  if (b.vx > 0.9) b.vx *= 0.5;
});
sprites.each((s, i) => {
  s.id = i;
  s.layer = i & 7;
  s.pos.x = i;
  s.scale = 1;
});
sprites.each((s) => {
  s.pos.y = s.pos.x * 2;
});
cells.each((c, i) => {
  c.value = i;
  c.weight = i / 3;
});
cells.each((c) => {
  c.weight += c.value;
});
columns.each((b, i) => {
  b.x = i * 0.5;
  b.y = i * 0.25;
  b.vx = 1 / (1 + (i % 7));
  b.vy = -1 / (1 + (i % 5));
});
{
  const cs = sprites.cursor();
  const cc = cells.cursor();
  let t = 0;
  for (let i = 0; i < sprites.length; i++) t += cs.seek(i).pos.y + cc.seek(i).weight;
  for (let i = 0; i < 1000; i++) t += bodies.at(i).x + sprites.at(i).scale + cells.at(i).value;
  if (t === -1) console.log(t);
}

// The same numbers, raw and as plain objects. The objects are instances of a
// class: object literals `{ x, y, vx, vy }` would share V8's map with the
// field object given to defineStruct above (same keys, same order), whose
// values are objects, and V8 would then store every number boxed (measured:
// about 15x raw instead of 2-4x), which is not the peer a careful JS program has.
// `declare`: a class field declaration would first set the fields to
// undefined, with the same effect.
class PlainBody {
  declare x: number;
  declare y: number;
  declare vx: number;
  declare vy: number;
  constructor(x: number, y: number, vx: number, vy: number) {
    this.x = x;
    this.y = y;
    this.vx = vx;
    this.vy = vy;
  }
}
const raw = new Float64Array(N * 4);
const objects: PlainBody[] = [];
for (let i = 0; i < N; i++) {
  const b = bodies.at(i);
  raw.set([b.x, b.y, b.vx, b.vy], i * 4);
  objects.push(new PlainBody(b.x, b.y, b.vx, b.vy));
}
const rawX = new Float64Array(N);
for (let i = 0; i < N; i++) rawX[i] = raw[i * 4];

let sink = 0;

// The raw loops above read a module-level constant, which V8 folds into the
// code (the array's address and length become constants): the best case. A
// raw loop over an array V8 cannot know when it compiles (here the records
// themselves in the heap, read from an array element so that even inlining
// does not make it a constant) loads the array's address and length like
// any object field: what any reusable raw loop does.
const rawArgs = [new Float64Array(heap.buffer, bodies.ptr, N * 4)];
function updateRaw(a: Float64Array): void {
  for (let i = 0, j = 0; i < N; i++, j += 4) {
    a[j] += a[j + 2];
    a[j + 1] += a[j + 3];
  }
}
function sumRaw(a: Float64Array): number {
  let s = 0;
  for (let i = 0, j = 0; i < N; i++, j += 4) s += a[j] + a[j + 1];
  return s;
}

/** Calls `fn` with the index in `raw` of every record: `each`'s shape for a raw array. */
function forEachRaw(fn: (j: number) => void): void {
  for (let i = 0, j = 0; i < N; i++, j += 4) fn(j);
}

type Loop = () => number | void;

const update: Record<string, Loop> = {
  "raw Float64Array": () => {
    for (let i = 0, j = 0; i < N; i++, j += 4) {
      raw[j] += raw[j + 2];
      raw[j + 1] += raw[j + 3];
    }
  },
  "raw Float64Array, not constant": () => updateRaw(rawArgs[0]),
  "cursor.seekUnchecked": () => {
    const c = bodies.cursor();
    for (let i = 0; i < N; i++) {
      const p = c.seekUnchecked(i);
      p.x += p.vx;
      p.y += p.vy;
    }
  },
  "cursor.seek": () => {
    const c = bodies.cursor();
    for (let i = 0; i < N; i++) {
      const p = c.seek(i);
      p.x += p.vx;
      p.y += p.vy;
    }
  },
  "each": () => {
    bodies.each((p) => {
      p.x += p.vx;
      p.y += p.vy;
    });
  },
  "at(i)": () => {
    for (let i = 0; i < N; i++) {
      const p = bodies.at(i);
      p.x += p.vx;
      p.y += p.vy;
    }
  },
  "plain objects": () => {
    for (let i = 0; i < N; i++) {
      const p = objects[i];
      p.x += p.vx;
      p.y += p.vy;
    }
  },
  "columns cursor": () => {
    const c = columns.cursor();
    for (let i = 0; i < N; i++) {
      const p = c.seekUnchecked(i);
      p.x += p.vx;
      p.y += p.vy;
    }
  },
  "columns each": () => {
    columns.each((p) => {
      p.x += p.vx;
      p.y += p.vy;
    });
  },
};

const sum: Record<string, Loop> = {
  "raw Float64Array": () => {
    let s = 0;
    for (let i = 0, j = 0; i < N; i++, j += 4) s += raw[j] + raw[j + 1];
    return s;
  },
  "raw Float64Array, not constant": () => sumRaw(rawArgs[0]),
  "cursor.seekUnchecked": () => {
    let s = 0;
    const c = bodies.cursor();
    for (let i = 0; i < N; i++) {
      const p = c.seekUnchecked(i);
      s += p.x + p.y;
    }
    return s;
  },
  "cursor.seek": () => {
    let s = 0;
    const c = bodies.cursor();
    for (let i = 0; i < N; i++) {
      const p = c.seek(i);
      s += p.x + p.y;
    }
    return s;
  },
  "each": () => {
    let s = 0;
    bodies.each((p) => {
      s += p.x + p.y;
    });
    return s;
  },
  // `s + (p.x + p.y)`, the raw loop's arithmetic: `s + p.x + p.y` would be
  // two dependent additions per record, and the sum loops are bound by the
  // latency of the chain of additions into `s`.
  "reduce": () => bodies.reduce((s, p) => s + (p.x + p.y), 0),
  // The peer of `each` with a sum: the same callback shape over the raw
  // array. Writing a captured variable in a callback costs V8 a boxed number
  // per write, whatever the callback reads.
  "closure over raw": () => {
    let s = 0;
    forEachRaw((j) => {
      s += raw[j] + raw[j + 1];
    });
    return s;
  },
  "at(i)": () => {
    let s = 0;
    for (let i = 0; i < N; i++) {
      const p = bodies.at(i);
      s += p.x + p.y;
    }
    return s;
  },
  "plain objects": () => {
    let s = 0;
    for (let i = 0; i < N; i++) {
      const p = objects[i];
      s += p.x + p.y;
    }
    return s;
  },
  "columns cursor": () => {
    let s = 0;
    const c = columns.cursor();
    for (let i = 0; i < N; i++) {
      const p = c.seekUnchecked(i);
      s += p.x + p.y;
    }
    return s;
  },
  "columns reduce": () => columns.reduce((s, p) => s + (p.x + p.y), 0),
  "columns each": () => {
    let s = 0;
    columns.each((p) => {
      s += p.x + p.y;
    });
    return s;
  },
};

const scan: Record<string, Loop> = {
  "raw Float64Array": () => {
    let s = 0;
    for (let i = 0; i < N; i++) s += rawX[i];
    return s;
  },
  "columns cursor": () => {
    let s = 0;
    const c = columns.cursor();
    for (let i = 0; i < N; i++) s += c.seekUnchecked(i).x;
    return s;
  },
  "columns column()": () => {
    let s = 0;
    const { array, start, stride } = columns.column("x");
    for (let i = 0, j = start; i < N; i++, j += stride) s += array[j];
    return s;
  },
  "array column()": () => {
    let s = 0;
    const { array, start, stride } = bodies.column("x");
    for (let i = 0, j = start; i < N; i++, j += stride) s += array[j];
    return s;
  },
  "array cursor": () => {
    let s = 0;
    const c = bodies.cursor();
    for (let i = 0; i < N; i++) s += c.seekUnchecked(i).x;
    return s;
  },
};

const groups: [string, Record<string, Loop>][] = [
  ["update p.x += p.vx; p.y += p.vy (200,000 records)", update],
  ["sum s += p.x + p.y (200,000 records)", sum],
  ["scan one f64 field (200,000 records)", scan],
];

/** CPU time (user + system) of REPS runs, in ms: time spent descheduled on the loaded machine does not count. */
function time(loop: Loop): number {
  const start = process.cpuUsage();
  for (let r = 0; r < REPS; r++) sink += Number(loop() ?? 0);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const ratios = new Map<string, number[]>();
const nanos = new Map<string, number[]>();
// Warm-up: every loop runs a few times before any timing.
for (const [, loops] of groups) {
  for (const loop of Object.values(loops)) {
    for (let k = 0; k < 3; k++) loop();
  }
}

for (let round = 0; round < ROUNDS; round++) {
  for (const [group, loops] of groups) {
    const names = Object.keys(loops).filter((name) => name !== "raw Float64Array");
    const shift = round % names.length;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    for (const name of order) {
      // The raw loop runs right before every other loop: each ratio is against
      // the raw time of the same moment, so drift in the machine's load cancels.
      const base = time(loops["raw Float64Array"]);
      const t = time(loops[name]);
      const key = `${group}\t${name}`;
      if (!ratios.has(key)) ratios.set(key, []);
      (ratios.get(key) as number[]).push(t / base);
      if (!nanos.has(key)) nanos.set(key, []);
      (nanos.get(key) as number[]).push((t * 1e6) / (REPS * N));
    }
  }
}

console.log(
  `CPU time ratio to the raw Float64Array loop run just before; ${ROUNDS} interleaved rounds, ${REPS} runs per timing\n`,
);
let current = "";
for (const [key, values] of ratios) {
  const [group, name] = key.split("\t");
  if (group !== current) {
    console.log(group);
    current = group;
  }
  const med = median(values).toFixed(2);
  const min = Math.min(...values).toFixed(2);
  const ns = median(nanos.get(key) as number[]).toFixed(2);
  console.log(`  ${name.padEnd(32)} median ${med}x  min ${min}x  (${ns} ns/record)`);
}
if (sink === 1) console.log(sink);
void (null as unknown as ViewOf<typeof Body>);
