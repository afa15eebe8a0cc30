/**
 * Debug mode (`Heap.create({ debug: true })`): a redzone of canary bytes
 * after every block with the requested size in its last word (checked by
 * `free`, `realloc`, `usableSize` and `check()`), and freed blocks poisoned
 * and held in a bounded per-handle quarantine, so a write after free is
 * reported as `UseAfterFreeError` when the block leaves it.
 *
 * @module
 */

import { DoubleFreeError, HeapCorruptionError, UseAfterFreeError } from "../errors.ts";
import { freeSlotTag, P_BUMP, P_SLOT, PAGE_HEADER_BYTES, SLAB_MAX_ALIGN } from "../alloc/slab.ts";
import { arenaUsable, isUsedTag, tagAlignLog } from "../alloc/arena.ts";
import { checkAlign, checkSize } from "./_header.ts";
import {
  ARENA_START,
  CHUNK_OVERHEAD,
  EPILOGUE_BYTES,
  H_HEAP_BYTES,
  SIZE_MASK,
  USED_BIT,
} from "./layout.ts";
import { forEachPageLocked } from "../alloc/slab_check.ts";

/** Debug mode: the byte freed blocks are filled with. */
const POISON = 0xdd;
/** Four poison bytes as a word. */
const POISON_WORD = 0xdddddddd;
/** Debug mode: most blocks one handle holds in its quarantine. */
const QUARANTINE_BLOCKS = 256;
/** Debug mode: most bytes one handle holds in its quarantine. */
const QUARANTINE_BYTES = 1 << 20;
/** Debug mode: mixed into the requested size stored at the end of each block. */
const DEBUG_SIZE_KEY = 0x5a17e0d3;

import type { SlabAllocator } from "../alloc/slab_local.ts";

/** What debug mode calls back into the heap for. */
export interface DebugHost {
  /** `tryAlloc` without debug mode, validated: a heap-relative pointer, or 0. */
  allocRaw(sizeBytes: number, alignBytes: number): number;
  /** `free` without the quarantine (a user pointer). */
  freeRaw(ptr: number): void;
  /** `Heap.alloc` (in debug mode): a user pointer; throws when out of memory. */
  alloc(sizeBytes: number, alignBytes?: number): number;
}

/** One handle's debug mode: its quarantine, and the redzone checks (see the module doc). */
export class HeapDebug {
  /** The handle's slab allocator (its views, key and lock). */
  private readonly s: SlabAllocator;
  private readonly host: DebugHost;
  /** Blocks this handle freed and holds back from reuse, oldest first. */
  private quarantine: number[] = [];
  /** Usable bytes of each quarantined block. */
  private quarantined = new Map<number, number>();
  private quarantineBytes = 0;

  /**
   * Debug mode over the handle `s`.
   *
   * @param s The handle's slab allocator.
   * @param host The heap's allocation paths without debug mode.
   */
  constructor(s: SlabAllocator, host: DebugHost) {
    this.s = s;
    this.host = host;
  }

  /** Frees every quarantined block (checking its poison), for `detach()`. */
  drain(): void {
    while (this.quarantine.length > 0) this.evictOldest();
  }

  /** The canary byte of the redzone byte at `at` (keyed, so a copied redzone does not match). */
  canary(at: number): number {
    return Math.imul(at ^ this.s.key, 0x9e3779b1) >>> 24;
  }

  /** Usable bytes of the live block `ptr` (relative); throws the pointer errors of `free`. */
  liveUsable(operation: string, ptr: number): number {
    if (this.quarantined.has(ptr)) throw new DoubleFreeError(operation, ptr + this.s.base);
    return this.s.usableOf(operation, ptr);
  }

  /**
   * Checks the redzone of the live block `ptr` (relative) of `usableBytes`:
   * the requested size in its last word, canary bytes between. Returns the
   * requested size; throws `HeapCorruptionError` naming the block otherwise.
   */
  checkRedzone(ptr: number, usableBytes: number): number {
    // An arena chunk may have grown since the block was made (a later aligned
    // allocation gives a gap of 8 or 16 bytes to the used chunk before it, and
    // that can happen again), so the size word is the last word from the end
    // that decodes to a size leaving room for the canary bytes before it.
    const u32 = this.s.u32;
    for (let end = ptr + usableBytes - 4; end >= ptr + 4; end -= 4) {
      const size = (u32[end >>> 2] ^ this.s.key ^ DEBUG_SIZE_KEY) >>> 0;
      if (size + 4 > end - ptr) continue;
      const u8 = this.s.u8;
      for (let a = ptr + size; a < end; a++) {
        if (u8[a] !== this.canary(a)) {
          throw new HeapCorruptionError(
            `block ${ptr + this.s.base} of ${size} bytes was written past its end (byte ${
              a + this.s.base
            })`,
            a,
          );
        }
      }
      return size;
    }
    throw new HeapCorruptionError(
      `block ${ptr + this.s.base} was written past its end: its redzone size word changed`,
      ptr + usableBytes - 4,
    );
  }

  /** `tryAlloc` in debug mode: 8 bytes more, then the redzone. */
  tryAlloc(sizeBytes: number, alignBytes: number): number {
    checkSize("allocate", sizeBytes);
    checkAlign(alignBytes);
    if (sizeBytes > 0xffffffff - 8) return 0;
    const ptr = this.host.allocRaw(sizeBytes + 8, alignBytes);
    if (ptr === 0) return 0;
    if (ptr >= this.s.viewBytes) this.s.refreshViews();
    const base = this.s.slabPageOf(ptr);
    const usable = base !== 0 ? this.s.u32[(base >>> 2) + P_SLOT] : arenaUsable(this.s.u32, ptr);
    const end = ptr + usable - 4;
    const u8 = this.s.u8;
    for (let a = ptr + sizeBytes; a < end; a++) u8[a] = this.canary(a);
    this.s.u32[end >>> 2] = (sizeBytes ^ this.s.key ^ DEBUG_SIZE_KEY) >>> 0;
    return ptr + this.s.base;
  }

  /** `free` in debug mode: check the redzone, poison the block, quarantine it. */
  free(abs: number): void {
    if (abs === 0) return;
    const ptr = this.s.base !== 0 ? this.s.toRel(abs) : abs;
    const usable = this.liveUsable("free", ptr);
    this.checkRedzone(ptr, usable);
    this.s.u8.fill(POISON, ptr, ptr + usable);
    this.quarantine.push(ptr);
    this.quarantined.set(ptr, usable);
    this.quarantineBytes += usable;
    while (
      this.quarantine.length > QUARANTINE_BLOCKS || this.quarantineBytes > QUARANTINE_BYTES
    ) {
      this.evictOldest();
    }
  }

  /** The first byte of `[ptr, ptr + bytes)` that is not poison, or -1. */
  firstUnpoisoned(ptr: number, bytes: number): number {
    // Word by word (blocks start 8-aligned and usable sizes are multiples of 4).
    const u32 = this.s.u32;
    const end = ptr + bytes;
    for (let a = ptr; a < end; a += 4) {
      if (u32[a >>> 2] !== POISON_WORD) {
        const u8 = this.s.u8;
        for (let b = a; b < a + 4; b++) if (u8[b] !== POISON) return b;
      }
    }
    return -1;
  }

  /** Frees the oldest quarantined block; throws `UseAfterFreeError` if it was written meanwhile. */
  evictOldest(): void {
    const ptr = this.quarantine.shift() as number;
    const usable = this.quarantined.get(ptr) ?? 0;
    this.quarantined.delete(ptr);
    this.quarantineBytes -= usable;
    const bad = this.firstUnpoisoned(ptr, usable);
    this.host.freeRaw(ptr + this.s.base);
    if (bad >= 0) throw new UseAfterFreeError(ptr + this.s.base, bad + this.s.base);
  }

  /** `realloc` in debug mode: always moves (a fresh redzone), keeping the alignment. */
  realloc(abs: number, sizeBytes: number): number {
    if (abs === 0) return this.host.alloc(sizeBytes);
    const ptr = this.s.base !== 0 ? this.s.toRel(abs) : abs;
    checkSize("reallocate", sizeBytes);
    const usable = this.liveUsable("reallocate", ptr);
    const old = this.checkRedzone(ptr, usable);
    const align = this.s.slabPageOf(ptr) !== 0
      ? Math.min(SLAB_MAX_ALIGN, ptr & -ptr)
      : 1 << tagAlignLog(this.s.u32[(ptr - 4) >>> 2]);
    const moved = this.host.alloc(sizeBytes, Math.max(8, align));
    const to = moved - this.s.base;
    this.s.u8.copyWithin(to, ptr, ptr + Math.min(old, sizeBytes));
    this.free(abs);
    return moved;
  }

  /** `check()` in debug mode: the quarantine's poison and every live block's redzone. */
  checkLocked(): void {
    for (const [ptr, usable] of this.quarantined) {
      const bad = this.firstUnpoisoned(ptr, usable);
      if (bad >= 0) throw new UseAfterFreeError(ptr + this.s.base, bad + this.s.base);
    }
    const u32 = this.s.u32;
    const visit = (ptr: number, usable: number): void => {
      // Blocks in another handle's quarantine are all poison.
      if (this.quarantined.has(ptr) || this.firstUnpoisoned(ptr, usable) < 0) return;
      this.checkRedzone(ptr, usable);
    };
    const limit = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
    for (let c = ARENA_START; c < limit;) {
      const h = u32[c >>> 2];
      const size = (h & SIZE_MASK) >>> 0;
      if ((h & USED_BIT) !== 0 && isUsedTag(this.s.key, c, u32[(c + 4) >>> 2])) {
        visit(c + 8, size - CHUNK_OVERHEAD);
      }
      c += size; // checkLocked has seen every size tile the arena
    }
    forEachPageLocked(this.s, (page) => {
      const h = page >>> 2;
      const slot = u32[h + P_SLOT];
      for (let p = page + PAGE_HEADER_BYTES; p < u32[h + P_BUMP]; p += slot) {
        if (u32[(p + 4) >>> 2] !== freeSlotTag(this.s.key, p)) visit(p, slot);
      }
    });
  }
}
