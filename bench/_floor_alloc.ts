/**
 * The "floor" allocator: the least a JS allocator over one typed array can
 * do, as a yardstick for typedheap (issue 11). Not exported, not safe, not
 * shared: segregated LIFO free lists of fixed size classes in 16 KiB pages
 * bump-allocated from one buffer, a page map (one byte per page) to find a
 * block's class on free, no checks, no lock, no coalescing, no growth.
 *
 * Classes: every 8 bytes up to 128, then 8 per power of two up to 1024 (the
 * same grid as typedheap's slab, so both waste the same), then powers of two
 * up to 16 KiB. A request aligned above 8 takes the smallest power-of-two
 * class that holds both its size and its alignment: power-of-two blocks in a
 * 16 KiB-aligned page are aligned to their size. Larger requests throw.
 *
 * @module
 */

import type { AllocatorAdapter } from "./_workloads.ts";

const PAGE_BYTES = 16384;
const PAGE_LOG2 = 14;
const MAX_BYTES = PAGE_BYTES;

function buildClasses(): number[] {
  const sizes: number[] = [];
  for (let s = 8; s <= 128; s += 8) sizes.push(s);
  for (let s = 144; s <= 256; s += 16) sizes.push(s);
  for (let s = 288; s <= 512; s += 32) sizes.push(s);
  for (let s = 576; s <= 1024; s += 64) sizes.push(s);
  for (let s = 2048; s <= MAX_BYTES; s *= 2) sizes.push(s);
  return sizes;
}

const CLASS_BYTES = new Uint32Array(buildClasses());
const CLASS_COUNT = CLASS_BYTES.length;
/** Class by `ceil(size / 8)` for 8-byte alignment. */
const CLASS_OF8 = new Uint8Array(MAX_BYTES / 8 + 1);
for (let g = 0, c = 0; g <= MAX_BYTES / 8; g++) {
  while (CLASS_BYTES[c] < g * 8) c++;
  CLASS_OF8[g] = c;
}
/** Class of each power of two (by log2), for aligned requests. */
const CLASS_OF_POW2 = new Uint8Array(PAGE_LOG2 + 1);
for (let log2 = 3; log2 <= PAGE_LOG2; log2++) {
  CLASS_OF_POW2[log2] = CLASS_BYTES.indexOf(1 << log2);
}

/** The floor allocator over one `Int32Array` (see the module doc). */
export class FloorAllocator {
  /** The memory, as words. */
  readonly i32: Int32Array;
  /** Free-list head per class (a byte offset, 0 when empty). */
  readonly #heads = new Int32Array(CLASS_COUNT);
  /** Bump pointer inside the current page of each class, and that page's end. */
  readonly #bump = new Int32Array(CLASS_COUNT);
  readonly #bumpEnd = new Int32Array(CLASS_COUNT);
  /** Class of each page (by page index). */
  readonly #pageClass: Uint8Array;
  /** Next never-used page. */
  #nextPage = 1; // page 0 is never handed out, so 0 stays null

  /** @param byteLength Size of the memory (a multiple of 16 KiB). */
  constructor(byteLength: number) {
    this.i32 = new Int32Array(new ArrayBuffer(byteLength));
    this.#pageClass = new Uint8Array(byteLength >>> PAGE_LOG2);
  }

  /** A block of at least `sizeBytes` aligned to `alignBytes`; throws when out of pages. */
  alloc(sizeBytes: number, alignBytes: number): number {
    let cls: number;
    if (alignBytes <= 8) {
      cls = CLASS_OF8[(sizeBytes + 7) >>> 3];
    } else {
      const need = sizeBytes > alignBytes ? sizeBytes : alignBytes;
      cls = CLASS_OF_POW2[32 - Math.clz32(need - 1)];
    }
    const head = this.#heads[cls];
    if (head !== 0) {
      this.#heads[cls] = this.i32[head >>> 2];
      return head;
    }
    let ptr = this.#bump[cls];
    if (ptr === 0 || ptr + CLASS_BYTES[cls] > this.#bumpEnd[cls]) {
      const page = this.#nextPage++;
      if (page >= this.#pageClass.length) throw new Error("Floor allocator: out of pages");
      this.#pageClass[page] = cls;
      ptr = page << PAGE_LOG2;
      this.#bumpEnd[cls] = ptr + PAGE_BYTES;
    }
    this.#bump[cls] = ptr + CLASS_BYTES[cls];
    return ptr;
  }

  /** Frees a block (trusted). */
  free(ptr: number): void {
    const cls = this.#pageClass[ptr >>> PAGE_LOG2];
    this.i32[ptr >>> 2] = this.#heads[cls];
    this.#heads[cls] = ptr;
  }

  /** Bytes a block at `ptr` can hold. */
  usableSize(ptr: number): number {
    return CLASS_BYTES[this.#pageClass[ptr >>> PAGE_LOG2]];
  }
}

/** The floor allocator behind the workloads' adapter; `realloc` is alloc + copy + free. */
export class FloorAdapter implements AllocatorAdapter {
  /** The allocator. */
  readonly floor: FloorAllocator;
  readonly #u8: Uint8Array;

  /** @param byteLength Size of the memory. */
  constructor(byteLength: number) {
    this.floor = new FloorAllocator(byteLength);
    this.#u8 = new Uint8Array(this.floor.i32.buffer);
  }

  /** Allocates. */
  alloc(sizeBytes: number, alignBytes: number): number {
    return this.floor.alloc(sizeBytes, alignBytes);
  }

  /** Frees. */
  free(ptr: number, _sizeBytes: number): void {
    this.floor.free(ptr);
  }

  /** Keeps the block when it still fits its class, else moves it. */
  realloc(ptr: number, oldSizeBytes: number, newSizeBytes: number): number {
    const usable = this.floor.usableSize(ptr);
    if (newSizeBytes <= usable && newSizeBytes > usable >>> 1) return ptr;
    const moved = this.floor.alloc(newSizeBytes, 8);
    const n = oldSizeBytes < newSizeBytes ? oldSizeBytes : newSizeBytes;
    this.#u8.copyWithin(moved, ptr, ptr + n);
    this.floor.free(ptr);
    return moved;
  }
}
