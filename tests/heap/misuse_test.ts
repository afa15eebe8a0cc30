import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Sfc32 } from "../_support/prng.ts";
import {
  DoubleFreeError,
  Heap,
  HeapCorruptionError,
  HeapFormatError,
  InvalidPointerError,
  lockWord,
  OutOfMemoryError,
  unlockWord,
} from "../../mod.ts";
import { assertUnchanged, snapshot } from "../_support/unchanged.ts";

/** Header word of the head of the slab area list (src/alloc/slab.ts H_SLAB_AREAS). */
const H_SLAB_AREAS = 64;

describe("The allocator's own blocks are not user pointers", () => {
  it("free, realloc and usableSize reject a slab area and a slab page", () => {
    const heap = Heap.create();
    const p = heap.alloc(24);
    const area = heap.u32[H_SLAB_AREAS];
    assert.ok(area !== 0);
    const page = p & -16384;
    for (const internal of [area, page]) {
      const before = snapshot(heap);
      assert.throws(() => heap.free(internal), InvalidPointerError);
      assert.throws(() => heap.realloc(internal, 64), InvalidPointerError);
      assert.throws(() => heap.realloc(internal, 5000), InvalidPointerError);
      assert.throws(() => heap.usableSize(internal), InvalidPointerError);
      assertUnchanged(heap, before, `internal block ${internal}`);
    }
    heap.free(p);
    heap.check();
  });
});

/** Header words (src/heap/layout.ts). */
const H_LOCK = 5;
const H_LAST_WORKER = 6;
const H_LOCK_TIMEOUT_MS = 13;
const H_KEY = 10;
/** Page header words (src/alloc/slab.ts). */
const P_CLASS = 2;
const P_CAPACITY = 4;
const P_USED = 5;
const P_REMOTE = 7;

function bytesUnchanged(heap: Heap, before: Uint8Array, what: string): void {
  const after = heap.u8.subarray(0, heap.byteLength);
  for (let i = 0; i < before.length; i++) {
    if (after[i] !== before[i]) assert.fail(`${what}: byte ${i} changed`);
  }
}

describe("attach validates the header words it trusts before writing", () => {
  it("rejects a worker-id word outside [0, 2^29 - 1] with HeapFormatError, unwritten", () => {
    for (const value of [2 ** 29, 2 ** 30, 2 ** 31, 0xffffffff]) {
      const heap = Heap.create({ initialBytes: 64 * 1024 });
      heap.u32[H_LAST_WORKER] = value;
      const before = snapshot(heap);
      assert.throws(() => Heap.attach(heap.buffer), HeapFormatError, `word ${value}`);
      bytesUnchanged(heap, before, `worker-id word ${value}`);
      assert.throws(() => heap.check(), HeapCorruptionError);
    }
  });

  it("exhausted worker ids give RangeError and write nothing", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    heap.u32[H_LAST_WORKER] = 2 ** 29 - 1;
    const before = snapshot(heap);
    assert.throws(() => Heap.attach(heap.buffer), RangeError);
    bytesUnchanged(heap, before, "exhausted ids");
  });

  it("check() finds a worker-id word below a handed-out id (duplicate ids)", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const other = Heap.attach(heap.buffer);
    other.alloc(24);
    heap.u32[H_LAST_WORKER] = 1; // the next attach would get id 2 again
    assert.throws(() => heap.check(), HeapCorruptionError);
  });

  it("a lock timeout of 0 is rejected by create, attach and check", () => {
    assert.throws(() => Heap.create({ lockTimeoutMs: 0 }), RangeError);
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    heap.u32[H_LOCK_TIMEOUT_MS] = 0;
    const before = snapshot(heap);
    assert.throws(() => Heap.attach(heap.buffer), HeapFormatError);
    bytesUnchanged(heap, before, "lock timeout 0");
    assert.throws(() => heap.check(), HeapCorruptionError);
  });

  it("a lock word naming a worker never handed out is rejected", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    heap.u32[H_LOCK] = 1000 << 1;
    const before = snapshot(heap);
    assert.throws(() => Heap.attach(heap.buffer), HeapFormatError);
    bytesUnchanged(heap, before, "lock owner");
  });
});

describe("Wrong types and damaged metadata give typed errors", () => {
  it("bigint and symbol pointers, class indexes and sizes", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const p = heap.alloc(24);
    const before = snapshot(heap);
    // deno-lint-ignore no-explicit-any
    const h = heap as any;
    for (const bad of [10n, Symbol("p")]) {
      assert.throws(() => h.free(bad), InvalidPointerError);
      assert.throws(() => h.realloc(bad, 8), InvalidPointerError);
      assert.throws(() => h.usableSize(bad), InvalidPointerError);
      assert.throws(() => h.allocClass(bad), (e: unknown) => ours(e, TypeError));
      assert.throws(() => h.alloc(bad), (e: unknown) => ours(e, TypeError));
      assert.throws(() => h.alloc(8, bad), (e: unknown) => ours(e, TypeError));
    }
    assertUnchanged(heap, before, "wrong types");
    heap.free(p);
  });

  it("a page whose used count is corrupt makes alloc report corruption, not overflow the stack", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const p = heap.alloc(24);
    const page = p & -16384;
    heap.u32[(page >>> 2) + P_USED] = 0xffffffff;
    assert.throws(() => {
      for (let i = 0; i < 1000; i++) heap.alloc(24);
    }, HeapCorruptionError);
  });

  it("stats() reports a corrupt class, capacity or remote list instead of NaN or a long walk", () => {
    const cases: [string, (heap: Heap, page: number, slot: number) => void][] = [
      ["class", (heap, page) => (heap.u32[(page >>> 2) + P_CLASS] = 1000)],
      ["capacity + cycle", (heap, page, slot) => {
        heap.u32[(page >>> 2) + P_CAPACITY] = 0xffffffff;
        heap.u32[(page >>> 2) + P_REMOTE] = slot;
        heap.u32[slot >>> 2] = slot ^ ((slot ^ heap.u32[H_KEY]) & 0x3fffffff); // an encoded self-link
      }],
      ["remote cycle", (heap, page, slot) => {
        heap.u32[(page >>> 2) + P_REMOTE] = slot;
        heap.u32[slot >>> 2] = slot ^ ((slot ^ heap.u32[H_KEY]) & 0x3fffffff); // an encoded self-link
      }],
    ];
    for (const [what, corrupt] of cases) {
      const heap = Heap.create({ initialBytes: 64 * 1024 });
      const slot = heap.alloc(24);
      heap.alloc(24);
      corrupt(heap, slot & -16384, slot);
      const started = performance.now();
      assert.throws(() => heap.stats(), HeapCorruptionError, what);
      assert.throws(() => heap.check(), HeapCorruptionError, what);
      assert.ok(performance.now() - started < 5000, `${what}: stats() walked too long`);
    }
  });
});

/** True when `e` is an instance of `type` with one of our messages ("Cannot ..."). */
function ours(e: unknown, type: new (...args: never[]) => Error): boolean {
  return e instanceof type && e.message.startsWith("Cannot ");
}

describe("Random damage to slab metadata", () => {
  it("every call ends in a result or a typed error: no raw TypeError, RangeError, NaN or hang", () => {
    const rng = new Sfc32(12345);
    const rand = (n: number): number => rng.below(n);
    const typed = (e: unknown): boolean =>
      e instanceof HeapCorruptionError || e instanceof InvalidPointerError ||
      e instanceof DoubleFreeError || e instanceof OutOfMemoryError;
    let cases = 0;
    let reported = 0;
    for (let trial = 0; trial < 400; trial++) {
      const heap = Heap.create({ initialBytes: 128 * 1024, maxBytes: 1 << 20 });
      const live: number[] = [];
      for (let i = 0; i < 40; i++) live.push(heap.alloc(8 + rand(200)));
      const page = live[rand(live.length)] & -16384;
      const area = heap.u32[H_SLAB_AREAS];
      const values = [0, 1, 0xffffffff, 0x7fffffff, page, page + 64, page + 16384, rand(2 ** 32)];
      const where = rand(3);
      const word = where === 0
        ? (page >>> 2) + rand(16) // a page header word
        : where === 1
        ? (area >>> 2) + rand(8 + 4 * 40) // an area word
        : H_SLAB_AREAS + rand(64); // the slab's header words
      heap.u32[word] = values[rand(values.length)];
      cases++;
      try {
        const s = heap.stats();
        for (const [k, v] of Object.entries(s)) {
          if (typeof v === "number") assert.ok(Number.isFinite(v), `stats().${k} is ${v}`);
        }
        for (let i = 0; i < 100; i++) live.push(heap.alloc(8 + rand(200)));
        for (const p of live) heap.free(p);
        heap.free(heap.alloc(5000));
        heap.check();
      } catch (e) {
        if (!typed(e)) throw new Error(`trial ${trial}: word ${word}: ${e}`);
        reported++;
      }
    }
    assert.equal(cases, 400);
    assert.ok(reported > 0);
  });
});

describe("A moving realloc whose second lock times out", () => {
  it("returns the new block and frees the old one later: nothing leaks", () => {
    const heap = Heap.create({ initialBytes: 256 * 1024, lockTimeoutMs: 30 });
    const other = Heap.attach(heap.buffer);
    const a = heap.alloc(2000);
    const neighbour = heap.alloc(2000); // a used neighbour: growing `a` must move it
    heap.u8.fill(0x5a, a, a + 2000);
    const base = heap.stats();
    // The copy between the two locks is the only place another worker can
    // take the lock: do it there (a test-only patch of this handle's byte view).
    const view = heap.u8;
    view.copyWithin = function (this: Uint8Array, t: number, s: number, e?: number): Uint8Array {
      Uint8Array.prototype.copyWithin.call(this, t, s, e);
      lockWord(other.i32, 5, other.workerId, 1000);
      return this;
    };
    const moved = heap.realloc(a, 20_000);
    // deno-lint-ignore no-explicit-any
    delete (view as any).copyWithin;
    assert.notEqual(moved, a);
    assert.ok(heap.u8.subarray(moved, moved + 2000).every((b) => b === 0x5a));
    assert.notEqual(heap.u32[9], 0, "the old block waits on the deferred-free list");
    unlockWord(other.i32, 5, other.workerId);
    // The old block is no longer a user block (it waits for its free, which
    // the next stats(), check(), realloc or growth performs).
    assert.throws(() => heap.free(a), InvalidPointerError);
    assert.equal(heap.regions().blockChunks, 2); // the map frees the old block first
    const s = heap.stats();
    assert.equal(s.liveAllocations, base.liveAllocations);
    heap.free(moved);
    heap.free(neighbour);
    heap.check();
    assert.equal(heap.stats().usedBytes, 0);
    assert.equal(heap.stats().liveAllocations, 0);
  });
});
