/// <reference lib="deno.worker" />
// Worker side of tests/heap/churn_kill_test.ts: random alloc/free/realloc on a
// shared table of blocks (so blocks move between workers), verifying every
// block's bytes before it frees or resizes it. It may be terminated at any
// point; the main thread then recovers it.

import { Heap, HeapCorruptionError, LockTimeoutError } from "../../mod.ts";
import { Sfc32 } from "../_support/prng.ts";

/** Table entry words: state, pointer, size, fill byte. */
export const E_STATE = 0;
export const E_PTR = 1;
export const E_SIZE = 2;
export const E_FILL = 3;
export const ENTRY_WORDS = 4;
/** Entry states: empty, live; a claimed entry holds -(worker index + 1). */
export const EMPTY = 0;
export const LIVE = 1;
/** Control words: operations done (all workers), failures, blocked retries. */
export const C_OPS = 0;
export const C_FAILED = 1;
export const C_BLOCKED = 2;
/** Set by the main thread: stop after the current operation. */
export const C_STOP = 3;

export interface ChurnTask {
  buffer: SharedArrayBuffer;
  table: SharedArrayBuffer;
  control: SharedArrayBuffer;
  index: number;
  ops: number;
  seed: number;
}

/** What a worker posts: its id first, then any failures, then `done` when it stops. */
export interface ChurnReply {
  workerId?: number;
  failed?: string;
  done?: boolean;
}

/** Returns to the event loop: Deno's terminate() stops a worker only there. */
function turn(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

self.onmessage = async (event: MessageEvent<ChurnTask>) => {
  const t = event.data;
  const heap = Heap.attach(t.buffer);
  self.postMessage({ workerId: heap.workerId });
  const table = new Int32Array(t.table);
  const control = new Int32Array(t.control);
  const entries = table.length / ENTRY_WORDS;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const me = -(t.index + 1);
  const rng = new Sfc32(t.seed);
  const rand = (n: number): number => rng.below(n);
  const fail = (what: string): void => {
    Atomics.add(control, C_FAILED, 1);
    self.postMessage({ failed: what });
  };
  const verify = (e: number, upTo: number): boolean => {
    const ptr = table[e + E_PTR];
    const fill = table[e + E_FILL];
    const u8 = heap.u8;
    for (let i = 0; i < upTo; i++) {
      if (u8[ptr + i] !== fill) {
        fail(`block ${ptr} (size ${table[e + E_SIZE]}) byte ${i} is ${u8[ptr + i]}, not ${fill}`);
        return false;
      }
    }
    return true;
  };
  const drawSize = (): number => rand(4) === 0 ? 1025 + rand(30_000) : 1 + rand(400);
  let untilTurn = 1 + rand(64);
  for (let op = 0; op < t.ops && Atomics.load(control, C_STOP) === 0; op++) {
    if (--untilTurn === 0) {
      await turn();
      untilTurn = 1 + rand(64);
    }
    const e = rand(entries) * ENTRY_WORDS;
    const state = Atomics.load(table, e + E_STATE);
    if (state !== EMPTY && state !== LIVE) continue;
    if (Atomics.compareExchange(table, e + E_STATE, state, me) !== state) continue;
    let next = state;
    try {
      if (state === EMPTY) {
        const size = drawSize();
        table[e + E_PTR] = 0;
        const ptr = heap.alloc(size);
        if (rand(64) === 0) await turn(); // killed here: a block nobody recorded
        table[e + E_PTR] = ptr;
        table[e + E_SIZE] = size;
        table[e + E_FILL] = 1 + rand(254);
        heap.u8.fill(table[e + E_FILL], ptr, ptr + size);
        next = LIVE;
      } else if (rand(3) === 0) {
        const size = drawSize();
        const old = table[e + E_SIZE];
        if (verify(e, old)) {
          const ptr = heap.realloc(table[e + E_PTR], size);
          table[e + E_PTR] = ptr;
          table[e + E_SIZE] = size;
          if (verify(e, Math.min(old, size)) && size > old) {
            heap.u8.fill(table[e + E_FILL], ptr + old, ptr + size);
          }
        }
        next = LIVE;
      } else {
        verify(e, table[e + E_SIZE]);
        heap.free(table[e + E_PTR]);
        if (rand(64) === 0) await turn(); // killed here: a claimed entry whose block is gone
        next = EMPTY;
      }
      Atomics.add(control, C_OPS, 1);
    } catch (err) {
      // A dead worker holds the heap lock, or left an operation half done:
      // the main thread recovers it; try again later.
      if (!(err instanceof LockTimeoutError || err instanceof HeapCorruptionError)) {
        fail(`${(err as Error).name}: ${(err as Error).message}`);
      }
      Atomics.add(control, C_BLOCKED, 1);
      Atomics.wait(sleeper, 0, 0, 2);
    }
    Atomics.store(table, e + E_STATE, next);
  }
  heap.detach();
  self.postMessage({ done: true });
};
