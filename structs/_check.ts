// Value checks shared by the generated setters, `create`'s up-front init
// check and vec elements: each scalar kind takes values of one JS type within
// the kind's range. Not exported from mod.ts.

import { _describe } from "./_brand.ts";

const INT_RANGE: Record<string, readonly [number, number]> = {
  u8: [0, 255],
  i8: [-128, 127],
  u16: [0, 65535],
  i16: [-32768, 32767],
  u32: [0, 4294967295],
  i32: [-2147483648, 2147483647],
};

/**
 * The error for storing `value` in a scalar of `kind`, or null if it is
 * valid: integers must be integers in range (`RangeError` otherwise),
 * floats any number, 64-bit integers bigints in range, bools booleans (or 0
 * and 1); the wrong JS type is a `TypeError`. `where` starts the message.
 */
export function _scalarError(kind: string, value: unknown, where: string): Error | null {
  const range = INT_RANGE[kind];
  if (range !== undefined) {
    if (typeof value !== "number") {
      return new TypeError(`${where}: ${kind} value must be a number: ${_describe(value)}`);
    }
    if (Number.isInteger(value) && value >= range[0] && value <= range[1]) return null;
    return new RangeError(
      `${where}: ${kind} value must be an integer from ${range[0]} to ${range[1]}: ${value}`,
    );
  }
  switch (kind) {
    case "f32":
    case "f64":
      return typeof value === "number"
        ? null
        : new TypeError(`${where}: ${kind} value must be a number: ${_describe(value)}`);
    case "bool":
      return typeof value === "boolean" || value === 0 || value === 1
        ? null
        : new TypeError(`${where}: bool value must be a boolean (or 0 or 1): ${_describe(value)}`);
    default: {
      // u64, i64
      if (typeof value !== "bigint") {
        return new TypeError(`${where}: ${kind} value must be a bigint: ${_describe(value)}`);
      }
      const ok = kind === "u64"
        ? BigInt.asUintN(64, value) === value
        : BigInt.asIntN(64, value) === value;
      if (ok) return null;
      return new RangeError(
        `${where}: ${kind} value must be a bigint from ${
          kind === "u64"
            ? "0 to 18446744073709551615"
            : "-9223372036854775808 to 9223372036854775807"
        }: ${value}n`,
      );
    }
  }
}

/**
 * A JS expression over variable `a` that is true when `a` is a valid value
 * for a scalar of `kind` (the same rule as {@linkcode _scalarError}), for
 * generated code: a type test and one comparison for the integer kinds (a
 * bigint would pass the comparison alone, or make it throw).
 */
export function _scalarValid(kind: string, a: string): string {
  switch (kind) {
    case "u8":
      return `(typeof ${a} === "number" && (${a} & 255) === ${a})`;
    case "i8":
      return `(typeof ${a} === "number" && (${a} << 24 >> 24) === ${a})`;
    case "u16":
      return `(typeof ${a} === "number" && (${a} & 65535) === ${a})`;
    case "i16":
      return `(typeof ${a} === "number" && (${a} << 16 >> 16) === ${a})`;
    case "u32":
      return `(typeof ${a} === "number" && (${a} >>> 0) === ${a})`;
    case "i32":
      return `(typeof ${a} === "number" && (${a} | 0) === ${a})`;
    case "f32":
    case "f64":
      return `typeof ${a} === "number"`;
    case "bool":
      return `(${a} === true || ${a} === false || ${a} === 0 || ${a} === 1)`;
    case "u64":
      return `(typeof ${a} === "bigint" && BigInt.asUintN(64, ${a}) === ${a})`;
    default:
      return `(typeof ${a} === "bigint" && BigInt.asIntN(64, ${a}) === ${a})`;
  }
}

/** The closest of `names` to `name` (edit distance at most a third of its length, at least 1), or null. */
export function _closest(name: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of names) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance (with transpositions counted as one edit), capped at `cap`. */
function distance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  if (a.length > 200 || b.length > 200) return cap;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, prev2[j - 2] + 1);
      }
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return Math.min(prev[b.length], cap);
}

/** "T has no field 'x'; did you mean 'y'?" (or the list of fields when nothing is close). */
export function _noField(typeName: string, key: string, names: readonly string[]): string {
  const close = _closest(key, names);
  return close !== null
    ? `${typeName} has no field '${key}'; did you mean '${close}'?`
    : `${typeName} has no field '${key}'; its fields are: ${names.join(", ")}`;
}
