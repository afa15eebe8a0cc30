// Deno-only part of views_test.ts (which also runs under Node): Deno's own
// inspect, what console.log prints in Deno.

import assert from "node:assert/strict";
import { Heap } from "../../mod.ts";
import { defineStruct, f64, u32, utf8, vec } from "../../structs/mod.ts";

const Vec2 = defineStruct("Vec2", { x: f64, y: f64 });
const Particle = defineStruct("Particle", {
  id: u32,
  name: utf8(),
  pos: Vec2,
  trail: vec(f64),
});

Deno.test("Deno.inspect (console.log in Deno) shows the fields and their values", () => {
  const heap = Heap.create();
  const p = Particle.create(heap, { id: 3, name: "bo", trail: [1, 2] });
  const shown = Deno.inspect(p);
  assert.match(shown, /^Particle@\d+ \{/);
  for (const part of ["id: 3", 'name: "bo"', "pos: Vec2 { x: 0, y: 0 }", "trail: [ 1, 2 ]"]) {
    assert.ok(shown.includes(part), `${part} in ${shown}`);
  }
});
