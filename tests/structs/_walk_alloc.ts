// Run by no_alloc_test.ts in a child Deno with `--expose-gc` and a young
// generation large enough that a hundred million bytes fit without a
// collection: prints, as JSON, how many bytes of JS heap each way of walking
// 1,000,000 records allocated (`Deno.memoryUsage().heapUsed` after the walk
// minus before, right after a full GC), five walks each.
//
// The fields are 32-bit integers so that the numbers themselves never need a
// heap box, even while a walk runs unoptimised: whatever is allocated is
// objects made by the walk.

import { Heap } from "../../mod.ts";
import { defineStruct, i32, type ViewOf } from "../../structs/mod.ts";

declare const gc: () => void;

const N = 1_000_000;
const Cell = defineStruct("Cell", { a: i32, b: i32, c: i32 });
const heap = Heap.create({ initialBytes: 32 << 20, maxBytes: 64 << 20 });
const records = Cell.createArray(heap, N);
records.each((r, i) => {
  r.b = i & 0xff;
  r.c = 1;
});
let sink = 0;

function measure(walk: () => void): number {
  gc();
  gc();
  const before = Deno.memoryUsage().heapUsed;
  walk();
  const after = Deno.memoryUsage().heapUsed;
  return after - before;
}

const walks: Record<string, () => void> = {
  empty: () => {},
  cursor: () => {
    const cursor = records.cursor();
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const r = cursor.seek(i);
      r.a += 1;
      sum = (sum + r.b + r.c) | 0;
    }
    sink ^= sum;
  },
  each: () => {
    let sum = 0;
    records.each((r: ViewOf<typeof Cell>) => {
      r.a += 1;
      sum = (sum + r.b + r.c) | 0;
    });
    sink ^= sum;
  },
  // The control: a new view per record must show up as allocation.
  forOf: () => {
    let sum = 0;
    for (const r of records) sum = (sum + r.b) | 0;
    sink ^= sum;
  },
};

const result: Record<string, number[]> = {};
for (const [name, walk] of Object.entries(walks)) {
  result[name] = Array.from({ length: 5 }, () => measure(walk));
}
console.log(JSON.stringify({ result, sink }));
