/**
 * The job record of `examples/work_queue.ts`: variable-size items (a name and
 * a list of numbers of any length) that the producer creates and the workers
 * consume and free. Only the job's pointer goes through the queue.
 *
 * @module
 */
import { defineStruct, f64, u32, utf8, vec } from "../structs/mod.ts";

/** One job: its number, a name of any length and the values to add up. */
export const Job = defineStruct("Job", { id: u32, name: utf8(), values: vec(f64) });

/** The values of job `id` (1 to 12 of them), the same in every worker. */
export function jobValues(id: number): number[] {
  return Array.from({ length: 1 + (id % 12) }, (_, k) => id + k * 0.5);
}

/** The name of job `id`: longer for some jobs, with non-ASCII text. */
export function jobName(id: number): string {
  return `job ${id}${id % 3 === 0 ? " — prioritäre Aufgabe ✓" : ""}`;
}
