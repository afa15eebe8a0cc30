/**
 * The two measuring helpers the bench scripts share: CPU time of a call and
 * the median of a sample.
 *
 * @module
 */

import process from "node:process";

/** CPU milliseconds (user + system, every thread of the process) that `fn` took. */
export function cpuMs(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** The median of `xs` (the mean of the middle two for an even count); `xs` is not changed. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
