/// <reference lib="deno.worker" />
/**
 * A browser demo worker: attaches the page's heap, creates its particles
 * (records in its own slab pages), moves them until told to stop, and churns
 * scratch blocks of mixed sizes meanwhile so the heap map shows allocation,
 * fragmentation and coalescing. Parks when the page asks for a quiet heap.
 *
 * @module
 */
import { Heap } from "../../mod.ts";
import {
  C_FREEZE,
  C_PARKED,
  C_PAUSE,
  C_RUNNING,
  C_STEPS,
  C_STOP,
  FIELD_HEIGHT,
  FIELD_WIDTH,
  makeRandom,
  Particle,
  PER_WORKER,
  type WorkerJob,
} from "./_shared.ts";

/** Scratch blocks a worker keeps at most. */
const SCRATCH = 40;
/** Milliseconds between two steps (a worker sleeps in between, so the page stays smooth). */
const STEP_MS = 8;
/** Most steps a worker makes: a bound on its loop (about 4 days at 8 ms a step). */
const MAX_STEPS = 2 ** 25;

self.onmessage = (e: MessageEvent<WorkerJob>): void => {
  const { buffer, ctrl, table, slot, seed } = e.data;
  const heap = Heap.attach(buffer);
  const random = makeRandom(seed);
  const c = ctrl >>> 2;
  const i32 = (): Int32Array => heap.i32; // re-read: another worker may have grown the heap
  Atomics.add(i32(), c + C_RUNNING, 1);
  self.postMessage({ type: "started", slot, workerId: heap.workerId });
  const ptrs: number[] = [];
  const scratch: number[] = [];
  const entry = (table >>> 2) + slot * PER_WORKER;
  for (let step = 0; step < MAX_STEPS; step++) {
    if (Atomics.load(i32(), c + C_PAUSE) !== 0) {
      park(i32, c);
      continue;
    }
    if (Atomics.load(i32(), c + C_STOP + slot) !== 0) break;
    if (ptrs.length === 0) {
      for (let k = 0; k < PER_WORKER; k++) {
        const angle = (random(3600) / 3600) * 2 * Math.PI;
        const speed = 0.5 + random(100) / 40;
        const p = Particle.create(heap, {
          x: random(FIELD_WIDTH),
          y: random(FIELD_HEIGHT),
          vx: Math.cos(angle) * speed,
          vy: Math.sin(angle) * speed,
          slot,
        });
        ptrs.push(p.ptr);
        Atomics.store(i32(), entry + k, p.ptr);
      }
    }
    if (Atomics.load(i32(), c + C_FREEZE) === 0) {
      move(heap, ptrs);
      Atomics.add(i32(), c + C_STEPS + slot, 1);
    }
    churn(heap, scratch, random);
    // Sleep until the next step, or until the page sets the stop word.
    Atomics.wait(i32(), c + C_STOP + slot, 0, STEP_MS);
  }
  for (let k = 0; k < ptrs.length; k++) Atomics.store(i32(), entry + k, 0);
  for (const p of ptrs) Particle.destroy(heap, p);
  for (const p of scratch) heap.free(p);
  heap.detach();
  Atomics.sub(i32(), c + C_RUNNING, 1);
  self.postMessage({ type: "stopped", slot });
};

/** Waits (bounded by the page's pause) while the page checks the heap. */
function park(i32: () => Int32Array, c: number): void {
  Atomics.add(i32(), c + C_PARKED, 1);
  Atomics.notify(i32(), c + C_PARKED);
  // Each wait is bounded; the page clears the word within a check's time.
  while (Atomics.load(i32(), c + C_PAUSE) !== 0) Atomics.wait(i32(), c + C_PAUSE, 1, 50);
  Atomics.sub(i32(), c + C_PARKED, 1);
}

/** Moves every particle one step, bouncing off the walls. */
function move(heap: Heap, ptrs: number[]): void {
  for (const ptr of ptrs) {
    const p = Particle.at(heap, ptr);
    let x = p.x + p.vx;
    let y = p.y + p.vy;
    if (x < 0 || x >= FIELD_WIDTH) {
      p.vx = -p.vx;
      x = Math.min(Math.max(x, 0), FIELD_WIDTH - 1);
    }
    if (y < 0 || y >= FIELD_HEIGHT) {
      p.vy = -p.vy;
      y = Math.min(Math.max(y, 0), FIELD_HEIGHT - 1);
    }
    p.x = x;
    p.y = y;
    p.steps++;
  }
}

/** Allocates one scratch block (small ones in the slab, big ones in the arena) and frees a random old one. */
function churn(heap: Heap, scratch: number[], random: (n: number) => number): void {
  const size = random(10) < 7 ? 16 + random(500) : 1500 + random(30_000);
  const p = heap.tryAlloc(size);
  if (p !== 0) scratch.push(p);
  if (scratch.length > SCRATCH || (p === 0 && scratch.length > 0)) {
    const i = random(scratch.length);
    heap.free(scratch[i]);
    scratch[i] = scratch[scratch.length - 1];
    scratch.pop();
  }
}
