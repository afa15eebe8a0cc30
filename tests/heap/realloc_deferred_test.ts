// A moving arena realloc whose second lock times out, in a heap at a
// baseOffset of a WebAssembly.Memory: the block it returns is a user pointer
// (it returned the heap-relative offset, BASE bytes too low).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError, lockWord, unlockWord } from "../../mod.ts";
import { Wasm } from "../_wasm_api.ts";

const PAGE = 65536;
const BASE = 2 * PAGE;
/** The heap lock's word (header word 5), as an index of a view from the memory's start. */
const LOCK_WORD = BASE / 4 + 5;

describe("A moving realloc whose second lock times out, at a baseOffset", () => {
  it("returns the new block's user pointer", () => {
    const memory = new Wasm.Memory({ initial: 8, maximum: 64, shared: true });
    const heap = Heap.create({ memory, baseOffset: BASE, lockTimeoutMs: 30 });
    const other = Heap.attach(memory, { baseOffset: BASE });
    const a = heap.alloc(2000);
    const neighbour = heap.alloc(2000); // a used neighbour: growing `a` must move it
    heap.u8.fill(0x5a, a, a + 2000);
    // The copy between the two locks is the only place another worker can
    // take the lock: do it there (a test-only patch, undone below).
    const copyWithin = Uint8Array.prototype.copyWithin;
    Uint8Array.prototype.copyWithin = function (
      this: Uint8Array,
      t: number,
      s: number,
      e?: number,
    ): Uint8Array {
      copyWithin.call(this, t, s, e);
      lockWord(other.i32, LOCK_WORD, other.workerId, 1000);
      return this;
    };
    let moved = 0;
    try {
      moved = heap.realloc(a, 20_000);
    } finally {
      Uint8Array.prototype.copyWithin = copyWithin;
    }
    unlockWord(other.i32, LOCK_WORD, other.workerId);
    assert.ok(moved >= BASE, `${moved} is a user pointer (at or above ${BASE})`);
    assert.ok(heap.u8.subarray(moved, moved + 2000).every((b) => b === 0x5a));
    assert.ok(heap.usableSize(moved) >= 20_000);
    assert.throws(() => heap.free(a), InvalidPointerError); // it waits for its free
    heap.free(moved);
    heap.free(neighbour);
    heap.check();
    assert.equal(heap.stats().liveAllocations, 0);
  });
});
