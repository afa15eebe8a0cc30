/**
 * Workloads shared by the benches: a seeded PRNG, Talc's size and alignment
 * rules, the random-actions workload and the heap-efficiency trial, all
 * written against a small allocator adapter so typedheap and its peers run
 * exactly the same sequence of requests.
 *
 * The rules follow Talc's `benches/` (random_actions.rs, heap_efficiency.rs):
 * a size is drawn as a cap uniform in [16, max), then a size uniform in
 * [4, cap); an alignment is `8 << (trailing zeros of a random u16 / 2)`.
 *
 * @module
 */

import type { MemPool } from "@thi.ng/malloc";
import { type Heap, OutOfMemoryError } from "../mod.ts";
import { Sfc32 } from "../tests/_support/prng.ts";

/** The shared seeded PRNG (tests/_support/prng.ts), re-exported for the benches. */
export { Sfc32 };

/**
 * The allocator under test, reduced to what the workloads need. Every method
 * reports failure by returning 0 and then leaves the allocator as it was (a
 * failed `realloc` keeps the old block).
 */
export interface AllocatorAdapter {
  /** Allocates `sizeBytes` aligned to `alignBytes`; the block's address, or 0. */
  alloc(sizeBytes: number, alignBytes: number): number;
  /** Frees the block at `ptr`, which was allocated with `sizeBytes`. */
  free(ptr: number, sizeBytes: number): void;
  /** Resizes the block at `ptr` from `oldSizeBytes` to `newSizeBytes`; its new address, or 0. */
  realloc(ptr: number, oldSizeBytes: number, newSizeBytes: number): number;
}

/** typedheap through its public API: `tryAlloc`, `free`, `realloc`. */
export class HeapAdapter implements AllocatorAdapter {
  /** The heap under test. */
  readonly heap: Heap;

  /** @param heap The heap under test. */
  constructor(heap: Heap) {
    this.heap = heap;
  }

  /** Allocates with the requested alignment; 0 when out of memory. */
  alloc(sizeBytes: number, alignBytes: number): number {
    return this.heap.tryAlloc(sizeBytes, alignBytes);
  }

  /** Frees the block. */
  free(ptr: number, _sizeBytes: number): void {
    this.heap.free(ptr);
  }

  /** Resizes the block (it keeps its alignment); 0 when out of memory, the old block kept. */
  realloc(ptr: number, _oldSizeBytes: number, newSizeBytes: number): number {
    try {
      return this.heap.realloc(ptr, newSizeBytes);
    } catch (error) {
      if (error instanceof OutOfMemoryError) return 0;
      throw error;
    }
  }
}

/**
 * `@thi.ng/malloc`'s `MemPool` (6.1.150) behind the same adapter.
 *
 * Alignment: `MemPool` has one `align` option for the whole pool (default 8)
 * and no per-allocation alignment, so the requested alignment is ignored and
 * every block is 8-aligned. That favours the peer: typedheap honours the 16…2048
 * alignments that a quarter of the requests ask for and pays for it in gaps.
 *
 * Reallocation: `MemPool.realloc` leaks when it has to move a block — its
 * `reallocBlock` calls `this.free(block)` with the block's header address,
 * which `free` shifts by another 8 bytes, finds in no list and ignores, so the
 * old block stays on the used list forever (and every later `free` walks past
 * it). Growing therefore goes through `malloc` + copy + `free`, which is what
 * a user of the pool has to do; shrinking calls `realloc`, which splits in place.
 * A failed growth keeps the old block, like typedheap's `realloc`.
 */
export class MemPoolAdapter implements AllocatorAdapter {
  /** The pool under test. */
  readonly pool: MemPool;
  #u8: Uint8Array;

  /** @param pool The pool under test (with the default `align: 8`). */
  constructor(pool: MemPool) {
    this.pool = pool;
    this.#u8 = new Uint8Array(pool.buf);
  }

  /** Allocates `sizeBytes` (8-aligned whatever `alignBytes` asks, see the class doc); 0 on failure. */
  alloc(sizeBytes: number, _alignBytes: number): number {
    return this.pool.malloc(sizeBytes);
  }

  /** Frees the block. */
  free(ptr: number, _sizeBytes: number): void {
    this.pool.free(ptr);
  }

  /** Shrinks in place or moves to a new block; 0 on failure, the old block kept. */
  realloc(ptr: number, oldSizeBytes: number, newSizeBytes: number): number {
    if (newSizeBytes <= oldSizeBytes) return this.pool.realloc(ptr, newSizeBytes);
    const moved = this.pool.malloc(newSizeBytes);
    if (moved === 0) return 0;
    this.#u8.copyWithin(moved, ptr, ptr + oldSizeBytes);
    this.pool.free(ptr);
    return moved;
  }
}

const TWO_POW_32 = 2 ** 32;

/** Index in [0, length) from a u32 random value (length ≤ 2^31). */
function indexFrom(randomU32: number, length: number): number {
  return (randomU32 * length / TWO_POW_32) | 0;
}

/**
 * Talc's `generate_align`: `8 << (trailing zeros of u16 / 2)`, a u16 of 0
 * counting as 16 trailing zeros. 75% of draws are 8, 19% 16, 4.7% 32, …,
 * 1 in 65536 is 2048.
 *
 * @param u16 A random value in [0, 65536).
 * @returns The alignment in bytes, a power of two in [8, 2048].
 */
export function talcAlignBytes(u16: number): number {
  const trailingZeros = u16 === 0 ? 16 : 31 - Math.clz32(u16 & -u16);
  return 8 << (trailingZeros >>> 1);
}

/**
 * Talc's `generate_size`: a cap uniform in [16, max), then a size uniform in [4, cap).
 *
 * @param rng The generator to draw from.
 * @param maxSizeBytes The largest cap (exclusive), above 16.
 * @returns The size in bytes.
 */
export function talcSizeBytes(rng: Sfc32, maxSizeBytes: number): number {
  const capBytes = rng.range(16, maxSizeBytes);
  return rng.range(4, capBytes);
}

/** Words per step in a {@linkcode RandomActionsTrace}. */
const TRACE_WORDS = 4;

/**
 * The random numbers of a random-actions run, drawn ahead of time so that the
 * timed loop does no PRNG work and every allocator sees the same requests.
 * Step `i` holds four u32 words: `action | alignBytes << 3`, the size for an
 * allocation, the size for a reallocation, and a random u32 that picks the
 * live block to free or resize (scaled to the live count at run time).
 */
export interface RandomActionsTrace {
  /** The `max` of the size rule. */
  readonly maxSizeBytes: number;
  /** Number of steps before the trace wraps around (a power of two). */
  readonly steps: number;
  /** The steps, {@linkcode TRACE_WORDS} words each. */
  readonly words: Uint32Array;
}

/**
 * Draws a random-actions trace. Every step draws all its numbers whatever its
 * action, so the sequence never depends on the allocator under test.
 *
 * @param maxSizeBytes The `max` of the size rule; reallocations draw from [1, 3 × max).
 * @param seed PRNG seed.
 * @param stepsLog2 log2 of the trace length; it wraps around after that many steps.
 * @returns The trace.
 */
export function makeRandomActionsTrace(
  maxSizeBytes: number,
  seed: number,
  stepsLog2 = 16,
): RandomActionsTrace {
  const steps = 1 << stepsLog2;
  const words = new Uint32Array(steps * TRACE_WORDS);
  const rng = new Sfc32(seed);
  for (let i = 0; i < steps; i++) {
    const action = rng.range(0, 7);
    const alignBytes = talcAlignBytes(rng.nextU32() & 0xffff);
    const t = i * TRACE_WORDS;
    words[t] = action | (alignBytes << 3);
    words[t + 1] = talcSizeBytes(rng, maxSizeBytes);
    words[t + 2] = rng.range(1, 3 * maxSizeBytes);
    words[t + 3] = rng.nextU32();
  }
  return { maxSizeBytes, steps, words };
}

/**
 * Talc's random-actions workload on one allocator, with persistent state so a
 * bench can run it in slices. Each step takes the trace's action 0..6:
 * 6 reallocates a random live block; 0–2, or any action while fewer than
 * `liveTarget` blocks are live, allocates; 3–5 otherwise free a random live
 * block (swap-remove from the live list).
 *
 * Above the target, allocation and free are equally likely, so the live count
 * wanders upward like a random walk (Talc's own runs drift the same way).
 * {@linkcode RandomActions.trim} brings it back to the target between slices.
 */
export class RandomActions {
  /** The allocator under test. */
  readonly adapter: AllocatorAdapter;
  /** The live count the workload keeps at least. */
  readonly liveTarget: number;
  /** Number of live blocks. */
  live = 0;
  /** Steps run so far (all of them: allocations, frees and reallocations). */
  stepsRun = 0;
  #trace: RandomActionsTrace;
  #cursor = 0;
  #ptrs: Uint32Array;
  #sizes: Uint32Array;

  /**
   * @param adapter The allocator under test.
   * @param trace The random numbers to replay (share one trace between allocators).
   * @param liveTarget The live count to keep at least.
   */
  constructor(adapter: AllocatorAdapter, trace: RandomActionsTrace, liveTarget: number) {
    this.adapter = adapter;
    this.#trace = trace;
    this.liveTarget = liveTarget;
    this.#ptrs = new Uint32Array(liveTarget * 2 + 1024);
    this.#sizes = new Uint32Array(liveTarget * 2 + 1024);
  }

  /** Runs the workload until `liveTarget` blocks are live. */
  fill(): void {
    for (let guard = 0; this.live < this.liveTarget; guard++) {
      if (guard > this.liveTarget * 8) throw new Error("Cannot fill: the live count does not grow");
      this.run(this.liveTarget - this.live);
    }
  }

  /**
   * Runs `steps` steps of the workload.
   *
   * @param steps Number of steps.
   * @throws {Error} When the allocator fails a request (its pool is too small).
   */
  run(steps: number): void {
    const adapter = this.adapter;
    const words = this.#trace.words;
    const mask = this.#trace.steps - 1;
    const liveTarget = this.liveTarget;
    let cursor = this.#cursor;
    let live = this.live;
    let ptrs = this.#ptrs;
    let sizes = this.#sizes;
    for (let i = 0; i < steps; i++) {
      const t = cursor * TRACE_WORDS;
      cursor = (cursor + 1) & mask;
      const head = words[t];
      const action = head & 7;
      if (action === 6) {
        if (live === 0) continue;
        const k = indexFrom(words[t + 3], live);
        const sizeBytes = words[t + 2];
        const ptr = adapter.realloc(ptrs[k], sizes[k], sizeBytes);
        if (ptr === 0) this.#fail("reallocate", sizeBytes, live);
        ptrs[k] = ptr;
        sizes[k] = sizeBytes;
      } else if (action < 3 || live < liveTarget) {
        const sizeBytes = words[t + 1];
        const ptr = adapter.alloc(sizeBytes, head >>> 3);
        if (ptr === 0) this.#fail("allocate", sizeBytes, live);
        if (live === ptrs.length) {
          ptrs = this.#ptrs = grown(ptrs);
          sizes = this.#sizes = grown(sizes);
        }
        ptrs[live] = ptr;
        sizes[live] = sizeBytes;
        live++;
      } else {
        const k = indexFrom(words[t + 3], live);
        adapter.free(ptrs[k], sizes[k]);
        live--;
        ptrs[k] = ptrs[live];
        sizes[k] = sizes[live];
      }
    }
    this.#cursor = cursor;
    this.live = live;
    this.stepsRun += steps;
  }

  /** Frees random live blocks until exactly `liveTarget` are live (untimed upkeep between slices). */
  trim(): void {
    const words = this.#trace.words;
    const mask = this.#trace.steps - 1;
    while (this.live > this.liveTarget) {
      const t = this.#cursor * TRACE_WORDS;
      this.#cursor = (this.#cursor + 1) & mask;
      const k = indexFrom(words[t + 3], this.live);
      this.adapter.free(this.#ptrs[k], this.#sizes[k]);
      this.live--;
      this.#ptrs[k] = this.#ptrs[this.live];
      this.#sizes[k] = this.#sizes[this.live];
    }
  }

  /** @returns The sum of the requested sizes of the live blocks, in bytes. */
  liveRequestedBytes(): number {
    let total = 0;
    for (let k = 0; k < this.live; k++) total += this.#sizes[k];
    return total;
  }

  #fail(what: string, sizeBytes: number, live: number): never {
    throw new Error(
      `Cannot ${what} ${sizeBytes} bytes in the random-actions workload with ${live} live blocks: the allocator is out of memory`,
    );
  }
}

function grown(array: Uint32Array): Uint32Array {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** Largest request size (exclusive cap) of the heap-efficiency allocations. */
export const EFFICIENCY_MAX_SIZE_BYTES = 10_000;
/** Reallocations draw a size uniform in [1, this). */
export const EFFICIENCY_MAX_REALLOC_BYTES = 10 * EFFICIENCY_MAX_SIZE_BYTES;
/** Bound on the steps of one efficiency trial (a fixed heap fails long before). */
const EFFICIENCY_STEP_LIMIT = 100_000_000;

/** Outcome of one {@linkcode heapEfficiencyTrial}. */
export interface EfficiencyTrial {
  /** Sum of the requested sizes of the blocks live at the first failure, in bytes. */
  liveRequestedBytes: number;
  /** Number of blocks live at the first failure. */
  liveBlocks: number;
  /** Steps run, the failing one included. */
  steps: number;
  /** Which request failed first. */
  failedAction: "alloc" | "realloc";
}

/**
 * Talc's heap-efficiency procedure: random actions until the first request
 * fails. Each step draws 0..9: 0–4 allocate (size rule with max 10000, Talc's
 * alignment rule), 5 frees a random live block, 6–9 reallocate a random live
 * block to a size uniform in [1, 100000). Free and realloc do nothing while
 * nothing is live. The caller frees nothing: it drops the allocator afterwards.
 *
 * @param adapter The allocator, freshly created with a fixed size.
 * @param seed PRNG seed.
 * @returns What was live when the first request failed.
 */
export function heapEfficiencyTrial(adapter: AllocatorAdapter, seed: number): EfficiencyTrial {
  const rng = new Sfc32(seed);
  const ptrs: number[] = [];
  const sizes: number[] = [];
  let liveBytes = 0;
  const stop = (step: number, failedAction: "alloc" | "realloc"): EfficiencyTrial => ({
    liveRequestedBytes: liveBytes,
    liveBlocks: ptrs.length,
    steps: step,
    failedAction,
  });
  for (let step = 1; step <= EFFICIENCY_STEP_LIMIT; step++) {
    const action = rng.range(0, 10);
    if (action <= 4) {
      const sizeBytes = talcSizeBytes(rng, EFFICIENCY_MAX_SIZE_BYTES);
      const alignBytes = talcAlignBytes(rng.nextU32() & 0xffff);
      const ptr = adapter.alloc(sizeBytes, alignBytes);
      if (ptr === 0) return stop(step, "alloc");
      ptrs.push(ptr);
      sizes.push(sizeBytes);
      liveBytes += sizeBytes;
    } else if (ptrs.length === 0) {
      continue;
    } else if (action === 5) {
      const k = rng.range(0, ptrs.length);
      adapter.free(ptrs[k], sizes[k]);
      liveBytes -= sizes[k];
      swapRemove(ptrs, k);
      swapRemove(sizes, k);
    } else {
      const k = rng.range(0, ptrs.length);
      const sizeBytes = rng.range(1, EFFICIENCY_MAX_REALLOC_BYTES);
      const ptr = adapter.realloc(ptrs[k], sizes[k], sizeBytes);
      if (ptr === 0) return stop(step, "realloc");
      ptrs[k] = ptr;
      liveBytes += sizeBytes - sizes[k];
      sizes[k] = sizeBytes;
    }
  }
  throw new Error(
    `Cannot finish the efficiency trial: no request failed in ${EFFICIENCY_STEP_LIMIT} steps`,
  );
}

function swapRemove(array: number[], k: number): void {
  const last = array.pop() as number;
  if (k < array.length) array[k] = last;
}
