/**
 * The typedheap demo: two workers update one array of particle records in a
 * shared heap at the same time, with no copying and no message per record.
 * Then the main thread churns many blocks through `alloc`/`realloc`/`free`,
 * checks the heap and prints its figures.
 *
 * Run: deno run -A examples/demo.ts   (or: npx -y deno@2.9.6 task demo)
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { Particle } from "./_particles.ts";

const COUNT = 100_000;
const STEPS = 100;

const heap = Heap.create({ initialBytes: 1 << 20, maxBytes: 256 << 20 });
const particles = Particle.createArray(heap, COUNT);
particles.each((p, i) => {
  p.pos.x = i;
  p.vel.x = 1;
  p.vel.y = 0.5;
  p.label = i % 1000 === 0 ? `particle ${i}, a milestone` : `p${i}`;
});

// Two workers, each owns half of the particles; both see the same memory.
const started = performance.now();
const half = COUNT / 2;
const results = await Promise.all(
  [0, 1].map((w) =>
    new Promise<{ workerId: number; scratchRecords: number }>((resolve, reject) => {
      const worker = new Worker(new URL("./_demo_worker.ts", import.meta.url).href, {
        type: "module",
      });
      worker.onmessage = (e): void => {
        worker.terminate();
        resolve(e.data);
      };
      worker.onerror = (e): void => {
        worker.terminate();
        reject(e.error ?? new Error(e.message));
      };
      worker.postMessage({
        buffer: heap.buffer,
        arrayPtr: particles.ptr,
        from: w * half,
        to: (w + 1) * half,
        steps: STEPS,
      });
    })
  ),
);
const workersMs = performance.now() - started;

let moved = 0;
particles.each((p, i) => {
  const label = i % 1000 === 0 ? `particle ${i}, a milestone` : `p${i}`;
  if (p.steps === STEPS && p.pos.x === i + STEPS && p.pos.y === STEPS * 0.5 && p.label === label) {
    moved++;
  }
});
console.log(
  `2 workers (ids ${results.map((r) => r.workerId).join(", ")}) moved ${moved} of ${COUNT} ` +
    `particles ${STEPS} steps each in ${workersMs.toFixed(0)} ms`,
);
if (moved !== COUNT) throw new Error(`Demo failed: ${COUNT - moved} particles were not updated`);
particles.destroy(); // the records and every label's block

// Churn: random alloc / free / realloc of blocks from 4 bytes to 2 KiB.
const live: number[] = [];
let seed = 12345;
const random = (n: number): number => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed % n;
};
const churnStarted = performance.now();
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
const churnMs = performance.now() - churnStarted;
heap.check();
const s = heap.stats();
console.log(`200,000 random alloc/free/realloc steps in ${churnMs.toFixed(0)} ms`);
console.log(
  `heap ${s.heapBytes} bytes: ${s.liveAllocations} live blocks, ${s.usedBytes} bytes used, ` +
    `${s.freeBytes} free, largest free ${s.largestFreeBytes}, ${s.slab.pages} slab pages, ` +
    `high-water ${s.highWaterBytes}`,
);
for (const ptr of live) heap.free(ptr);
heap.detach();
heap.check();
const end = heap.stats();
console.log(
  `after freeing everything: ${end.liveAllocations} live blocks, ${end.usedBytes} bytes used`,
);
