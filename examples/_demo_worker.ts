/// <reference lib="deno.worker" />
/**
 * A demo worker: attaches the heap it is sent, moves its half of the
 * particles for a number of steps, and churns small scratch records
 * meanwhile (allocated from its own slab pages, no lock).
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { Particle, Vec2 } from "./_particles.ts";

interface Job {
  buffer: SharedArrayBuffer;
  arrayPtr: number;
  from: number;
  to: number;
  steps: number;
}

self.onmessage = (e: MessageEvent<Job>): void => {
  const { buffer, arrayPtr, from, to, steps } = e.data;
  const heap = Heap.attach(buffer);
  const particles = Particle.arrayAt(heap, arrayPtr);
  const cursor = particles.cursor();
  let scratchRecords = 0;
  for (let step = 0; step < steps; step++) {
    for (let i = from; i < to; i++) {
      const p = cursor.seek(i);
      p.pos.x += p.vel.x;
      p.pos.y += p.vel.y;
      p.steps += 1;
    }
    // A short-lived record per step, as a simulation's scratch data would be.
    const tmp = Vec2.create(heap, { x: step, y: -step });
    Vec2.destroy(heap, tmp);
    scratchRecords++;
  }
  heap.detach();
  self.postMessage({ workerId: heap.workerId, scratchRecords });
};
