// Run by views_v8_test.ts in a child Deno with
// `--v8-flags=--allow-natives-syntax`: asks V8 whether `destroy(heap, view)`
// leaves the view's hidden class (map) as it was. Destroy marks the view by
// giving it the dead views, an object of the same class and shape as the
// live ones; a map change (such as swapping the view's prototype) costs V8
// 60-140 ns per destroy and makes call sites that see dead views polymorphic.
// Prints JSON.

import { Heap } from "../../mod.ts";
import { defineStruct, f64, u32, utf8 } from "../../structs/mod.ts";

type Native = (a: unknown, b: unknown) => unknown;
const sameMap = new Function("a", "b", "return %HaveSameMap(a, b);") as Native;

const Point = defineStruct("Point", { x: f64, y: f64, z: f64 });
const Named = defineStruct("Named", { id: u32, pos: Point, name: utf8() });

const heap = Heap.create();
const live = Point.create(heap, { x: 1 });
const dead = Point.create(heap, { x: 2 });
Point.destroy(heap, dead);
const liveNamed = Named.create(heap, { id: 1, name: "a" });
const deadNamed = Named.create(heap, { id: 2, name: "b" });
const deadPos = deadNamed.pos; // a nested view, killed with its record's view
Named.destroy(heap, deadNamed);

let threw = 0;
for (const read of [() => dead.x, () => deadNamed.id, () => deadPos.y]) {
  try {
    read();
  } catch {
    threw++;
  }
}
console.log(JSON.stringify({
  pointKeepsMap: sameMap(live, dead) === true,
  recordKeepsMap: sameMap(liveNamed, deadNamed) === true,
  nestedKeepsMap: sameMap(liveNamed.pos, deadPos) === true,
  allThrew: threw === 3,
}));
