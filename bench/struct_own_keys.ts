/**
 * Why `Object.keys(rec)` and `{ ...rec }` do not list a record's fields
 * (issue 15): both see only a view's own enumerable properties, and a view's
 * fields are accessors on its class's prototype. The only way to list them
 * without a Proxy around every view is own enumerable accessor properties on
 * every view. This script measures that design against today's, one process,
 * interleaved rounds, CPU time, min and median of the per-round ratios:
 *
 * - opening 100,000 views with `Type.at` (what `create`, `at`, `each` and
 *   cursors do per view), against the same plus `Object.defineProperties`
 *   giving the view the prototype's own getters and setters, enumerable;
 * - reading and writing the fields of 100,000 held views of each kind.
 *
 * Run with `deno run -A bench/struct_own_keys.ts [rounds]` (default 11).
 *
 * @module
 */

import process from "node:process";
import { Heap } from "../mod.ts";
import { defineStruct, f64 } from "../structs/mod.ts";

const ROUNDS = Number(Deno.args[0] ?? 11);
const N = 100_000;
const Vec3 = defineStruct("Vec3", { x: f64, y: f64, z: f64 });
const heap = Heap.create({ initialBytes: 16 << 20 });
const arr = Vec3.createArray(heap, N);
const proto = Object.getPrototypeOf(arr.at(0));
const own: PropertyDescriptorMap = {};
for (const name of ["x", "y", "z"]) {
  const d = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
  own[name] = { get: d.get, set: d.set, enumerable: true, configurable: false };
}
type Rec = { x: number; y: number; z: number };
const open = (ptr: number): Rec => Vec3.at(heap, ptr);
const openOwn = (ptr: number): Rec => Object.defineProperties(Vec3.at(heap, ptr), own);

const check = openOwn(arr.ptr);
check.x = 3;
if (Object.keys(check).join() !== "ptr,x,y,z" || ({ ...check } as Rec).x !== 3) {
  throw new Error("own accessors do not show the fields");
}

function opener(make: (ptr: number) => Rec, held: Rec[]): () => void {
  return () => {
    for (let i = 0; i < N; i++) held[i] = make(arr.ptr + i * Vec3.size);
  };
}
function reader(held: Rec[]): () => void {
  return () => {
    for (let i = 0; i < held.length; i++) {
      const r = held[i];
      r.x += r.y + r.z;
    }
  };
}
const heldProto: Rec[] = [];
const heldOwn: Rec[] = [];
const cases: Record<string, [() => void, () => void]> = {
  "open a view (own accessors / prototype accessors)": [
    opener(openOwn, heldOwn),
    opener(open, heldProto),
  ],
  "read and write fields of held views (own / prototype)": [reader(heldOwn), reader(heldProto)],
};

function time(f: () => void): number {
  const start = process.cpuUsage();
  for (let k = 0; k < 5; k++) f();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

for (const [a, b] of Object.values(cases)) {
  for (let k = 0; k < 3; k++) {
    a();
    b();
  }
}
const ratios = new Map<string, number[]>(Object.keys(cases).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, [a, b]] of Object.entries(cases)) {
    // which side runs first alternates from round to round
    let ta = 0;
    let tb = 0;
    if (round % 2 === 0) {
      ta = time(a);
      tb = time(b);
    } else {
      tb = time(b);
      ta = time(a);
    }
    (ratios.get(name) as number[]).push(ta / tb);
  }
}
console.log(`${ROUNDS} interleaved rounds, CPU time, 100,000 views of { x, y, z: f64 }`);
for (const [name, values] of ratios) {
  const sorted = [...values].sort((p, q) => p - q);
  console.log(
    `${name}: min ${sorted[0].toFixed(2)}x, median ${sorted[sorted.length >> 1].toFixed(2)}x`,
  );
}
