/**
 * The typedheap demo: allocates, resizes and frees many blocks in one heap,
 * checks the heap, and prints its figures.
 *
 * Run: deno run -A examples/demo.ts   (or: npx -y deno@2.9.6 task demo)
 *
 * @module
 */
import { Heap } from "../mod.ts";

const heap = Heap.create({ initialBytes: 256 * 1024, maxBytes: 64 << 20 });
const live: number[] = [];
let seed = 12345;
const random = (n: number): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % n;
};

const started = performance.now();
for (let step = 0; step < 200_000; step++) {
  const action = random(10);
  if (action < 5 || live.length === 0) {
    const ptr = heap.alloc(4 + random(500), 8 << random(3));
    heap.u8[ptr] = step & 255;
    live.push(ptr);
  } else if (action < 8) {
    const i = random(live.length);
    heap.free(live[i]);
    live[i] = live[live.length - 1];
    live.pop();
  } else {
    const i = random(live.length);
    live[i] = heap.realloc(live[i], 4 + random(2000));
  }
}
const elapsedMs = performance.now() - started;
heap.check();
console.log(`200,000 random alloc/free/realloc steps in ${elapsedMs.toFixed(0)} ms`);
console.log("stats with", live.length, "blocks live:", heap.stats());
for (const ptr of live) heap.free(ptr);
heap.check();
const s = heap.stats();
console.log(`after freeing everything: ${s.usedBytes} bytes used, ${s.freeChunks} free chunk(s)`);
