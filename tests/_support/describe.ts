/**
 * How the worker helpers name a message in an error. Portable (no runtime
 * APIs), so the node:worker_threads helper can share it with the pool.
 *
 * @module
 */

/**
 * A short description of a message for an error: its primitive fields, buffers
 * by size, arrays by length, other objects elided; at most eight fields.
 *
 * @param message A message sent to a worker.
 * @returns For example `{ task: "mix", index: 1, buffer: SharedArrayBuffer(1048576) }`.
 */
export function describeMessage(message: unknown): string {
  if (typeof message !== "object" || message === null) return String(message);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(message)) {
    if (parts.length === 8) {
      parts.push("…");
      break;
    }
    if (value === null || typeof value !== "object") {
      parts.push(`${key}: ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
    } else if (value instanceof SharedArrayBuffer || value instanceof ArrayBuffer) {
      parts.push(`${key}: ${value.constructor.name}(${value.byteLength})`);
    } else {
      parts.push(`${key}: ${Array.isArray(value) ? `[${value.length}]` : "{…}"}`);
    }
  }
  return `{ ${parts.join(", ")} }`;
}
