// Run by views_v8_test.ts in a child Deno with
// `--v8-flags=--allow-natives-syntax`: asks V8 whether the optimized field
// getter and setter of one struct type survive the program using another
// type with the same name and fields. V8 caches `new Function` by source
// text; with one generated source for both types, their accessors would share
// type feedback and optimized code, and the other type's view class would
// deoptimize them ("wrong map") and leave them polymorphic. Prints JSON.

import { Heap } from "../../mod.ts";
import { defineStruct, f64 } from "../../structs/mod.ts";

// Natives syntax is parsed by V8 at run time, so that this file stays TypeScript.
type Native = (f: unknown) => unknown;
const prepare = new Function("f", "%PrepareFunctionForOptimization(f);") as Native;
const optimizeNext = new Function("f", "%OptimizeFunctionOnNextCall(f);") as Native;
const isTurbofan = new Function("f", "return %ActiveTierIsTurbofan(f);") as Native;

const Body = defineStruct("Body", { x: f64, y: f64 });
// Same name and fields: generated code must not be shared with Body's.
const Twin = defineStruct("Body", { x: f64, y: f64 });

const heap = Heap.create();
const body = Body.create(heap, { x: 1 });
const twin = Twin.create(heap, { x: 2 });

function accessor(record: object, kind: "get" | "set"): (...a: unknown[]) => unknown {
  const d = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(record), "x");
  return d?.[kind] as (...a: unknown[]) => unknown;
}
const get = accessor(body, "get");
const set = accessor(body, "set");
const result: Record<string, boolean> = {
  twoClasses: get !== accessor(twin, "get"),
};

// 1. Body's `x` getter and setter, optimized on Body records.
prepare(get);
prepare(set);
for (let i = 0; i < 10; i++) set.call(body, get.call(body) as number + 1);
optimizeNext(get);
optimizeNext(set);
set.call(body, get.call(body) as number + 1);
result.getterOptimized = isTurbofan(get) === true;
result.setterOptimized = isTurbofan(set) === true;

// 2. The rest of the program reads and writes the twin type's records.
for (let i = 0; i < 1000; i++) twin.x += i;

// 3. Body's accessors are still the optimized code of step 1, and correct.
result.getterStillOptimized = isTurbofan(get) === true;
result.setterStillOptimized = isTurbofan(set) === true;
result.valuesKept = body.x === 12 && twin.x === 2 + 999 * 500;
console.log(JSON.stringify(result));
