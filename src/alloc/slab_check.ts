/**
 * The slab's consistency check and figures: walks every area's page lists
 * and the orphan lists (bounded by the heap's size), verifies each page's
 * header, lists and counts (`checkSlabLocked`), and sums them per class
 * (`slabStatsLocked`).
 *
 * @module
 */

import { arenaLargestFree } from "./arena.ts";
import {
  A_ALLOCS_HI,
  A_ALLOCS_LO,
  H_SLAB_INTERNAL,
  H_SLAB_RETIRED_HI,
  H_SLAB_RETIRED_LO,
  H_SLAB_TOMBSTONES,
} from "./slab.ts";
import {
  CHUNK_OVERHEAD,
  FIXED_OVERHEAD_BYTES,
  H_FREE_BYTES,
  H_FREE_CHUNKS,
  H_HWM,
  H_LIVE,
  H_MAX_BYTES,
  H_TOTAL_HI,
  H_TOTAL_LO,
  H_TRIP_HWM,
  H_USED_BYTES,
} from "../heap/layout.ts";

import { ARENA_START, H_HEAP_BYTES, H_LAST_WORKER, H_LOCK_BEAT } from "../heap/layout.ts";
import {
  A_CLASSES,
  A_MAGIC,
  A_NEXT,
  A_SLOT_CACHE,
  A_WORKER,
  AREA_BYTES,
  areaMagic,
  CLASS_BYTES,
  CLASS_COUNT,
  E_ACTIVE,
  E_FULL,
  E_PAGES,
  E_SPARE,
  freeSlotTag,
  H_SLAB_AREA_COUNT,
  H_SLAB_AREAS,
  H_SLAB_ORPHANS,
  H_SLAB_PAGES,
  MAX_PAGE_SLOTS,
  P_AREA,
  P_BUMP,
  P_CAPACITY,
  P_CLASS,
  P_FREE,
  P_MAGIC2,
  P_NEXT,
  P_NEXT_CHECK,
  P_OWNER,
  P_PREV,
  P_PREV_CHECK,
  P_REMOTE,
  P_SLOT,
  P_STATE,
  P_USED,
  PAGE_BYTES,
  PAGE_HEADER_BYTES,
  PAGE_USABLE_BYTES,
  pageLinkCheck,
  pageMagic,
  pageMagic2,
  pageSlotsEnd,
  SLOT_CACHE_SLOTS,
  SLOT_CACHE_STRIDE,
  slotCacheSlots,
  slotLink,
  STATE_ACTIVE,
  STATE_FULL,
  STATE_ORPHAN,
  STATE_SPARE,
} from "./slab.ts";
import { internalTag } from "./arena.ts";
import { HeapCorruptionError } from "../errors.ts";

import type { SlabAllocator } from "./slab_local.ts";
import { cacheTotals, checkCachesLocked } from "./arena_cache.ts";
import type { HeapStats, SlabClassStats } from "../heap/types.ts";

/** Most slab pages the heap can hold now: bounds every walk of page lists. */
export function maxPages(u32: Uint32Array): number {
  return Math.floor(u32[H_HEAP_BYTES] / PAGE_BYTES) + 1;
}

/** Most slab areas the heap can hold now: bounds every walk of the area list. */
export function maxAreas(u32: Uint32Array): number {
  return Math.floor(u32[H_HEAP_BYTES] / AREA_BYTES) + 1;
}

/** Throws `HeapCorruptionError` unless `area` is a slab area chunk inside the heap. */
export function checkArea(s: SlabAllocator, area: number): void {
  const u32 = s.u32;
  if (
    area < ARENA_START + 8 || area % 8 !== 0 || area + AREA_BYTES > u32[H_HEAP_BYTES] ||
    u32[(area >>> 2) + A_MAGIC] !== areaMagic(area) ||
    u32[(area - 4) >>> 2] !== internalTag(s.key, area - 8, 3)
  ) {
    throw new HeapCorruptionError(`slab area list links to ${area}, not an area`, area);
  }
}

/** Throws `HeapCorruptionError` unless `page` is a slab page (magic, arena tag, class) inside the heap. */
export function checkPageAddress(s: SlabAllocator, page: number): void {
  const u32 = s.u32;
  const h = page >>> 2;
  if (
    page % PAGE_BYTES !== 0 || page < ARENA_START + 8 ||
    page + PAGE_USABLE_BYTES > u32[H_HEAP_BYTES] ||
    u32[h] !== pageMagic(page) || u32[h + P_MAGIC2] !== pageMagic2(page) || !s.isPage(page) ||
    u32[h + P_CLASS] >= CLASS_COUNT || u32[h + P_SLOT] !== CLASS_BYTES[u32[h + P_CLASS]] ||
    u32[h + P_CAPACITY] > MAX_PAGE_SLOTS
  ) {
    throw new HeapCorruptionError(`slab list links to ${page}, not a valid slab page`, page);
  }
}

/** Calls `fn` for every slab page: every area's lists, then the orphans. */
export function forEachPageLocked(
  s: SlabAllocator,
  fn: (page: number, state: number, area: number) => void,
): void {
  const u32 = s.u32;
  const limit = Math.min(u32[H_SLAB_PAGES], maxPages(s.u32)) + 1;
  let area = u32[H_SLAB_AREAS];
  for (let a = maxAreas(s.u32); area !== 0; a--) {
    if (a === 0) throw new HeapCorruptionError("slab area list has a cycle", area);
    checkArea(s, area);
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      const entry = (area >>> 2) + A_CLASSES + (cls << 2);
      for (const [head, state] of [[E_ACTIVE, STATE_ACTIVE], [E_FULL, STATE_FULL]]) {
        let n = 0;
        for (let p = u32[entry + head]; p !== 0; p = u32[(p >>> 2) + P_NEXT]) {
          if (++n > limit) throw new HeapCorruptionError("slab page list has a cycle", p);
          checkPageAddress(s, p);
          fn(p, state, area);
        }
      }
      const spare = u32[entry + E_SPARE];
      if (spare !== 0) {
        checkPageAddress(s, spare);
        fn(spare, STATE_SPARE, area);
      }
    }
    area = u32[(area >>> 2) + A_NEXT];
  }
  for (let cls = 0; cls < CLASS_COUNT; cls++) {
    let n = 0;
    for (let p = u32[H_SLAB_ORPHANS + cls]; p !== 0; p = u32[(p >>> 2) + P_NEXT]) {
      if (++n > limit) throw new HeapCorruptionError("orphan page list has a cycle", p);
      checkPageAddress(s, p);
      fn(p, STATE_ORPHAN, 0);
    }
  }
}

/** Figures per slab class (reads other workers' pages without stopping them). */
export function slabStatsLocked(s: SlabAllocator): SlabClassStats[] {
  const u32 = s.u32;
  const out: SlabClassStats[] = CLASS_BYTES.map((slotBytes) => ({
    slotBytes,
    pages: 0,
    usedSlots: 0,
    freeSlots: 0,
    wasteBytes: 0,
  }));
  forEachPageLocked(s, (page) => {
    const h = page >>> 2;
    const st = out[u32[h + P_CLASS]];
    // Slots freed by other workers and not yet collected are free already.
    let remote = 0;
    const capacity = u32[h + P_CAPACITY];
    const slotsEnd = page + PAGE_USABLE_BYTES;
    for (let p = u32[h + P_REMOTE]; p !== 0; p = slotLink(u32, s.key, p)) {
      if (p <= page || p >= slotsEnd || ++remote > capacity) {
        throw new HeapCorruptionError(`slab page's remote-free list is broken at ${p}`, page);
      }
    }
    if (u32[h + P_USED] < remote || u32[h + P_USED] > capacity) {
      throw new HeapCorruptionError(`slab page's used count ${u32[h + P_USED]} is wrong`, page);
    }
    st.pages++;
    st.usedSlots += u32[h + P_USED] - remote;
    st.freeSlots += capacity - u32[h + P_USED] + remote;
    st.wasteBytes += PAGE_USABLE_BYTES - u32[h + P_CAPACITY] * u32[h + P_SLOT];
  });
  // Slots in the free-slot caches are free (their pages count them as used).
  let area = u32[H_SLAB_AREAS];
  for (let a = maxAreas(u32); area !== 0 && a > 0; a--) {
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      const n = Math.min(
        u32[(area >>> 2) + A_SLOT_CACHE + cls * SLOT_CACHE_STRIDE],
        SLOT_CACHE_SLOTS,
      );
      const k = Math.min(n, out[cls].usedSlots);
      out[cls].usedSlots -= k;
      out[cls].freeSlots += k;
    }
    area = u32[(area >>> 2) + A_NEXT];
  }
  return out;
}

/**
 * The slots in every area's free-slot cache, by page (heap lock held).
 * Throws `HeapCorruptionError` when an area or a cache is damaged.
 */
export function slotCacheByPageLocked(s: SlabAllocator): Map<number, number[]> {
  const u32 = s.u32;
  const out = new Map<number, number[]>();
  let area = u32[H_SLAB_AREAS];
  for (let a = maxAreas(u32); area !== 0; a--) {
    if (a === 0) throw new HeapCorruptionError("slab area list has a cycle", area);
    checkArea(s, area);
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      for (const slot of slotCacheSlots(u32, s.key, area, cls)) {
        const page = (slot & -PAGE_BYTES) >>> 0;
        const list = out.get(page);
        if (list === undefined) out.set(page, [slot]);
        else list.push(slot);
      }
    }
    area = u32[(area >>> 2) + A_NEXT];
  }
  return out;
}

/** Verifies every slab invariant (heap lock held). */
export function checkSlabLocked(s: SlabAllocator): void {
  const u32 = s.u32;
  const end = u32[H_HEAP_BYTES];
  let pages = 0;
  let areas = 0;
  for (let a = u32[H_SLAB_AREAS], n = 0; a !== 0; a = u32[(a >>> 2) + A_NEXT]) {
    if (++n > u32[H_SLAB_AREA_COUNT] || n > maxAreas(s.u32)) {
      throw new HeapCorruptionError("slab area list is longer than its count", a);
    }
    if (
      a < ARENA_START + 8 || a >= end || a % 8 !== 0 ||
      u32[(a >>> 2) + A_MAGIC] !== areaMagic(a) ||
      u32[(a - 4) >>> 2] !== internalTag(s.key, a - 8, 3)
    ) {
      throw new HeapCorruptionError("slab area magic is wrong", a);
    }
    const worker = u32[(a >>> 2) + A_WORKER];
    if (worker < 1 || worker > u32[H_LAST_WORKER]) {
      throw new HeapCorruptionError(`slab area names worker ${worker}, not a handed-out id`, a);
    }
    areas++;
  }
  if (areas !== u32[H_SLAB_AREA_COUNT]) {
    throw new HeapCorruptionError("slab area count is wrong", H_SLAB_AREA_COUNT * 4);
  }
  const seen = new Set<number>();
  const pagesPerEntry = new Map<number, number>();
  const cached = slotCacheByPageLocked(s);
  forEachPageLocked(s, (page, state, area) => {
    const fail = (what: string): never => {
      throw new HeapCorruptionError(`slab page ${what}`, page);
    };
    if (seen.has(page)) fail("is on two lists");
    seen.add(page);
    if ((++pages & 63) === 0) u32[H_LOCK_BEAT]++; // a long walk shows its holder is alive
    const h = page >>> 2;
    if (page % PAGE_BYTES !== 0 || page >= end) fail("is not page-aligned inside the heap");
    if (
      u32[h] !== pageMagic(page) || u32[h + P_MAGIC2] !== pageMagic2(page) || !s.isPage(page)
    ) {
      fail("magic or arena tag is wrong");
    }
    const cls = u32[h + P_CLASS];
    if (cls >= CLASS_COUNT || u32[h + P_SLOT] !== CLASS_BYTES[cls]) fail("class is wrong");
    if (
      u32[h + P_CAPACITY] !==
        Math.floor((PAGE_USABLE_BYTES - PAGE_HEADER_BYTES) / u32[h + P_SLOT])
    ) {
      fail("capacity is wrong");
    }
    if (u32[h + P_STATE] !== state) {
      fail(`state ${u32[h + P_STATE]} disagrees with its list (${state})`);
    }
    const next = u32[h + P_NEXT];
    if (
      u32[h + P_NEXT_CHECK] !== pageLinkCheck(s.key, page, next) ||
      u32[h + P_PREV_CHECK] !== pageLinkCheck(s.key, page, u32[h + P_PREV])
    ) {
      fail("link disagrees with its check word");
    }
    if (next !== 0 && u32[(next >>> 2) + P_PREV] !== page) {
      fail(`next page ${next} does not link back`);
    }
    const owner = area === 0 ? 0 : u32[(area >>> 2) + A_WORKER];
    if (u32[h + P_OWNER] !== owner || u32[h + P_AREA] !== area) {
      fail("owner disagrees with its list");
    }
    if (area !== 0) {
      const key = (area >>> 2) + A_CLASSES + (cls << 2);
      pagesPerEntry.set(key, (pagesPerEntry.get(key) ?? 0) + 1);
    }
    const slotsEnd = pageSlotsEnd(u32, page);
    const bump = u32[h + P_BUMP];
    const slot = u32[h + P_SLOT];
    if (
      bump < page + PAGE_HEADER_BYTES || bump > slotsEnd ||
      (bump - page - PAGE_HEADER_BYTES) % slot !== 0
    ) {
      fail("bump pointer is wrong");
    }
    const handedOut = (bump - page - PAGE_HEADER_BYTES) / slot;
    const free = new Set<number>();
    for (const listHead of [u32[h + P_FREE], u32[h + P_REMOTE]]) {
      for (let p = listHead; p !== 0; p = slotLink(u32, s.key, p)) {
        if (free.has(p)) fail(`lists slot ${p} twice`);
        if (
          p < page + PAGE_HEADER_BYTES || p >= bump || (p - page - PAGE_HEADER_BYTES) % slot !== 0
        ) {
          fail(`free list holds ${p}, which is not a handed-out slot`);
        }
        if (u32[(p + 4) >>> 2] !== freeSlotTag(s.key, p)) fail(`free slot ${p} lost its tag`);
        free.add(p);
      }
    }
    // Cached slots count as used in their page and are on no free list.
    for (const p of cached.get(page) ?? []) {
      if (free.has(p)) fail(`free slot ${p} is both cached and on a free list`);
    }
    cached.delete(page);
    const remote = state === STATE_ACTIVE || state === STATE_FULL || state === STATE_ORPHAN;
    const usedExpected = handedOut - free.size;
    // Remote frees not yet collected still count as used until the owner collects them.
    let remoteCount = 0;
    for (
      let p = u32[h + P_REMOTE];
      p !== 0 && remoteCount <= free.size;
      p = slotLink(u32, s.key, p)
    ) {
      remoteCount++;
    }
    if (u32[h + P_USED] !== usedExpected + remoteCount) {
      fail(
        `used count ${u32[h + P_USED]} != ${
          usedExpected + remoteCount
        } slots handed out and not free`,
      );
    }
    if (!remote && u32[h + P_USED] !== 0) fail("is a spare page with used slots");
  });
  for (const page of cached.keys()) {
    throw new HeapCorruptionError("free-slot cache holds a slot of a page on no list", page);
  }
  for (const [key, count] of pagesPerEntry) {
    if (u32[key + E_PAGES] !== count) {
      throw new HeapCorruptionError(`slab page count ${u32[key + E_PAGES]} != ${count}`, key * 4);
    }
  }
  if (pages !== u32[H_SLAB_PAGES]) {
    throw new HeapCorruptionError(
      `slab holds ${u32[H_SLAB_PAGES]} pages but lists ${pages}`,
      H_SLAB_PAGES * 4,
    );
  }
  checkCachesLocked(u32);
}

/** `Heap.stats()`: the heap's figures, read under the heap lock. */
export function heapStats(s: SlabAllocator): HeapStats {
  s.flushAllocCount();
  s.lock();
  try {
    s.drainDeferredIfAnyLocked();
    const u32 = s.u32;
    const largest = arenaLargestFree(u32);
    const classes = slabStatsLocked(s);
    let usedSlots = 0;
    let slabAllocs = u32[H_SLAB_RETIRED_HI] * 2 ** 32 + u32[H_SLAB_RETIRED_LO];
    for (const c of classes) usedSlots += c.usedSlots;
    let area = u32[H_SLAB_AREAS];
    for (let n = maxAreas(s.u32); area !== 0 && n > 0; n--) {
      checkArea(s, area);
      slabAllocs += u32[(area >>> 2) + A_ALLOCS_HI] * 2 ** 32 + u32[(area >>> 2) + A_ALLOCS_LO];
      area = u32[(area >>> 2) + A_NEXT];
    }
    // Arena caches: their blocks and chunks are used chunks, not live allocations.
    const cached = cacheTotals(u32);
    const internal = u32[H_SLAB_PAGES] + u32[H_SLAB_AREA_COUNT] + u32[H_SLAB_TOMBSTONES] +
      cached.caches + cached.chunks;
    return {
      heapBytes: u32[H_HEAP_BYTES],
      maxBytes: u32[H_MAX_BYTES],
      usedBytes: u32[H_USED_BYTES],
      freeBytes: u32[H_FREE_BYTES],
      overheadBytes: FIXED_OVERHEAD_BYTES,
      largestFreeBytes: largest === 0 ? 0 : largest - CHUNK_OVERHEAD,
      freeChunks: u32[H_FREE_CHUNKS],
      liveAllocations: u32[H_LIVE] - internal + usedSlots,
      totalAllocations: u32[H_TOTAL_HI] * 2 ** 32 + u32[H_TOTAL_LO] - u32[H_SLAB_INTERNAL] +
        slabAllocs,
      highWaterBytes: u32[H_HWM],
      tripHighWaterBytes: u32[H_TRIP_HWM],
      slab: {
        pages: u32[H_SLAB_PAGES],
        pageBytes: PAGE_BYTES,
        areas: u32[H_SLAB_AREA_COUNT],
        recoveredAreas: u32[H_SLAB_TOMBSTONES],
        usedSlots,
        classes,
      },
      cachedChunks: cached.chunks,
      cachedBytes: cached.bytes,
    };
  } finally {
    s.unlock();
  }
}
