// Guards that every struct type gets its own generated view class code
// (issue 16): in a child Deno with natives syntax, the optimized field
// accessors of one type must stay optimized while another type with the same
// name and fields is used; and that destroying a view leaves its V8 map as
// it was. Structural tests, not timing tests.

import { it } from "node:test";
import assert from "node:assert/strict";
import { runNativesChild } from "./_natives_child.ts";

it("field accessors of two types with the same name and fields do not share optimized code", async () => {
  const result = await runNativesChild(new URL("./_views_v8.ts", import.meta.url));
  assert.deepEqual(result, {
    twoClasses: true,
    getterOptimized: true,
    setterOptimized: true,
    getterStillOptimized: true,
    setterStillOptimized: true,
    valuesKept: true,
  });
});

it("destroy(heap, view) keeps the view's hidden class (V8 map), its nested views' too", async () => {
  const result = await runNativesChild(new URL("./_dead_views_v8.ts", import.meta.url));
  assert.deepEqual(result, {
    pointKeepsMap: true,
    recordKeepsMap: true,
    nestedKeepsMap: true,
    allThrew: true,
  });
});
