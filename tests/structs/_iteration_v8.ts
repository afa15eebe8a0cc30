// Run by iteration_v8_test.ts in a child Deno with
// `--v8-flags=--allow-natives-syntax`: asks V8 whether the optimized code of
// `each` loops and cursors survives the rest of a program using `each` with
// other callbacks and cursors of other struct types. With one shared loop or
// one shared cursor class (the design before issue 16) the other callbacks
// and types deoptimize it ("wrong call target", "wrong map"). Prints JSON.

import { Heap } from "../../mod.ts";
import { defineStruct, f64, i32, u16 } from "../../structs/mod.ts";
import { _loopFor } from "../../structs/_iterate.ts";
import { _iterationOf, type _StructArray } from "../../structs/struct_array.ts";
import type { StructFields } from "../../structs/types.ts";

// Natives syntax is parsed by V8 at run time, so that this file stays TypeScript.
type Native = (f: unknown) => unknown;
const prepare = new Function("f", "%PrepareFunctionForOptimization(f);") as Native;
const optimizeNext = new Function("f", "%OptimizeFunctionOnNextCall(f);") as Native;
const isTurbofan = new Function("f", "return %ActiveTierIsTurbofan(f);") as Native;

const Body = defineStruct("Body", { x: f64, y: f64, vx: f64, vy: f64 });
// Same name and fields: generated code must not be shared with Body's.
const Twin = defineStruct("Body", { x: f64, y: f64, vx: f64, vy: f64 });
const Cell = defineStruct("Cell", { value: i32, weight: f64 });
const Tile = defineStruct("Tile", { kind: u16 });

const heap = Heap.create({ initialBytes: 4 << 20 });
const bodies = Body.createArray(heap, 1000);
const twins = Twin.createArray(heap, 1000);
const cells = Cell.createArray(heap, 1000);
const tiles = Tile.createArray(heap, 1000);

const update = (p: { x: number; y: number; vx: number; vy: number }): void => {
  p.x += p.vx;
  p.y += p.vy;
};

function loopOf(array: unknown, fn: (...args: never[]) => unknown): unknown {
  const a = array as _StructArray<StructFields>;
  return _loopFor(_iterationOf(a.$C, a.type.name, a.stride), fn, a.length);
}

const result: Record<string, boolean> = {};

// 1. The loop `each` uses for `update` on Body, optimized with `update` inlined.
const loop = loopOf(bodies, update);
prepare(loop);
bodies.each(update);
bodies.each(update);
optimizeNext(loop);
bodies.each(update);
result.eachOptimized = isTurbofan(loop) === true;

// 2. Body's cursor `seekUnchecked`, optimized on Body records.
const bodyCursor = bodies.cursor();
const seek = bodyCursor.seekUnchecked;
prepare(seek);
for (let i = 0; i < 10; i++) bodyCursor.seekUnchecked(i);
optimizeNext(seek);
bodyCursor.seekUnchecked(3);
result.cursorOptimized = isTurbofan(seek) === true;

// 3. The rest of the program: other callbacks on Body, other types (one with
// Body's name and fields), their cursors; each callback is a new closure.
for (let round = 0; round < 3; round++) {
  bodies.each((p, i) => {
    p.vx = i;
    p.vy = -i;
  });
  bodies.each((p) => {
    p.y = p.x * 2;
  });
  twins.each(update);
  twins.each((p) => {
    p.x = 0;
  });
  cells.each((c, i) => {
    c.value = i;
  });
  tiles.each((t) => {
    t.kind = 7;
  });
  const cc = cells.cursor();
  const tc = tiles.cursor();
  const wc = twins.cursor();
  for (let i = 0; i < 100; i++) {
    cc.seekUnchecked(i).weight += tc.seekUnchecked(i).kind + wc.seekUnchecked(i).x;
  }
  bodies.each(update);
  for (let i = 0; i < 100; i++) bodyCursor.seekUnchecked(i).x += 1;
}

// 4. Body's loop and cursor are still the optimized code of step 1 and 2.
result.eachStillOptimized = isTurbofan(loop) === true;
result.cursorStillOptimized = isTurbofan(seek) === true;
// A callback written once is one loop, though every call makes a new closure.
const makeCallback = () => (p: { x: number }): number => p.x;
result.oneLoopPerSource = loopOf(bodies, makeCallback()) === loopOf(bodies, makeCallback());
console.log(JSON.stringify(result));
