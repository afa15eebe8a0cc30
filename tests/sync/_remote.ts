// A lock host that stands in for a heap handle of another worker, in-process:
// same buffer, a worker id that no handle of this thread has (so a wait for it is
// a wait for another thread, not a same-thread deadlock).

import type { Heap } from "../../mod.ts";
import type { LockHost } from "../../src/sync/mod.ts";

let nextId = 1 << 28;

/** A host on `heap`'s buffer with a fresh worker id unknown to this thread. */
export function remoteHost(heap: Heap): LockHost {
  const workerId = nextId++;
  return {
    get i32(): Int32Array {
      return heap.i32;
    },
    workerId,
    lockTimeoutMs: heap.lockTimeoutMs,
    alloc: (sizeBytes: number, alignBytes?: number): number => heap.alloc(sizeBytes, alignBytes),
    free: (ptr: number): void => heap.free(ptr),
  };
}
