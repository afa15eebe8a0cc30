// Guards the design of `each` and the cursor (issue 16) with V8's own view of
// the code: in a child Deno with natives syntax, the optimized `each` loop of
// one callback and the optimized `seekUnchecked` of one struct type must stay
// optimized while the program calls `each` with other callbacks, on other
// types (one with the same name and fields), and walks their cursors. One
// shared loop or cursor class is deoptimized there ("wrong call target",
// "wrong map") and then stays polymorphic: 2-7x slower loops. A structural
// test, not a timing test: it does not depend on the machine's load.

import { it } from "node:test";
import assert from "node:assert/strict";
import { runNativesChild } from "./_natives_child.ts";

it("each loops and cursors stay optimized in a program with other callbacks and types", async () => {
  const result = await runNativesChild(new URL("./_iteration_v8.ts", import.meta.url));
  assert.deepEqual(result, {
    eachOptimized: true,
    cursorOptimized: true,
    eachStillOptimized: true,
    cursorStillOptimized: true,
    oneLoopPerSource: true,
  });
});
