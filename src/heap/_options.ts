/**
 * Checks shared by every way to make a heap (`Heap.create` on a buffer or a
 * WebAssembly memory, `Heap.restore`).
 *
 * @module
 */

/**
 * Validates a heap lock timeout: an integer in [1, 2^32) milliseconds (every
 * wait is bounded, so `0`, which once meant "forever", is refused).
 *
 * @param operation What is being done, for the message (`"create heap"`).
 * @param value The option's value.
 * @returns The timeout in milliseconds.
 * @throws {RangeError} When the value is not such an integer.
 */
export function checkLockTimeoutMs(operation: string, value: unknown): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 0xffffffff
  ) {
    throw new RangeError(
      `Cannot ${operation}: lockTimeoutMs must be an integer in [1, 2^32): ${String(value)}`,
    );
  }
  return value;
}
