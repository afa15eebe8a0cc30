// Guards that every struct type gets its own generated view class code
// (issue 16): in a child Deno with natives syntax, the optimized field
// accessors of one type must stay optimized while another type with the same
// name and fields is used. A structural test, not a timing test.

import { it } from "node:test";
import assert from "node:assert/strict";

it("field accessors of two types with the same name and fields do not share optimized code", async () => {
  const script = new URL("./_views_v8.ts", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--v8-flags=--allow-natives-syntax", script.href],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, stderr);
  const result = JSON.parse(new TextDecoder().decode(output.stdout)) as Record<string, boolean>;
  assert.deepEqual(result, {
    twoClasses: true,
    getterOptimized: true,
    setterOptimized: true,
    getterStillOptimized: true,
    setterStillOptimized: true,
    valuesKept: true,
  });
});
