import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Sfc32 } from "../_support/prng.ts";
import { Heap, HeapCorruptionError, HeapFormatError, lockWord, unlockWord } from "../../mod.ts";

const MiB = 1 << 20;

/** Live blocks with distinct contents: pointer → bytes. */
function fill(heap: Heap, count: number, seed: number): Map<number, Uint8Array> {
  const blocks = new Map<number, Uint8Array>();
  const rng = new Sfc32(seed);
  const next = (): number => rng.nextU32();
  for (let i = 0; i < count; i++) {
    const size = next() % 7 === 0 ? 1100 + (next() % 20_000) : 1 + (next() % 1024);
    const p = heap.alloc(size);
    const bytes = new Uint8Array(size);
    for (let j = 0; j < size; j++) bytes[j] = next() & 0xff;
    heap.u8.set(bytes, p);
    blocks.set(p, bytes);
  }
  // Free every third block so the snapshot holds free chunks and partly used pages.
  let i = 0;
  for (const p of [...blocks.keys()]) {
    if (i++ % 3 === 0) {
      heap.free(p);
      blocks.delete(p);
    }
  }
  return blocks;
}

function assertBlocks(heap: Heap, blocks: Map<number, Uint8Array>): void {
  const u8 = heap.u8;
  for (const [p, bytes] of blocks) {
    assert.deepEqual(u8.subarray(p, p + bytes.length), bytes, `block ${p}`);
  }
}

describe("snapshot and restore", () => {
  it("restores every block and root byte for byte, with pages free to adopt", () => {
    const heap = Heap.create({ initialBytes: 4 * MiB, maxBytes: 32 * MiB });
    const other = Heap.attach(heap.buffer);
    const blocks = fill(heap, 2000, 1);
    for (const [p, b] of fill(other, 2000, 2)) blocks.set(p, b);
    const first = [...blocks.keys()][0];
    heap.setRoot("first", first);
    const snap = heap.snapshot();
    const copy = Heap.restore(snap);
    assert.notEqual(copy.buffer, heap.buffer);
    assert.ok(copy.buffer.growable);
    assert.equal(copy.byteLength, heap.byteLength);
    assert.equal(copy.stats().maxBytes, 32 * MiB);
    assert.equal(copy.workerId, 1);
    assert.equal(copy.getRoot("first"), first);
    assertBlocks(copy, blocks);
    const s = copy.stats();
    assert.equal(s.slab.areas, 0); // no area of the old process is left
    assert.equal(s.liveAllocations, blocks.size);
    copy.check();
    // Every block can be freed by the new handles, and allocation goes on.
    const w2 = Heap.attach(copy.buffer);
    assert.equal(w2.workerId, 2);
    let i = 0;
    for (const p of blocks.keys()) (i++ % 2 === 0 ? copy : w2).free(p);
    const more = fill(w2, 1000, 3);
    assertBlocks(w2, more);
    copy.check();
    // The original is untouched by all this.
    assertBlocks(heap, blocks);
    heap.check();
  });

  it("trims the free tail and restore makes it again", () => {
    const heap = Heap.create({ initialBytes: 8 * MiB });
    const p = heap.alloc(100_000);
    heap.u8.fill(7, p, p + 100_000);
    const snap = heap.snapshot();
    assert.ok(snap.length < p + 100_000 + 64, `snapshot of ${snap.length} bytes`);
    const copy = Heap.restore(snap);
    assert.equal(copy.byteLength, 8 * MiB);
    assert.equal(copy.stats().freeBytes, heap.stats().freeBytes);
    assert.equal(copy.stats().largestFreeBytes, heap.stats().largestFreeBytes);
    assert.ok(copy.u8.subarray(p, p + 100_000).every((b) => b === 7));
    copy.check();
    assert.ok(copy.alloc(7 * MiB) > p);
    copy.check();
  });

  it("copies a heap whose last chunk is used in full", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 * 1024 });
    const largest = heap.stats().largestFreeBytes;
    const p = heap.alloc(largest);
    assert.equal(heap.stats().freeBytes, 0);
    const snap = heap.snapshot();
    assert.equal(snap.length, 64 * 1024);
    const copy = Heap.restore(snap);
    copy.check();
    copy.free(p);
    copy.check();
  });

  it("a snapshot taken while another handle held (and released) a lock restores a free lock", () => {
    const heap = Heap.create();
    const other = Heap.attach(heap.buffer);
    const word = heap.alloc(8);
    heap.i32[word >>> 2] = 0;
    lockWord(other.i32, word >>> 2, other.workerId, 1000);
    unlockWord(other.i32, word >>> 2, other.workerId);
    heap.setRoot("lock", word);
    const snap = heap.snapshot();
    // The copy is taken under the heap lock, so the lock word in it is held by this handle.
    assert.equal(new DataView(snap.buffer).getInt32(5 * 4, true) >>> 1, heap.workerId);
    const copy = Heap.restore(snap);
    const w = copy.getRoot("lock");
    lockWord(copy.i32, w >>> 2, copy.workerId, 1000);
    unlockWord(copy.i32, w >>> 2, copy.workerId);
    assert.equal(copy.i32[5], 0); // the heap lock
    copy.check();
  });

  it("rejects a snapshot whose chunks are damaged with HeapCorruptionError", () => {
    const heap = Heap.create();
    const p = heap.alloc(5000);
    heap.alloc(5000);
    const snap = heap.snapshot();
    new DataView(snap.buffer).setUint32(p - 8, 4000 | 1, true); // the first block's size
    assert.throws(() => Heap.restore(snap), HeapCorruptionError);
  });

  it("takes maxBytes and lockTimeoutMs from options", () => {
    const heap = Heap.create({ maxBytes: 4 * MiB, lockTimeoutMs: 500 });
    const copy = Heap.restore(heap.snapshot(), { maxBytes: 64 * MiB, lockTimeoutMs: 250 });
    assert.equal(copy.stats().maxBytes, 64 * MiB);
    assert.equal(copy.buffer.maxByteLength, 64 * MiB);
    assert.equal(copy.lockTimeoutMs, 250);
    assert.equal(Heap.restore(heap.snapshot()).u32[13], 500);
    assert.throws(() => Heap.restore(heap.snapshot(), { maxBytes: 1024 }), RangeError);
    assert.throws(() => Heap.restore(heap.snapshot(), { lockTimeoutMs: -1 }), RangeError);
    assert.throws(() => Heap.restore(heap.snapshot(), { lockTimeoutMs: 0 }), RangeError); // unbounded
  });

  it("reads a snapshot at any byte offset (a Node Buffer from a file)", () => {
    const heap = Heap.create();
    const p = heap.alloc(3000);
    heap.u8.fill(9, p, p + 3000);
    const snap = heap.snapshot();
    const shifted = new Uint8Array(snap.length + 3);
    shifted.set(snap, 3);
    const copy = Heap.restore(shifted.subarray(3));
    assert.equal(copy.u8[p + 2999], 9);
    copy.check();
  });

  it("rejects truncated, foreign and newer-format snapshots with HeapFormatError", () => {
    const heap = Heap.create();
    fill(heap, 300, 4);
    const snap = heap.snapshot();
    const cases: [Uint8Array, RegExp][] = [
      [snap.subarray(0, 100), /snapshot length is too short to hold a heap \(truncated\?\): 100/],
      [snap.subarray(0, snap.length - 8), /does not end at the free tail .*\(truncated\?\)/],
      [snap.subarray(0, snap.length - 4096), /does not end at the free tail/],
      [snap.subarray(0, 8192), /does not end at the free tail/],
      [new Uint8Array(snap.length), /does not mark a typedheap heap \(foreign data\)/],
    ];
    const newer = snap.slice();
    new DataView(newer.buffer).setUint32(4, 99, true);
    cases.push([newer, /version is newer than this library's format version 3.*: 99/]);
    // Format 2 areas had no free-slot caches: an image of that format is refused, not read.
    const older = snap.slice();
    new DataView(older.buffer).setUint32(4, 2, true);
    cases.push([older, /version is not format version 3: 2/]);
    const longer = new Uint8Array(heap.byteLength + 8);
    longer.set(snap);
    cases.push([longer, /longer than the heap it holds/]);
    for (const [bytes, message] of cases) {
      assert.throws(
        () => Heap.restore(bytes),
        (e: unknown) => e instanceof HeapFormatError && message.test(e.message),
        String(message),
      );
    }
    assert.throws(() => Heap.restore([1, 2] as unknown as Uint8Array), TypeError);
    heap.check();
  });

  it("a snapshot of 50 MB used in a 128 MiB heap is at most 51 MB", () => {
    const heap = Heap.create({ initialBytes: 4 * MiB, maxBytes: 128 * MiB });
    // Slab and arena sizes alike, some freed again (holes stay in the snapshot),
    // until the heap's used bytes (slab pages and chunk overhead included) reach 50 MB.
    const live: number[] = [];
    for (let i = 0; heap.stats().usedBytes < 50_000_000; i++) {
      for (let j = 0; j < 50; j++) {
        live.push(heap.alloc(j % 4 === 0 ? 5_000 + (j % 50_000) : 200 + (j % 800)));
        if (j % 10 === 0) heap.free(live.splice((i * 7919 + j * 31) % live.length, 1)[0]);
      }
    }
    const stats = heap.stats();
    heap.free(heap.alloc(40 * MiB)); // grow, then give it back: a large free tail
    const snap = heap.snapshot();
    assert.ok(heap.byteLength >= 100 * MiB, `heap of ${heap.byteLength} bytes`);
    assert.ok(stats.usedBytes >= 50_000_000 && stats.usedBytes < 51_000_000);
    assert.ok(snap.length <= 51_000_000, `snapshot of ${snap.length} bytes`);
    Heap.restore(snap).check();
  });
});
