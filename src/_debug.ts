/**
 * Debug assertions for allocator internals (TigerBeetle style): on when the
 * environment variable `TYPEDHEAP_DEBUG` is `1` (the test task sets it), and a
 * constant `false` otherwise so the checks cost nothing in production.
 *
 * @module
 */

function readDebugFlag(): boolean {
  try {
    // deno-lint-ignore no-explicit-any
    const g = globalThis as any;
    if (g.Deno?.env) {
      const state = g.Deno.permissions?.querySync?.({ name: "env", variable: "TYPEDHEAP_DEBUG" })
        ?.state;
      if (state !== "granted") return false;
      return g.Deno.env.get("TYPEDHEAP_DEBUG") === "1";
    }
    return g.process?.env?.TYPEDHEAP_DEBUG === "1";
  } catch {
    return false;
  }
}

/** True when internal invariant assertions are enabled. */
export const DEBUG: boolean = readDebugFlag();

/**
 * Throws when an internal invariant does not hold. Call as
 * `if (DEBUG) assert(cond, "what")` so the condition is not evaluated in production.
 */
export function assert(condition: boolean, what: string): void {
  if (!condition) throw new Error(`Internal invariant broken: ${what}`);
}
