/**
 * The particle record shared by the demo's main thread and its workers.
 *
 * @module
 */
import { defineStruct, f64, u32, utf8 } from "../structs/mod.ts";

/** A 2-D vector of two f64 fields (16 bytes). */
export const Vec2 = defineStruct("Vec2", { x: f64, y: f64 });

/**
 * A particle: position, velocity, how many steps updated it and a label of
 * any length (a `utf8()` field: the string lives in its own heap block, which
 * the particle owns; 48 bytes in the record).
 */
export const Particle = defineStruct("Particle", {
  pos: Vec2,
  vel: Vec2,
  steps: u32,
  label: utf8(),
});
