/**
 * Record types and the start message shared by `examples/pipeline.ts` and its workers.
 *
 * @module
 */
import { defineStruct, f64, u32 } from "../structs/mod.ts";

/** A raw sale: stage 1 makes them. */
export const Sale = defineStruct("Sale", { id: u32, store: u32, cents: u32 });
/** A priced sale: stage 2 adds tax and drops refunds. */
export const Priced = defineStruct("Priced", { store: u32, amount: f64 });
/** What the map keeps per store. */
export const Total = defineStruct("Total", { count: u32, amount: f64 });

/** The message that starts a stage. */
export interface StageStart {
  stage: 1 | 2 | 3;
  buffer: SharedArrayBuffer;
  sales: number;
  priced: number;
  totals: number;
  count: number;
}

/** How stage 1 makes sale `i` (stage 3's expected totals use it too). */
export function saleOf(i: number): { store: number; cents: number } {
  return { store: (i * 7919) % 13, cents: ((i * 104729) % 10_000) + 1 };
}

/** Sales with cents divisible by 10 are refunds: stage 2 drops them. */
export function isRefund(cents: number): boolean {
  return cents % 10 === 0;
}
