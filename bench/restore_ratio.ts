/**
 * Restore speed against a plain copy: a heap with ~50 MB used (slab and arena
 * blocks, 128 MiB maximum) is snapshotted once; then, in interleaved rounds in
 * this one process, `Heap.restore(snapshot)` (validation, copy, handing the old
 * workers' pages over, and the full `check()` it ends with) is timed against
 * copying the same bytes into a new growable `SharedArrayBuffer` of the same
 * size. Prints min and median of both and their ratio (copy time / restore
 * time: 1 means as fast as the copy; the target is at least 0.5).
 *
 * Run with `deno run -A bench/restore_ratio.ts [rounds]` (default 15).
 *
 * @module
 */

import { Heap } from "../mod.ts";

const MiB = 1 << 20;
const rounds = Number(Deno.args[0] ?? 15);

function build(): Heap {
  const heap = Heap.create({ initialBytes: 4 * MiB, maxBytes: 128 * MiB });
  const workers = [heap, Heap.attach(heap.buffer)];
  const live: number[] = [];
  for (let i = 0; heap.stats().usedBytes < 50_000_000; i++) {
    for (let j = 0; j < 500; j++) {
      const w = workers[j & 1];
      live.push(w.alloc(j % 8 === 0 ? 5_000 + ((i * 31 + j) % 50_000) : 8 + ((i + j * 7) % 1016)));
      if (j % 10 === 0) w.free(live.splice((i * 7919 + j * 31) % live.length, 1)[0]);
    }
  }
  heap.free(heap.alloc(40 * MiB)); // grown to the maximum, with a large free tail
  return heap;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const heap = build();
const snapshot = heap.snapshot();
const stats = heap.stats();
console.log(
  `heap ${heap.byteLength} bytes, ${stats.usedBytes} used, ${stats.liveAllocations} blocks, ` +
    `${stats.slab.pages} slab pages; snapshot ${snapshot.length} bytes`,
);

const copyMs: number[] = [];
const restoreMs: number[] = [];
let sink = 0;
for (let r = 0; r < rounds; r++) {
  // Alternate which runs first, so neither always follows the other's garbage.
  for (const which of r % 2 === 0 ? ["copy", "restore"] : ["restore", "copy"]) {
    const t0 = performance.now();
    if (which === "copy") {
      const buffer = new SharedArrayBuffer(heap.byteLength, { maxByteLength: 128 * MiB });
      new Uint8Array(buffer).set(snapshot);
      sink += buffer.byteLength;
      copyMs.push(performance.now() - t0);
    } else {
      const copy = Heap.restore(snapshot);
      sink += copy.byteLength;
      restoreMs.push(performance.now() - t0);
    }
  }
}
const ratioMin = Math.min(...copyMs) / Math.min(...restoreMs);
const ratioMedian = median(copyMs) / median(restoreMs);
console.log(
  `${rounds} rounds: copy min ${Math.min(...copyMs).toFixed(1)} ms, median ${
    median(copyMs).toFixed(1)
  } ms; restore min ${Math.min(...restoreMs).toFixed(1)} ms, median ${
    median(restoreMs).toFixed(1)
  } ms`,
);
console.log(
  `restore speed / copy speed: min ${ratioMin.toFixed(2)}, median ${
    ratioMedian.toFixed(2)
  } (target >= 0.5)`,
);
if (sink === 0) throw new Error("Nothing was copied");
