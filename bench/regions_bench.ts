/**
 * `heap.regions()` on a 64 MiB heap with 100,000 live blocks: is the heap map
 * cheap enough to draw every animation frame (16.7 ms at 60 Hz)?
 *
 * The heap holds 60,000 slab blocks (8 to 512 bytes) and 40,000 arena blocks
 * (200 to 600 bytes aligned to 128, so they bypass the slab and leave
 * alignment gaps); 30,000 random blocks of 130,000 were freed again, so the
 * arena is fragmented (tens of thousands of chunks). `stats()` (counters and a
 * page walk) and `check()` (the full invariant walk) run in the same process
 * as the yardsticks, with a bare walk of the size words (the floor of any
chunk walk; on a heap this size it is bound by memory latency). Run with `deno bench -A bench/regions_bench.ts`.
 *
 * @module
 */

import { Heap } from "../mod.ts";
import { Sfc32 } from "../tests/_support/prng.ts";

const MiB = 1 << 20;

function fill(): Heap {
  const heap = Heap.create({ initialBytes: 64 * MiB, maxBytes: 64 * MiB });
  const rng = new Sfc32(0x2545f491);
  const rand = (n: number): number => rng.below(n);
  const live: number[] = [];
  for (let i = 0; i < 130_000; i++) {
    live.push(
      i % 13 < 6 ? heap.alloc(200 + rand(400), 128) : heap.alloc(8 + rand(505)),
    );
  }
  for (let i = 0; i < 30_000; i++) {
    const j = rand(live.length);
    heap.free(live[j]);
    live[j] = live[live.length - 1];
    live.pop();
  }
  return heap;
}

const heap = fill();
const s = heap.stats();
const map = heap.regions();
if (s.liveAllocations !== 100_000 || s.heapBytes !== 64 * MiB) {
  throw new Error(`Bench setup: ${s.liveAllocations} live blocks in ${s.heapBytes} bytes`);
}
console.log(
  `64 MiB heap: ${s.liveAllocations} live blocks, ${map.chunkCount} chunks ` +
    `(${map.blockChunks} blocks, ${map.freeChunks} free), ${map.pages.length} slab pages`,
);

Deno.bench("regions()", { group: "map", baseline: true }, () => {
  heap.regions();
});
// The floor for any chunk walk: only follow the size words, no checks, no output.
// On a 64 MiB heap it is bound by memory latency (a chunk header per cache line).
const u32 = heap.u32;
Deno.bench("bare boundary-tag walk (floor)", { group: "map" }, () => {
  let c = 4104; // ARENA_START
  let n = 0;
  const limit = u32[3] - 8; // H_HEAP_BYTES - EPILOGUE_BYTES
  while (c < limit) {
    c += u32[c >>> 2] & 0xfffffff8;
    n++;
  }
  if (n !== map.chunkCount) throw new Error("Bench: the bare walk disagrees");
});
Deno.bench("stats()", { group: "map" }, () => {
  heap.stats();
});
Deno.bench("check()", { group: "map" }, () => {
  heap.check();
});
