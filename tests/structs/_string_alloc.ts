// Run by no_alloc_test.ts in a child Deno with `--expose-gc` and a large
// young generation (no collection during a measurement): prints, as JSON,
// how many bytes of JS heap reading a 16-byte ASCII string field 100,000
// times allocated (`Deno.memoryUsage().heapUsed` after minus before, right
// after a full GC), five times each, for a variable-length `utf8()` field
// and, as a control, a fixed `utf8(16)` field (whose reader builds the string
// by concatenation, one intermediate string per character). Every string read
// is kept in a preallocated array, so the figure includes the strings
// themselves: a 16-character one-byte string takes 28 bytes, 32 with
// alignment, in V8 with pointer compression.

import { Heap } from "../../mod.ts";
import { defineStruct, utf8 } from "../../structs/mod.ts";

declare const gc: () => void;

const N = 100_000;
const heap = Heap.create({ initialBytes: 8 << 20, maxBytes: 64 << 20 });
const Var = defineStruct("Var", { s: utf8() });
const Fixed = defineStruct("Fixed", { s: utf8(16) });
const text = "sixteen ascii ch";
const variable = Var.create(heap, { s: text });
const fixed = Fixed.create(heap, { s: text });
const out: string[] = new Array(N).fill("");

function measure(read: () => void): number {
  out.fill("");
  gc();
  gc();
  const before = Deno.memoryUsage().heapUsed;
  read();
  const after = Deno.memoryUsage().heapUsed;
  return after - before;
}

const reads: Record<string, () => void> = {
  empty: () => {},
  variable: () => {
    for (let i = 0; i < N; i++) out[i] = variable.s;
  },
  fixed: () => {
    for (let i = 0; i < N; i++) out[i] = fixed.s;
  },
};

const result: Record<string, number[]> = {};
for (const [name, read] of Object.entries(reads)) {
  result[name] = Array.from({ length: 5 }, () => measure(read));
}
if (out[N - 1] !== text) throw new Error(`read ${JSON.stringify(out[N - 1])}`);
console.log(JSON.stringify({ result }));
