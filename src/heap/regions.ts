/**
 * The heap map: one walk over the heap from start to end that describes the
 * header, every arena chunk, every slab page and every worker's slab area.
 *
 * The walk follows the arena's boundary tags (see `src/alloc/arena.ts`), so it
 * takes one step per chunk and never follows a user-writable link. Slab pages
 * and areas are recognised among the used chunks: a page is a used chunk
 * whose payload is 16 KiB-aligned, recorded with the page alignment and holds
 * both page magic words; an area is a chunk on the heap header's list of
 * areas. Page lists are not walked (their owners relink pages without the heap
 * lock); each page's header words are read once instead.
 *
 * The caller holds the heap lock, so no chunk is split, merged, taken for a
 * page or given back meanwhile. Slab pages keep changing under their owners:
 * their slot counts are a snapshot that may be a few operations old.
 *
 * @module
 */

import { CACHE_BLOCK_ALIGN_LOG, isInternalTag, isUsedTag, tagAlignLog } from "../alloc/arena.ts";
import {
  A_ALLOCS_HI,
  A_ALLOCS_LO,
  A_CLASSES,
  A_MAGIC,
  A_NEXT,
  A_SLOT_CACHE,
  A_WORKER,
  areaMagic,
  CLASS_COUNT,
  E_PAGES,
  H_SLAB_AREA_COUNT,
  H_SLAB_AREAS,
  H_SLAB_PAGES,
  P_BUMP,
  P_CAPACITY,
  P_CLASS,
  P_MAGIC2,
  P_OWNER,
  P_REMOTE,
  P_SLOT,
  P_STATE,
  P_USED,
  PAGE_ALIGN_LOG,
  PAGE_BYTES,
  PAGE_HEADER_BYTES,
  pageMagic,
  pageMagic2,
  SLOT_CACHE_SLOTS,
  SLOT_CACHE_STRIDE,
  slotCacheMask,
  slotLink,
  STATE_ACTIVE,
  STATE_FULL,
  STATE_ORPHAN,
  STATE_SPARE,
  tombstoneMagic,
} from "../alloc/slab.ts";
import { HeapCorruptionError } from "../errors.ts";
import {
  ARENA_START,
  EPILOGUE_BYTES,
  H_FREE_CHUNKS,
  H_HEAP_BYTES,
  H_KEY,
  H_LIVE,
  H_MAX_BYTES,
  MIN_CHUNK,
  SIZE_MASK,
  USED_BIT,
} from "./layout.ts";

/**
 * What an arena chunk holds, in {@linkcode HeapRegions.chunkKind}.
 *
 * @example Telling free chunks from user blocks
 * ```ts
 * import { Heap, RegionKind } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(5000);
 * const map = heap.regions();
 * assert.equal(map.chunkKind[0], RegionKind.Block);
 * assert.equal(map.chunkKind[map.chunkCount - 1], RegionKind.Free);
 * ```
 */
export const RegionKind = {
  /** A free chunk. */
  Free: 0,
  /** A used chunk holding one user block (an arena allocation). */
  Block: 1,
  /** A used chunk holding a slab page (its slots are the small blocks). */
  SlabPage: 2,
  /** A used chunk holding a worker's slab area (the allocator's own bookkeeping). */
  SlabArea: 3,
  /**
   * A used chunk held by a worker's arena cache for reuse without the heap
   * lock, or that cache's own block: neither free space nor a user block.
   */
  ArenaCache: 4,
} as const;

/**
 * One of the values of {@linkcode RegionKind}.
 *
 * @example A kind as a number
 * ```ts
 * import { RegionKind, type RegionKindValue } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const kind: RegionKindValue = RegionKind.SlabPage;
 * assert.equal(kind, 2);
 * ```
 */
export type RegionKindValue = typeof RegionKind[keyof typeof RegionKind];

/**
 * Where a slab page is, in {@linkcode SlabPageRegion.state}: `"active"` (its
 * owner allocates from it), `"full"`, `"spare"` (empty, kept by its owner) or
 * `"orphan"` (its owner detached or died; any worker adopts it).
 *
 * @example Pages of a live worker are active
 * ```ts
 * import { Heap, type SlabPageState } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(24);
 * const state: SlabPageState = heap.regions().pages[0].state;
 * assert.equal(state, "active");
 * ```
 */
export type SlabPageState = "active" | "full" | "spare" | "orphan";

/**
 * One slab page, in {@linkcode HeapRegions.pages}.
 *
 * @example The page of one 24-byte block
 * ```ts
 * import { Heap, type SlabPageRegion } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(24);
 * const page: SlabPageRegion = heap.regions().pages[0];
 * assert.equal(page.slotBytes, 24);
 * assert.equal(page.usedSlots, 1);
 * assert.equal(page.ownerId, heap.workerId);
 * ```
 */
export interface SlabPageRegion {
  /** Byte offset of the page (16 KiB-aligned); its arena chunk starts 8 bytes before. */
  offset: number;
  /** Index of the page's chunk in the chunk columns of {@linkcode HeapRegions}. */
  chunkIndex: number;
  /** Size class index (0 for 8-byte slots). */
  classIndex: number;
  /** Bytes of each slot. */
  slotBytes: number;
  /** Slots the page holds. */
  capacity: number;
  /** Worker id of the owner; `0` for an orphan page. */
  ownerId: number;
  /** Slots in use (slots freed by other workers and not yet collected count as free). */
  usedSlots: number;
  /** Slots freed by other workers that the owner has not collected yet. */
  remoteFreedSlots: number;
  /** Slots free or never handed out: `capacity - usedSlots`. */
  freeSlots: number;
  /** Slots handed out at least once (the rest of the page has never been touched). */
  touchedSlots: number;
  /** Where the page is. */
  state: SlabPageState;
}

/**
 * One worker's slab area (its per-worker page cache), in {@linkcode HeapRegions.areas}.
 *
 * @example The area of the worker that allocated
 * ```ts
 * import { Heap, type SlabAreaRegion } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(24);
 * const area: SlabAreaRegion = heap.regions().areas[0];
 * assert.equal(area.ownerId, heap.workerId);
 * assert.equal(area.pages, 1);
 * ```
 */
export interface SlabAreaRegion {
  /** Byte offset of the area (its chunk starts 8 bytes before). */
  offset: number;
  /** Index of the area's chunk in the chunk columns of {@linkcode HeapRegions}. */
  chunkIndex: number;
  /** Worker id of the owner. */
  ownerId: number;
  /** Slab pages the owner holds (active, full and spare). */
  pages: number;
  /** Slab allocations the owner made (published at its page refills, so it lags a little). */
  allocations: number;
}

/**
 * The heap map returned by `heap.regions()`: the heap from start to end.
 *
 * The header and the prologue fence take bytes `[0, headerBytes)`, the chunks
 * follow one after another (`chunkOffset[i] + chunkBytes[i] === chunkOffset[i + 1]`),
 * and the epilogue fence takes the last `epilogueBytes`. Chunks are columns of
 * typed arrays (one entry per chunk, `chunkCount` entries) so a map of a big
 * heap costs a few arrays, not an object per chunk.
 *
 * @example Walking the chunks
 * ```ts
 * import { Heap, type HeapRegions, RegionKind } from "@typedheap/typedheap";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * heap.alloc(5000);
 * const map: HeapRegions = heap.regions();
 * let end = map.headerBytes;
 * for (let i = 0; i < map.chunkCount; i++) {
 *   assert.equal(map.chunkOffset[i], end);
 *   end += map.chunkBytes[i];
 * }
 * assert.equal(end + map.epilogueBytes, map.heapBytes);
 * assert.equal(map.usedBytes, heap.stats().usedBytes);
 * ```
 */
export interface HeapRegions {
  /** Current size of the heap in bytes. */
  heapBytes: number;
  /** Largest size the heap may grow to. */
  maxBytes: number;
  /** Bytes of the header and the prologue fence: the first chunk starts here. */
  headerBytes: number;
  /** Bytes of the epilogue fence at the end of the heap. */
  epilogueBytes: number;
  /** Number of chunks (entries used in each chunk column). */
  chunkCount: number;
  /** Byte offset of each chunk (its header word); the payload starts 8 bytes later. */
  chunkOffset: Uint32Array;
  /** Bytes of each chunk, boundary tags included. */
  chunkBytes: Uint32Array;
  /** What each chunk holds: a {@linkcode RegionKind} value. */
  chunkKind: Uint8Array;
  /** For each chunk holding a slab page, its index in {@linkcode HeapRegions.pages}; else `-1`. */
  chunkPage: Int32Array;
  /** Sum of the bytes of used chunks (equals `stats().usedBytes`). */
  usedBytes: number;
  /** Sum of the bytes of free chunks (equals `stats().freeBytes`). */
  freeBytes: number;
  /** Number of used chunks (user blocks, slab pages and areas). */
  usedChunks: number;
  /** Number of free chunks. */
  freeChunks: number;
  /** Number of user blocks in the arena (chunks of kind `Block`). */
  blockChunks: number;
  /** Bytes of the largest free chunk, boundary tags included (0 if none). */
  largestFreeChunkBytes: number;
  /** Every slab page, in address order. */
  pages: SlabPageRegion[];
  /** Every worker's slab area, in address order. */
  areas: SlabAreaRegion[];
  /** Slots in use over all pages. */
  usedSlots: number;
}

const STATE_NAMES: readonly SlabPageState[] = ["active", "active", "full", "spare", "orphan"];

function fail(what: string, at: number): never {
  throw new HeapCorruptionError(what, at);
}

/**
 * Walks the heap (heap lock held) and describes it.
 *
 * @param u32 A view over the whole heap.
 * @returns The heap map.
 * @throws {HeapCorruptionError} When a boundary tag, a counter or a slab header is inconsistent.
 */
export function walkRegions(u32: Uint32Array): HeapRegions {
  const heapBytes = u32[H_HEAP_BYTES];
  if (heapBytes > u32.byteLength || heapBytes % 8 !== 0) {
    fail(`heap size ${heapBytes} is inconsistent`, H_HEAP_BYTES * 4);
  }
  const limit = heapBytes - EPILOGUE_BYTES;
  // The counters bound the number of chunks; a walk that finds more reports corruption.
  const capacity = Math.min(u32[H_LIVE] + u32[H_FREE_CHUNKS], Math.floor(heapBytes / MIN_CHUNK));
  const chunkOffset = new Uint32Array(capacity);
  const chunkBytes = new Uint32Array(capacity);
  const chunkKind = new Uint8Array(capacity);
  const chunkPage = new Int32Array(capacity).fill(-1);
  const areaOffsets = areaSet(u32, heapBytes);
  const cached = cachedPerPage(u32, areaOffsets, heapBytes);
  const pages: SlabPageRegion[] = [];
  const areas: SlabAreaRegion[] = [];
  let usedBytes = 0;
  let freeBytes = 0;
  let usedChunks = 0;
  let freeChunks = 0;
  let blockChunks = 0;
  let largest = 0;
  let usedSlots = 0;
  let n = 0;
  // Bounded: every step advances by at least MIN_CHUNK bytes and stays below `limit`.
  for (let c = ARENA_START; c < limit; n++) {
    const h = u32[c >>> 2];
    const sizeBytes = h & SIZE_MASK;
    if (sizeBytes < MIN_CHUNK || c + sizeBytes > limit) {
      fail(`chunk size ${sizeBytes} does not fit in the arena`, c);
    }
    if (u32[(c + sizeBytes - 4) >>> 2] !== h) fail("chunk footer disagrees with its header", c);
    if (n >= capacity) fail("the heap has more chunks than its counters say", c);
    chunkOffset[n] = c;
    chunkBytes[n] = sizeBytes;
    if ((h & USED_BIT) === 0) {
      freeBytes += sizeBytes;
      freeChunks++;
      if (sizeBytes > largest) largest = sizeBytes;
      chunkKind[n] = RegionKind.Free;
    } else {
      usedBytes += sizeBytes;
      usedChunks++;
      const payload = c + 8;
      const tag = u32[(c + 4) >>> 2];
      const internal = isInternalTag(u32[H_KEY], c, tag);
      if (!internal && !isUsedTag(u32[H_KEY], c, tag)) fail("used chunk tag is wrong", c);
      if (!internal) {
        chunkKind[n] = RegionKind.Block;
        blockChunks++;
      } else if (
        tagAlignLog(tag) === PAGE_ALIGN_LOG && payload % PAGE_BYTES === 0 &&
        sizeBytes >= PAGE_BYTES && u32[payload >>> 2] === pageMagic(payload) &&
        u32[(payload >>> 2) + P_MAGIC2] === pageMagic2(payload)
      ) {
        chunkKind[n] = RegionKind.SlabPage;
        chunkPage[n] = pages.length;
        const page = readPage(u32, payload, n, cached.get(payload) ?? 0);
        usedSlots += page.usedSlots;
        pages.push(page);
      } else if (areaOffsets.has(payload)) {
        chunkKind[n] = RegionKind.SlabArea;
        areas.push(readArea(u32, payload, n));
      } else if (u32[payload >>> 2] === tombstoneMagic(payload)) {
        chunkKind[n] = RegionKind.SlabArea; // a recovered worker's emptied area (no entry in `areas`)
      } else if (tagAlignLog(tag) <= CACHE_BLOCK_ALIGN_LOG) {
        chunkKind[n] = RegionKind.ArenaCache; // a cached chunk (log 0) or a cache block (log 1)
      } else {
        fail("an internal chunk is neither a slab page nor an area", c);
      }
    }
    c += sizeBytes;
  }
  if (pages.length !== u32[H_SLAB_PAGES]) {
    fail(
      `slab holds ${u32[H_SLAB_PAGES]} pages but the arena has ${pages.length}`,
      H_SLAB_PAGES * 4,
    );
  }
  if (areas.length !== areaOffsets.size) fail("a slab area is not a used chunk", H_SLAB_AREAS * 4);
  if (usedChunks !== u32[H_LIVE]) fail(`live counter ${u32[H_LIVE]} != ${usedChunks}`, H_LIVE * 4);
  return {
    heapBytes,
    maxBytes: u32[H_MAX_BYTES],
    headerBytes: ARENA_START,
    epilogueBytes: EPILOGUE_BYTES,
    chunkCount: n,
    chunkOffset,
    chunkBytes,
    chunkKind,
    chunkPage,
    usedBytes,
    freeBytes,
    usedChunks,
    freeChunks,
    blockChunks,
    largestFreeChunkBytes: largest,
    pages,
    areas,
    usedSlots,
  };
}

/**
 * How many slots of each page (by page offset) sit in a worker's free-slot
 * cache: free, though their page counts them as used. The owners may be
 * changing their caches: entries that do not decode to a slab page are skipped.
 */
function cachedPerPage(
  u32: Uint32Array,
  areas: Set<number>,
  heapBytes: number,
): Map<number, number> {
  const out = new Map<number, number>();
  const key = u32[H_KEY];
  for (const area of areas) {
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      const c = (area >>> 2) + A_SLOT_CACHE + cls * SLOT_CACHE_STRIDE;
      const n = Math.min(u32[c], SLOT_CACHE_SLOTS);
      for (let k = 1; k <= n; k++) {
        const slot = (u32[c + k] ^ slotCacheMask(key, c + k)) >>> 0;
        const page = (slot & -PAGE_BYTES) >>> 0;
        if (slot < heapBytes && page >= ARENA_START && u32[page >>> 2] === pageMagic(page)) {
          out.set(page, (out.get(page) ?? 0) + 1);
        }
      }
    }
  }
  return out;
}

/** The offsets of all slab areas, from the header's list (changed only under the heap lock). */
function areaSet(u32: Uint32Array, heapBytes: number): Set<number> {
  const out = new Set<number>();
  const count = u32[H_SLAB_AREA_COUNT];
  let a = u32[H_SLAB_AREAS];
  // Bounded by the area count (and each area is a distinct chunk, so by the heap size too).
  for (let n = 0; a !== 0; n++) {
    if (n >= count || n > heapBytes / MIN_CHUNK) {
      fail("slab area list is longer than its count", a);
    }
    if (
      a < ARENA_START || a >= heapBytes || a % 8 !== 0 || u32[(a >>> 2) + A_MAGIC] !== areaMagic(a)
    ) {
      fail("slab area magic is wrong", a);
    }
    out.add(a);
    a = u32[(a >>> 2) + A_NEXT];
  }
  if (out.size !== count) fail("slab area count is wrong", H_SLAB_AREA_COUNT * 4);
  return out;
}

/** Reads one page's header. Its owner may be changing it: the counts are clamped, not trusted. */
function readPage(
  u32: Uint32Array,
  base: number,
  chunkIndex: number,
  slotCacheSlots: number,
): SlabPageRegion {
  const h = base >>> 2;
  const classIndex = u32[h + P_CLASS];
  const slotBytes = u32[h + P_SLOT];
  const capacity = u32[h + P_CAPACITY];
  if (classIndex >= CLASS_COUNT || slotBytes === 0 || capacity * slotBytes > PAGE_BYTES) {
    fail("slab page class is wrong", base);
  }
  const state = u32[h + P_STATE];
  if (state !== STATE_ACTIVE && state !== STATE_FULL && state !== STATE_SPARE) {
    if (state !== STATE_ORPHAN) fail(`slab page state ${state} is unknown`, base);
  }
  const ownerId = u32[h + P_OWNER];
  const slotsStart = base + PAGE_HEADER_BYTES;
  const slotsEnd = slotsStart + capacity * slotBytes;
  // Remote frees: a list the owner may take at any moment; stop at the first
  // link that is not a slot of this page. Bounded by the capacity.
  let remote = 0;
  for (let p = u32[h + P_REMOTE]; p !== 0 && remote < capacity; remote++) {
    if (p < slotsStart || p >= slotsEnd) break;
    p = slotLink(u32, u32[H_KEY], p);
  }
  const used = Math.min(u32[h + P_USED], capacity);
  const usedSlots = Math.max(0, used - remote - slotCacheSlots);
  const bump = Math.min(Math.max(u32[h + P_BUMP], slotsStart), slotsEnd);
  return {
    offset: base,
    chunkIndex,
    classIndex,
    slotBytes,
    capacity,
    ownerId,
    usedSlots,
    remoteFreedSlots: Math.min(remote, used),
    freeSlots: capacity - usedSlots,
    touchedSlots: Math.floor((bump - slotsStart) / slotBytes),
    state: STATE_NAMES[state],
  };
}

/** Reads one area: its owner and the pages it holds. */
function readArea(u32: Uint32Array, area: number, chunkIndex: number): SlabAreaRegion {
  const w = area >>> 2;
  let pages = 0;
  for (let cls = 0; cls < CLASS_COUNT; cls++) pages += u32[w + A_CLASSES + (cls << 2) + E_PAGES];
  return {
    offset: area,
    chunkIndex,
    ownerId: u32[w + A_WORKER],
    pages,
    allocations: u32[w + A_ALLOCS_HI] * 2 ** 32 + u32[w + A_ALLOCS_LO],
  };
}
