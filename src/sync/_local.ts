/**
 * Which worker ids belong to heap handles of this thread (this JS realm), per
 * buffer. A synchronous wait for a lock held by one of them can never end (the
 * holder cannot run while this thread blocks), so `lockWord` refuses it at once.
 *
 * This is bookkeeping about handles, not heap state: every thread keeps its own.
 *
 * @module
 */

/** Worker ids of this thread's handles, by the buffer object they were made on. */
const local = new WeakMap<ArrayBufferLike, Set<number>>();

/**
 * Records that `workerId` is a handle of this thread on `buffer`. The heap calls
 * it for every handle it makes.
 *
 * @param buffer The heap's buffer.
 * @param workerId The handle's worker id.
 */
export function registerLocalWorker(buffer: ArrayBufferLike, workerId: number): void {
  let ids = local.get(buffer);
  if (ids === undefined) local.set(buffer, ids = new Set());
  ids.add(workerId);
}

/**
 * Reports whether `workerId` is a handle of this thread on `buffer` (only
 * handles made on the same buffer object are known).
 *
 * @returns `true` if a handle of this thread has that worker id.
 */
export function isLocalWorker(buffer: ArrayBufferLike, workerId: number): boolean {
  const ids = local.get(buffer);
  return ids !== undefined && ids.has(workerId);
}
