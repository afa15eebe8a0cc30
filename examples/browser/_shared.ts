/**
 * What the browser demo's page and its workers share: the particle record,
 * the layout of the control block in the heap, and the colours of the map.
 *
 * @module
 */
import { defineStruct, f64, u32 } from "../../structs/mod.ts";

/** A particle: position and velocity in canvas pixels, its worker's slot and its step count (40 bytes). */
export const Particle = defineStruct("Particle", {
  x: f64,
  y: f64,
  vx: f64,
  vy: f64,
  slot: u32,
  steps: u32,
});

/** Most workers the page runs at once. */
export const MAX_WORKERS = 8;
/** Particles each worker owns. */
export const PER_WORKER = 300;
/** Size of the particle canvas in pixels. */
export const FIELD_WIDTH = 480;
/** Size of the particle canvas in pixels. */
export const FIELD_HEIGHT = 320;

// Control block: i32 words in the heap, at `ctrl` (a block the page allocates).
/** Non-zero while the page asks every worker to park (to run `check()` on a quiet heap). */
export const C_PAUSE = 0;
/** Workers parked on `C_PAUSE`. */
export const C_PARKED = 1;
/** Workers between attaching and detaching. */
export const C_RUNNING = 2;
/** Non-zero: workers skip moving their particles (a test mode that must make the browser test fail). */
export const C_FREEZE = 3;
/** Per worker slot: non-zero asks the worker to free its blocks, detach and stop. */
export const C_STOP = 8;
/** Per worker slot: steps the worker made. */
export const C_STEPS = C_STOP + MAX_WORKERS;
/** Words of the control block. */
export const C_WORDS = C_STEPS + MAX_WORKERS;

/** The message that starts a worker. */
export interface WorkerJob {
  /** The heap's buffer. */
  buffer: SharedArrayBuffer;
  /** Byte offset of the control block. */
  ctrl: number;
  /** Byte offset of the particle table: `MAX_WORKERS * PER_WORKER` u32 pointers. */
  table: number;
  /** The worker's slot, `0 .. MAX_WORKERS - 1`. */
  slot: number;
  /** Seed of the worker's random numbers. */
  seed: number;
}

/** A small xorshift generator, so runs are reproducible. */
export function makeRandom(seed: number): (n: number) => number {
  let s = seed | 0 || 1;
  return (n: number): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** Colours as `[r, g, b]`: the browser test looks for these exact pixels. */
export const COLOURS = {
  background: [16, 18, 22],
  header: [110, 110, 120],
  free: [40, 48, 60],
  block: [240, 165, 0],
  area: [210, 80, 210],
  orphan: [235, 235, 235],
} as const;

/** Colours of worker slots (particles and the slab pages their workers own). */
export const SLOT_COLOURS: readonly (readonly [number, number, number])[] = [
  [64, 196, 255],
  [118, 255, 3],
  [255, 64, 129],
  [255, 235, 59],
  [0, 230, 180],
  [179, 136, 255],
  [255, 138, 101],
  [130, 177, 255],
];
