// Runs a script in a child Deno with V8's natives syntax (`%OptimizeFunctionOnNextCall`,
// `%GetOptimizationStatus`, …) and returns the JSON object it prints: the V8-level guard
// tests read the optimization status of generated code this way.

import assert from "node:assert/strict";

/**
 * Runs `script` (a URL relative to the caller) in a child Deno with
 * `--allow-natives-syntax` and parses its stdout as JSON.
 *
 * @param script The script's URL.
 * @returns What the script printed, as an object of flags.
 */
export async function runNativesChild(script: URL): Promise<Record<string, boolean>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--v8-flags=--allow-natives-syntax", script.href],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)) as Record<string, boolean>;
}
