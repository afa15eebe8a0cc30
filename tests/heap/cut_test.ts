import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Sfc32 } from "../_support/prng.ts";
import process from "node:process";
import { DoubleFreeError, Heap, HeapCorruptionError, InvalidPointerError } from "../../mod.ts";

/** Header words (src/heap/layout.ts, src/alloc/slab.ts). */
const H_LOCK = 5;
const H_OP = 7;
const H_SLAB_AREAS = 64;
/** Area word set while a slab slow path runs (src/alloc/slab.ts A_BUSY). */
const A_BUSY = 5;

function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/** Calls `fn` under `depth` extra frames, so it overflows the stack at some call inside it. */
function atDepth(depth: number, fn: () => void): void {
  if (depth > 0) return atDepth(depth - 1, fn);
  fn();
}

/** The deepest `atDepth` that still runs `fn` to the end (a bounded binary search). */
function maxDepth(fn: () => void): number {
  let lo = 0;
  let hi = 1 << 20;
  for (let n = 0; n < 40 && lo < hi; n++) {
    const mid = (lo + hi + 1) >>> 1;
    try {
      atDepth(mid, fn);
      lo = mid;
    } catch (e) {
      if (!isStackOverflow(e)) throw e;
      hi = mid - 1;
    }
  }
  return lo;
}

/** What an operation touched before it was cut: its block, new size, result once it returned. */
interface Pending {
  block?: Block;
  size?: number;
  result?: number;
}

interface Block {
  ptr: number;
  size: number;
  fill: number;
}

describe("An operation cut short by a stack overflow at any call", () => {
  it("never leaves a broken heap silently; recover() repairs or reports it", () => {
    let heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 8 << 20, lockTimeoutMs: 200 });
    let blocks: Block[] = [];
    const rng = new Sfc32(Number(process.env.CUT_SEED ?? 7));
    const rand = (n: number): number => rng.below(n);
    const write = (b: Block): void => {
      heap.u8.fill(b.fill, b.ptr, b.ptr + b.size);
    };
    const verify = (what: string): void => {
      for (const b of blocks) {
        const u8 = heap.u8;
        for (let i = b.ptr; i < b.ptr + b.size; i++) {
          if (u8[i] !== b.fill) assert.fail(`${what}: block ${b.ptr} byte ${i - b.ptr} changed`);
        }
      }
    };
    /** One random operation; `pending` learns what it touched before the cut. */
    const operations: ((pending: Pending) => void)[] = [
      (p) => { // small alloc
        const size = 8 + rand(300);
        p.size = size;
        const ptr = heap.alloc(size);
        const b = { ptr, size, fill: 1 + rand(250) };
        write(b);
        blocks.push(b);
      },
      (p) => { // arena alloc (may grow)
        const size = 1100 + rand(40_000);
        p.size = size;
        const ptr = heap.alloc(size, rand(4) === 0 ? 256 : 8);
        const b = { ptr, size, fill: 1 + rand(250) };
        write(b);
        blocks.push(b);
      },
      (p) => { // free
        if (blocks.length === 0) return;
        const b = blocks.splice(rand(blocks.length), 1)[0];
        p.block = b;
        heap.free(b.ptr);
        p.result = 0; // completed
      },
      (p) => { // realloc
        if (blocks.length === 0) return;
        const k = rand(blocks.length);
        const b = blocks[k];
        p.block = b;
        const size = rand(3) === 0 ? 8 + rand(200) : 500 + rand(30_000);
        p.size = size;
        const ptr = heap.realloc(b.ptr, size);
        p.result = ptr; // completed: a later cut is in this test's own code
        blocks.splice(k, 1);
        const nb = { ptr, size: Math.min(size, b.size), fill: b.fill };
        blocks.push(nb);
        if (size > b.size) heap.u8.fill(b.fill, ptr + b.size, ptr + size);
        nb.size = size;
      },
      () => {
        heap.stats();
      },
      () => {
        if (rand(8) === 0) heap.detach();
      },
    ];
    const counts = { completed: 0, cutClean: 0, repaired: 0, unrepairable: 0, rounds: 0 };
    // The frame sizes change as the engine optimises, so the depth is
    // steered: deeper after a completed operation, shallower after a cut. It
    // hovers where the overflow lands at a different call each round.
    let depth = maxDepth(() => {
      heap.free(heap.alloc(24));
      heap.free(heap.alloc(3000));
    });
    for (let round = 0; round < 4000; round++) {
      counts.rounds++;
      const op = operations[rand(operations.length)];
      const pending: Pending = {};
      const before = blocks.slice();
      let cut = false;
      try {
        atDepth(depth, () => op(pending));
        counts.completed++;
        depth += 1 + rand(8);
      } catch (e) {
        if (!isStackOverflow(e)) throw e;
        cut = true;
        depth = Math.max(0, depth - 1 - rand(8));
      }
      if (!cut) continue;
      if (pending.block !== undefined && pending.result !== undefined) {
        // The free or realloc completed; the cut came after, in this test's code.
        const b = pending.block;
        blocks = blocks.filter((x) => x !== b && x.ptr !== pending.result);
        if (pending.result !== 0) {
          blocks.push({
            ptr: pending.result,
            size: Math.min(b.size, pending.size ?? 0),
            fill: b.fill,
          });
        }
        pending.block = undefined;
      }
      // A cut realloc keeps (at least) the bytes both sizes share.
      if (pending.block !== undefined && pending.size !== undefined) {
        pending.block.size = Math.min(pending.block.size, pending.size);
      }
      // A cut free/realloc: the block may or may not have been freed.
      if (pending.block !== undefined && !blocks.includes(pending.block)) {
        blocks = before.filter((b) => b !== pending.block);
        try {
          heap.usableSize(pending.block.ptr);
          blocks.push(pending.block); // still live: it must still hold its bytes
        } catch (e) {
          if (e instanceof HeapCorruptionError) {
            // marked: decided after repair below
            blocks.push(pending.block);
          } else if (!(e instanceof InvalidPointerError || e instanceof DoubleFreeError)) throw e;
        }
      }
      const area = heap.u32[H_SLAB_AREAS];
      const marked = heap.u32[H_OP] !== 0 ||
        (area !== 0 && heap.u32[(area >>> 2) + A_BUSY] !== 0);
      if (!marked) {
        // Not marked: the heap must be whole (the lock may still name us: reused).
        heap.check();
        verify(`unmarked cut of operation ${operations.indexOf(op)} (${JSON.stringify(pending)})`);
        counts.cutClean++;
        continue;
      }
      if (heap.u32[H_OP] !== 0) {
        // The next operation reports it (this handle's: the lock may still name it).
        assert.throws(() => heap.stats(), HeapCorruptionError);
      }
      try {
        heap.recover(heap.workerId);
      } catch (e) {
        if (!(e instanceof HeapCorruptionError)) throw e;
        counts.unrepairable++;
        heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 8 << 20, lockTimeoutMs: 200 });
        blocks = [];
        continue;
      }
      assert.equal(heap.u32[H_OP], 0);
      assert.equal(heap.u32[H_LOCK], 0);
      heap.check();
      // A block whose free was cut short may have been freed by the repair.
      if (pending.block !== undefined) {
        try {
          heap.usableSize(pending.block.ptr);
        } catch (e) {
          if (!(e instanceof InvalidPointerError || e instanceof DoubleFreeError)) throw e;
          blocks = blocks.filter((b) => b !== pending.block);
        }
      }
      verify(`after repairing operation ${operations.indexOf(op)} (${JSON.stringify(pending)})`);
      counts.repaired++;
    }
    for (const b of blocks) heap.free(b.ptr);
    heap.check();
    console.log("cut test:", counts);
    assert.ok(counts.cutClean + counts.repaired + counts.unrepairable > 100, "few cuts happened");
  });
});
