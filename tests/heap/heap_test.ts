import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DoubleFreeError,
  Heap,
  HeapCorruptionError,
  HeapFormatError,
  InvalidPointerError,
  OutOfMemoryError,
} from "../../mod.ts";
import { assertUnchanged, snapshot } from "../_support/unchanged.ts";

const KiB = 1024;
/** Sizes above the slab limit (1 KiB) go to the arena; the arena tests use these. */
const A = 2000;

describe("Heap.create", () => {
  it("uses documented defaults", () => {
    const heap = Heap.create();
    assert.equal(heap.byteLength, 1 << 20);
    assert.equal(heap.stats().maxBytes, 1 << 30);
    assert.ok(heap.buffer instanceof SharedArrayBuffer);
    assert.ok(heap.buffer.growable);
    heap.check();
  });

  it("starts with one free chunk covering everything but the fixed overhead", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB });
    const s = heap.stats();
    assert.equal(s.heapBytes, 64 * KiB);
    assert.equal(s.usedBytes, 0);
    assert.equal(s.freeChunks, 1);
    assert.equal(s.usedBytes + s.freeBytes + s.overheadBytes, s.heapBytes);
    assert.equal(s.liveAllocations, 0);
    assert.equal(s.totalAllocations, 0);
  });

  it("rejects bad sizes", () => {
    assert.throws(() => Heap.create({ initialBytes: 100 }), RangeError);
    assert.throws(() => Heap.create({ initialBytes: -1 }), RangeError);
    assert.throws(() => Heap.create({ initialBytes: 1.5 * KiB * 64 + 0.5 }), RangeError);
    assert.throws(() => Heap.create({ initialBytes: 64 * KiB, maxBytes: 32 * KiB }), RangeError);
    assert.throws(() => Heap.create({ maxBytes: 2 ** 33 }), RangeError);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => Heap.create({ initialBytes: "big" as any }), TypeError);
    assert.throws(() => Heap.create({ lockTimeoutMs: -5 }), RangeError);
  });

  it("exposes length-tracking views", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 1 << 20 });
    assert.equal(heap.u8.length, 64 * KiB);
    heap.alloc(200 * KiB);
    assert.ok(heap.byteLength > 64 * KiB);
    assert.equal(heap.u8.length, heap.byteLength);
    assert.equal(heap.i32.length, heap.byteLength / 4);
    assert.equal(heap.u32.length, heap.byteLength / 4);
    assert.equal(heap.f64.length, heap.byteLength / 8);
    assert.equal(heap.dv.byteLength, heap.byteLength);
  });
});

describe("Heap.attach", () => {
  it("opens the same heap with a new worker id", () => {
    const heap = Heap.create();
    const p = heap.alloc(100);
    heap.u8[p] = 7;
    const other = Heap.attach(heap.buffer);
    assert.notEqual(other.workerId, heap.workerId);
    assert.equal(other.u8[p], 7);
    assert.equal(other.usableSize(p), heap.usableSize(p));
    other.free(p);
    assert.equal(heap.stats().liveAllocations, 0);
    heap.check();
  });

  it("sees growth made through another handle", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 4 << 20 });
    const other = Heap.attach(heap.buffer);
    const p = other.alloc(1 << 20);
    assert.equal(heap.byteLength, other.byteLength);
    heap.u8[p + (1 << 20) - 1] = 9;
    assert.equal(other.u8[p + (1 << 20) - 1], 9);
    heap.free(p);
    other.check();
  });

  it("rejects what is not a heap and writes nothing", () => {
    // deno-lint-ignore no-explicit-any
    const attachAny = (b: unknown): Heap => Heap.attach(b as any);
    assert.throws(() => attachAny(new ArrayBuffer(8192)), HeapFormatError);
    assert.throws(() => attachAny(null), HeapFormatError);
    assert.throws(() => attachAny(new SharedArrayBuffer(8192)), HeapFormatError);
    const small = new SharedArrayBuffer(64, { maxByteLength: 8192 });
    assert.throws(() => attachAny(small), HeapFormatError);
    const zeros = new SharedArrayBuffer(16384, { maxByteLength: 16384 });
    assert.throws(() => attachAny(zeros), (e: unknown) => {
      assert.ok(e instanceof HeapFormatError);
      assert.equal(e.field, "magic");
      assert.match(e.message, /^Cannot attach heap: magic/);
      return true;
    });
    assert.ok(new Uint8Array(zeros).every((b) => b === 0), "buffer was written");
  });

  it("rejects another version or inconsistent sizes without writing", () => {
    for (
      const [word, value, field] of [[1, 99, "version"], [3, 1 << 30, "heapBytes"], [
        4,
        5,
        "maxBytes",
      ]] as const
    ) {
      const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 128 * KiB });
      heap.u32[word] = value;
      const before = heap.u8.slice();
      assert.throws(() => Heap.attach(heap.buffer), (e: unknown) => {
        assert.ok(e instanceof HeapFormatError);
        assert.equal(e.field, field);
        return true;
      });
      assert.deepEqual(heap.u8.slice(), before);
    }
  });
});

describe("alloc", () => {
  it("returns distinct 8-aligned pointers that do not overlap", () => {
    const heap = Heap.create();
    const blocks: [number, number][] = [];
    for (let i = 0; i < 500; i++) {
      const size = (i * 97) % 700;
      const p = heap.alloc(size);
      assert.equal(p % 8, 0);
      assert.ok(heap.usableSize(p) >= size);
      blocks.push([p, p + Math.max(size, 1)]);
    }
    blocks.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < blocks.length; i++) assert.ok(blocks[i - 1][1] <= blocks[i][0]);
    assert.equal(heap.stats().liveAllocations, 500);
    heap.check();
  });

  it("alloc(0) gives a valid unique pointer", () => {
    const heap = Heap.create();
    const a = heap.alloc(0);
    const b = heap.alloc(0);
    assert.notEqual(a, 0);
    assert.notEqual(a, b);
    assert.ok(heap.usableSize(a) >= 0);
    heap.free(a);
    heap.free(b);
    heap.check();
  });

  it("honours every power-of-two alignment up to 64 KiB", () => {
    const heap = Heap.create({ initialBytes: 1 << 20, maxBytes: 64 << 20 });
    const ptrs: number[] = [];
    for (let log = 0; log <= 16; log++) {
      for (const size of [0, 1, 24, 100, 5000]) {
        const p = heap.alloc(size, 1 << log);
        assert.equal(p % (1 << log), 0, `align ${1 << log}`);
        ptrs.push(p);
      }
    }
    heap.check();
    for (const p of ptrs) heap.free(p);
    heap.check();
    heap.detach(); // hands the now empty slab pages back to the arena
    heap.check();
    assert.equal(heap.stats().usedBytes, 0);
  });

  it("rejects bad sizes and alignments without changing the heap", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 64 * KiB });
    heap.alloc(10);
    const before = snapshot(heap);
    for (const size of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 32, 2 ** 40]) {
      assert.throws(() => heap.alloc(size), RangeError, `size ${size}`);
      assert.throws(() => heap.tryAlloc(size), RangeError, `size ${size}`);
    }
    for (const size of ["1", null, undefined, {}, 1n]) {
      // deno-lint-ignore no-explicit-any
      assert.throws(() => heap.alloc(size as any), TypeError, `size ${String(size)}`);
    }
    for (const align of [0, 3, 6, 12, 1.5, -8, NaN, 1 << 17, 2 ** 31]) {
      assert.throws(() => heap.alloc(8, align), RangeError, `align ${align}`);
    }
    // deno-lint-ignore no-explicit-any
    assert.throws(() => heap.alloc(8, "8" as any), TypeError);
    assert.throws(
      () => heap.alloc(8, 3),
      /^RangeError: Cannot allocate: alignment must be a power of two/,
    );
    assertUnchanged(heap, before, "bad size");
  });

  it("treats alignments below 8 as 8", () => {
    const heap = Heap.create();
    for (const align of [1, 2, 4, 8]) assert.equal(heap.alloc(5, align) % 8, 0);
  });
});

describe("out of memory", () => {
  it("throws OutOfMemoryError on a fixed heap and leaves it unchanged", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 64 * KiB });
    const p = heap.alloc(1000);
    const before = snapshot(heap);
    assert.throws(() => heap.alloc(64 * KiB), (e: unknown) => {
      assert.ok(e instanceof OutOfMemoryError);
      assert.equal(e.sizeBytes, 64 * KiB);
      assert.match(e.message, /^Cannot allocate 65536 bytes/);
      return true;
    });
    assert.equal(heap.tryAlloc(64 * KiB), 0);
    assert.equal(heap.tryAlloc(2 ** 32 - 1), 0);
    assertUnchanged(heap, before, "failed alloc");
    heap.free(p);
  });

  it("grows the buffer and retries", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 16 << 20 });
    const p = heap.alloc(3 << 20);
    assert.ok(heap.byteLength >= 3 << 20);
    assert.ok(heap.byteLength <= 16 << 20);
    heap.u8[p + (3 << 20) - 1] = 1;
    heap.check();
  });

  it("does not grow at all when even the maximum size cannot fit the block", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 1 << 20 });
    const before = snapshot(heap);
    assert.throws(() => heap.alloc(2 << 20), OutOfMemoryError);
    assert.throws(() => heap.alloc(1 << 20), OutOfMemoryError);
    assertUnchanged(heap, before, "hopeless alloc");
  });

  it("fills a growing heap to its maximum, then fails cleanly", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 1 << 20 });
    const ptrs: number[] = [];
    for (;;) {
      const p = heap.tryAlloc(1000);
      if (p === 0) break;
      ptrs.push(p);
    }
    assert.equal(heap.byteLength, 1 << 20);
    assert.ok(ptrs.length > 900);
    heap.check();
    for (const p of ptrs) heap.free(p);
    heap.check();
    heap.detach();
    assert.equal(heap.stats().freeChunks, 1);
  });
});

describe("free", () => {
  it("coalesces with both neighbours", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB });
    const a = heap.alloc(A);
    const b = heap.alloc(A);
    const c = heap.alloc(A);
    const d = heap.alloc(A); // keeps c's right side away from the tail
    heap.free(a);
    heap.free(c);
    assert.equal(heap.stats().freeChunks, 3);
    heap.free(b); // merges a, b and c into one chunk
    assert.equal(heap.stats().freeChunks, 2);
    heap.check();
    heap.free(d);
    assert.equal(heap.stats().freeChunks, 1);
    heap.check();
  });

  it("reuses freed memory", () => {
    const heap = Heap.create();
    const a = heap.alloc(A);
    heap.alloc(A);
    heap.free(a);
    assert.equal(heap.alloc(A), a);
  });

  it("free(0) is a no-op", () => {
    const heap = Heap.create();
    const before = snapshot(heap);
    heap.free(0);
    assertUnchanged(heap, before, "free(0)");
  });

  it("rejects pointers that are not live blocks and changes nothing", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 64 * KiB });
    const p = heap.alloc(A);
    const q = heap.alloc(A);
    heap.u8.fill(0xab, p, p + A);
    const before = snapshot(heap);
    const bad: unknown[] = [
      p + 8, // interior
      p + 4, // misaligned
      p + 1,
      q - 8,
      -8,
      8,
      4096,
      64 * KiB,
      2 ** 40,
      NaN,
      Infinity,
      1.5,
      "16",
      null,
      undefined,
      {},
    ];
    for (const ptr of bad) {
      // deno-lint-ignore no-explicit-any
      const v = ptr as any;
      assert.throws(() => heap.free(v), InvalidPointerError, `free(${String(ptr)})`);
      assert.throws(() => heap.usableSize(v), InvalidPointerError, `usableSize(${String(ptr)})`);
      if (v !== 0) {
        assert.throws(() => heap.realloc(v, 10), InvalidPointerError, `realloc(${String(ptr)})`);
      }
    }
    assertUnchanged(heap, before, "bad free");
    assert.throws(
      () => heap.free(p + 8),
      /^InvalidPointerError: Cannot free pointer: \d+ is not the start of a live block$/,
    );
  });

  it("reports a double free and changes nothing", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 64 * KiB });
    const a = heap.alloc(A);
    const b = heap.alloc(A);
    const c = heap.alloc(A);
    heap.alloc(A);
    heap.free(b);
    const before = snapshot(heap);
    assert.throws(() => heap.free(b), (e: unknown) => {
      assert.ok(e instanceof DoubleFreeError);
      assert.equal(e.ptr, b);
      assert.equal(e.message, `Cannot free pointer: ${b} was already freed`);
      return true;
    });
    assert.throws(() => heap.realloc(b, 10), DoubleFreeError);
    assert.throws(() => heap.usableSize(b), DoubleFreeError);
    assertUnchanged(heap, before, "double free");
    // After coalescing, the stale pointers are still recognised.
    heap.free(a);
    heap.free(c);
    for (const ptr of [a, b, c]) assert.throws(() => heap.free(ptr), DoubleFreeError);
    heap.check();
  });

  it("reports a stale pointer into memory handed out again at another start", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 64 * KiB });
    const a = heap.alloc(A);
    const b = heap.alloc(A);
    heap.alloc(A);
    heap.free(a);
    heap.free(b); // a and b merge
    const big = heap.alloc(2 * 2016 - 12); // reuses both, starting at a
    assert.equal(big, a);
    assert.throws(() => heap.free(b), DoubleFreeError);
    heap.free(big);
    heap.check();
  });
});

describe("realloc", () => {
  it("realloc(0, n) allocates", () => {
    const heap = Heap.create();
    const p = heap.realloc(0, 50);
    assert.ok(heap.usableSize(p) >= 50);
    assert.equal(heap.stats().liveAllocations, 1);
  });

  it("shrinks in place", () => {
    const heap = Heap.create();
    const p = heap.alloc(5000);
    heap.alloc(8);
    heap.u8.fill(5, p, p + 5000);
    const used = heap.stats().usedBytes;
    assert.equal(heap.realloc(p, 2000), p);
    assert.ok(heap.stats().usedBytes < used);
    assert.ok(heap.u8.subarray(p, p + 2000).every((x) => x === 5));
    heap.check();
  });

  it("grows in place into a free neighbour", () => {
    const heap = Heap.create();
    const p = heap.alloc(A);
    const q = heap.alloc(5000);
    heap.alloc(A);
    heap.free(q);
    heap.u8.fill(3, p, p + A);
    assert.equal(heap.realloc(p, 6000), p);
    assert.ok(heap.u8.subarray(p, p + A).every((x) => x === 3));
    heap.check();
  });

  it("grows into a free chunk before it, moving the data down", () => {
    const heap = Heap.create();
    const a = heap.alloc(5000);
    const p = heap.alloc(A);
    heap.alloc(A);
    heap.free(a);
    for (let i = 0; i < A; i++) heap.u8[p + i] = i & 255;
    const r = heap.realloc(p, 6000);
    assert.equal(r, a);
    for (let i = 0; i < A; i++) assert.equal(heap.u8[r + i], i & 255);
    assert.throws(() => heap.free(p), DoubleFreeError);
    heap.check();
  });

  it("moves when it must and keeps contents and alignment", () => {
    const heap = Heap.create();
    const p = heap.alloc(100, 4096);
    heap.alloc(8000); // too big for the gap before p: it lands right after p
    for (let i = 0; i < 100; i++) heap.u8[p + i] = 255 - i;
    const r = heap.realloc(p, 100_000);
    assert.notEqual(r, p);
    assert.equal(r % 4096, 0);
    for (let i = 0; i < 100; i++) assert.equal(heap.u8[r + i], 255 - i);
    assert.throws(() => heap.free(p), DoubleFreeError);
    assert.equal(heap.stats().liveAllocations, 2);
    heap.check();
  });

  it("keeps the old block when it cannot grow", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 64 * KiB });
    const p = heap.alloc(100);
    heap.alloc(8);
    heap.u8.fill(7, p, p + 100);
    const before = snapshot(heap);
    assert.throws(() => heap.realloc(p, 100 * KiB), OutOfMemoryError);
    assertUnchanged(heap, before, "failed realloc");
    assert.equal(heap.usableSize(p) >= 100, true);
  });

  it("rejects bad sizes without changing the heap", () => {
    const heap = Heap.create();
    const p = heap.alloc(10);
    const before = snapshot(heap);
    for (const size of [-1, 0.5, NaN, 2 ** 32]) {
      assert.throws(() => heap.realloc(p, size), RangeError);
    }
    // deno-lint-ignore no-explicit-any
    assert.throws(() => heap.realloc(p, "3" as any), TypeError);
    assertUnchanged(heap, before, "bad realloc size");
  });
});

describe("allocZeroed", () => {
  it("zeros reused memory", () => {
    const heap = Heap.create();
    const p = heap.alloc(256);
    heap.u8.fill(0xff, p, p + 256);
    heap.free(p);
    const q = heap.allocZeroed(256);
    assert.equal(q, p);
    assert.ok(heap.u8.subarray(q, q + heap.usableSize(q)).every((x) => x === 0));
  });
});

describe("stats", () => {
  it("counts allocations and tracks the high-water marks", () => {
    const heap = Heap.create();
    const a = heap.alloc(3000);
    const b = heap.alloc(5000);
    let s = heap.stats();
    assert.equal(s.liveAllocations, 2);
    assert.equal(s.totalAllocations, 2);
    assert.equal(s.highWaterBytes, s.usedBytes);
    const peak = s.usedBytes;
    heap.free(b);
    heap.resetTrip();
    s = heap.stats();
    assert.equal(s.highWaterBytes, peak);
    assert.equal(s.tripHighWaterBytes, s.usedBytes);
    heap.free(a);
    s = heap.stats();
    assert.equal(s.usedBytes, 0);
    assert.equal(s.liveAllocations, 0);
    assert.equal(s.totalAllocations, 2);
    assert.ok(s.largestFreeBytes > 1_000_000);
    assert.equal(s.usedBytes + s.freeBytes + s.overheadBytes, s.heapBytes);
  });

  it("reports the largest block that can be allocated without growing", () => {
    const heap = Heap.create({ initialBytes: 64 * KiB, maxBytes: 64 * KiB });
    const largest = heap.stats().largestFreeBytes;
    const p = heap.alloc(largest);
    assert.equal(heap.tryAlloc(0), 0);
    heap.free(p);
    assert.equal(heap.tryAlloc(largest + 1), 0);
  });
});

describe("check", () => {
  const corruptions: [string, (heap: Heap, p: number) => void, RegExp][] = [
    ["header size", (h, p) => {
      h.u32[(p - 8) >>> 2] += 8;
    }, /footer|size|tile/],
    ["footer", (h, p) => {
      h.u32[(p + h.usableSize(p)) >>> 2] = 1;
    }, /footer/],
    ["used tag", (h, p) => {
      h.u32[(p - 4) >>> 2] ^= 0x100;
    }, /tag/],
    ["flag bits", (h, p) => {
      h.u32[(p - 8) >>> 2] |= 2;
    }, /flag/],
    ["magic", (h) => {
      h.u32[0] = 0;
    }, /magic/],
    ["used counter", (h) => {
      h.u32[32] += 8; // H_USED_BYTES
    }, /used bytes counter/],
    ["live counter", (h) => {
      h.u32[34] += 1; // H_LIVE
    }, /live counter/],
  ];
  for (const [name, corrupt, pattern] of corruptions) {
    it(`names a broken ${name}`, () => {
      const heap = Heap.create();
      const p = heap.alloc(A);
      heap.alloc(A);
      heap.check();
      corrupt(heap, p);
      assert.throws(() => heap.check(), (e: unknown) => {
        assert.ok(e instanceof HeapCorruptionError);
        assert.match(e.message, /^Heap is corrupted: /);
        assert.match(e.message, pattern);
        return true;
      });
    });
  }

  it("names a broken free list", () => {
    const heap = Heap.create();
    const a = heap.alloc(A);
    heap.alloc(A);
    heap.free(a);
    heap.u32[(a - 8 + 12) >>> 2] = 8; // back link of a free chunk
    assert.throws(() => heap.check(), /back link/);
  });

  it("names adjacent free chunks", () => {
    const heap = Heap.create();
    const a = heap.alloc(A);
    const b = heap.alloc(A);
    heap.alloc(A);
    heap.free(a);
    // Forge b as free without merging (what a lost update would leave behind).
    const c = b - 8;
    const size = heap.u32[c >>> 2] & ~7;
    heap.u32[c >>> 2] = size;
    heap.u32[(c + size - 4) >>> 2] = size;
    assert.throws(() => heap.check(), HeapCorruptionError);
  });
});

describe("aligned allocation in a fragmented heap", () => {
  it("finds a free chunk whose start suits the alignment before reporting out of memory", () => {
    const heap = Heap.create({ initialBytes: 1 << 20, maxBytes: 1 << 20 });
    const holes: number[] = [];
    const walls: number[] = [];
    for (;;) {
      const hole = heap.tryAlloc(2000);
      const wall = heap.tryAlloc(1100);
      if (hole === 0 || wall === 0) break;
      holes.push(hole);
      walls.push(wall);
    }
    // Hundreds of 2016-byte free chunks; only those starting just before a
    // 4096 boundary can hold 1500 bytes aligned to 4096. Free those first, so
    // the bin lists every other hole before them.
    const suits = (p: number): boolean => Math.ceil(p / 4096) * 4096 + 1500 <= p + 2000 - 4;
    const fits = holes.filter(suits);
    assert.ok(fits.length > 0 && fits.length < holes.length - 16);
    for (const p of fits) heap.free(p);
    for (const p of holes) if (!suits(p)) heap.free(p);
    const p = heap.alloc(1500, 4096);
    assert.equal(p % 4096, 0);
    heap.check();
  });
});
