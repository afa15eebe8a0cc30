// Limits shared by the definition checks. Not exported from mod.ts.

/** The largest struct, array field or string field, in bytes (1 GiB). */
export const MAX_FIELD_BYTES = 2 ** 30;

/** The largest alignment a struct may ask for, in bytes. */
export const MAX_ALIGN_BYTES = 4096;

/** True when `value` is an integer in `1..max`. */
export function _isPositiveInteger(value: unknown, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= max;
}
