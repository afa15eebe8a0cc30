/**
 * Slab areas and page ownership: making and dropping a handle's area,
 * giving a worker's pages up (empty ones to the arena, the rest as orphans
 * any worker adopts), sweeping emptied orphans, and rebuilding the slab's
 * lists from a walk of the arena when a worker died or an operation was cut
 * short (`recoverWorker`, `repairOwn`).
 *
 * @module
 */

import {
  ARENA_START,
  EPILOGUE_BYTES,
  H_HEAP_BYTES,
  H_LOCK,
  H_LOCK_BEAT,
  H_LOCK_TIMEOUT_MS,
  H_OP,
  MIN_CHUNK,
  SIZE_MASK,
  USED_BIT,
} from "../heap/layout.ts";
import { arenaFree, arenaRebuild, chunkBytesFor, internalTag } from "./arena.ts";
import {
  A_ALLOCS_HI,
  A_ALLOCS_LO,
  A_BEAT,
  A_BUSY,
  A_CLASSES,
  A_MAGIC,
  A_NEXT,
  A_WORKER,
  AREA_BYTES,
  areaMagic,
  CLASS_COUNT,
  collectRemote,
  E_ACTIVE,
  E_FULL,
  E_PAGES,
  E_SPARE,
  flushSlotCache,
  H_SLAB_AREA_COUNT,
  H_SLAB_AREAS,
  H_SLAB_INTERNAL,
  H_SLAB_ORPHANS,
  H_SLAB_PAGES,
  H_SLAB_RETIRED_HI,
  H_SLAB_RETIRED_LO,
  H_SLAB_TOMBSTONES,
  P_AREA,
  P_CLASS,
  P_MAGIC2,
  P_NEXT,
  P_OWNER,
  P_STATE,
  P_USED,
  PAGE_BYTES,
  pageMagic,
  pageMagic2,
  pushPage,
  STATE_ACTIVE,
  STATE_ORPHAN,
  tombstoneMagic,
  unlinkPage,
} from "./slab.ts";
import { HeapCorruptionError, WorkerAliveError } from "../errors.ts";
import { DEFAULT_LOCK_TIMEOUT_MS } from "../heap/_lock.ts";
import { canBlock } from "../sync/_blocking.ts";
import { checkHeapLocked } from "../heap/_header.ts";
import { forceReleaseWord, wordOwner } from "../sync/lock_word.ts";

import type { RecoverReport } from "../heap/types.ts";
import type { SlabAllocator } from "./slab_local.ts";
import { checkArea, maxAreas, maxPages } from "./slab_check.ts";
import { dropCacheLocked, dropCachesByWalkLocked } from "./arena_cache.ts";

/** Makes this handle's slab area (heap lock taken here). */
export function createArea(s: SlabAllocator): boolean {
  s.lock();
  try {
    s.begin();
    const ok = createAreaLocked(s);
    if (ok) s.end();
    else s.u32[H_OP] = 0;
    return ok;
  } finally {
    s.unlock();
  }
}

/** `createArea` with the heap lock held and the operation marked. */
export function createAreaLocked(s: SlabAllocator): boolean {
  {
    const ptr = s.allocLocked(chunkBytesFor(AREA_BYTES), 3);
    if (ptr === 0) return false;
    const u32 = s.u32; // fresh after any growth
    u32[(ptr - 4) >>> 2] = internalTag(s.key, ptr - 8, 3); // never a user pointer
    u32.fill(0, ptr >>> 2, (ptr + AREA_BYTES) >>> 2);
    u32[(ptr >>> 2) + A_MAGIC] = areaMagic(ptr);
    u32[(ptr >>> 2) + A_WORKER] = s.workerId;
    u32[(ptr >>> 2) + A_NEXT] = u32[H_SLAB_AREAS];
    u32[H_SLAB_AREAS] = ptr;
    u32[H_SLAB_AREA_COUNT]++;
    u32[H_SLAB_INTERNAL]++;
    s.area = ptr;
    s.areaWords = ptr >>> 2;
    return true;
  }
}

/**
 * Forgets this handle's area after another handle recovered this worker
 * while it still ran: frees the tombstone left in its place (only this
 * handle could still read it), or reports an overwritten area.
 */
export function dropOwnArea(s: SlabAllocator): void {
  const area = s.area;
  s.lock();
  try {
    const u32 = s.u32;
    if (u32[(area >>> 2) + A_MAGIC] !== tombstoneMagic(area)) {
      throw new HeapCorruptionError("this handle's slab area was overwritten", area);
    }
    s.begin();
    s.area = 0;
    s.areaWords = 0;
    s.cache = 0; // freed by the handle that recovered this worker
    u32[(area >>> 2) + A_MAGIC] = 0;
    u32[H_SLAB_TOMBSTONES]--;
    arenaFree(u32, area - 8);
    u32[H_OP] = 0;
  } finally {
    s.unlock();
  }
}

/**
 * Gives the slab pages of the area at `area` up (heap lock held): empty
 * pages go back to the arena, the rest become orphans that any worker adopts.
 * Returns the number of pages handed over.
 */
export function abandonAreaLocked(s: SlabAllocator, area: number, tombstone: boolean): number {
  const u32 = s.u32;
  flushSlotCache(u32, s.key, area); // cached slots go back to their pages first
  let pages = 0;
  for (let cls = 0; cls < CLASS_COUNT; cls++) {
    const entry = (area >>> 2) + A_CLASSES + (cls << 2);
    for (const head of [entry + E_ACTIVE, entry + E_FULL]) {
      for (
        let n = Math.min(u32[entry + E_PAGES], maxPages(s.u32));
        u32[head] !== 0 && n > 0;
        n--
      ) {
        const page = u32[head];
        unlinkPage(u32, head, page);
        orphanPageLocked(s, page, cls);
        pages++;
      }
    }
    const spare = u32[entry + E_SPARE];
    if (spare !== 0) {
      u32[entry + E_SPARE] = 0;
      s.releasePageLocked(spare);
      pages++;
    }
    u32[entry + E_PAGES] = 0;
  }
  // Unlink and free the area itself.
  let link = H_SLAB_AREAS;
  for (let n = Math.min(u32[H_SLAB_AREA_COUNT], maxAreas(s.u32)); u32[link] !== 0 && n > 0; n--) {
    if (u32[link] === area) {
      u32[link] = u32[(area >>> 2) + A_NEXT];
      u32[H_SLAB_AREA_COUNT]--;
      break;
    }
    link = (u32[link] >>> 2) + A_NEXT;
  }
  const retired = u32[H_SLAB_RETIRED_LO] + u32[(area >>> 2) + A_ALLOCS_LO];
  u32[H_SLAB_RETIRED_HI] += u32[(area >>> 2) + A_ALLOCS_HI] + (retired >= 2 ** 32 ? 1 : 0);
  u32[H_SLAB_RETIRED_LO] = retired;
  if (tombstone) {
    // The worker may still run and read its area (its fast path caches it):
    // keep the chunk, emptied, so it never reads memory handed to others.
    u32[(area >>> 2) + A_MAGIC] = tombstoneMagic(area);
    u32[H_SLAB_TOMBSTONES]++;
    return pages;
  }
  u32[(area >>> 2) + A_MAGIC] = 0;
  arenaFree(u32, area - 8);
  return pages;
}

/**
 * Gives back orphan pages whose slots were all freed by other workers since
 * they were orphaned (heap lock held). Returns the number of pages released.
 */
export function sweepOrphansLocked(s: SlabAllocator): number {
  const u32 = s.u32;
  let released = 0;
  for (let cls = 0; cls < CLASS_COUNT; cls++) {
    let page = u32[H_SLAB_ORPHANS + cls];
    for (let n = Math.min(u32[H_SLAB_PAGES], maxPages(s.u32)); page !== 0 && n > 0; n--) {
      const next = u32[(page >>> 2) + P_NEXT];
      collectRemote(u32, s.i32, s.key, page);
      if (u32[(page >>> 2) + P_USED] === 0) {
        unlinkPage(u32, H_SLAB_ORPHANS + cls, page);
        s.releasePageLocked(page);
        released++;
      }
      page = next;
    }
  }
  return released;
}

/** Makes a page ownerless (heap lock held): back to the arena when empty, else onto the orphan list. */
export function orphanPageLocked(s: SlabAllocator, page: number, cls: number): void {
  const u32 = s.u32;
  const h = page >>> 2;
  u32[h + P_OWNER] = 0;
  u32[h + P_AREA] = 0;
  collectRemote(u32, s.i32, s.key, page);
  if (u32[h + P_USED] === 0) {
    s.releasePageLocked(page);
    return;
  }
  u32[h + P_STATE] = STATE_ORPHAN;
  pushPage(u32, H_SLAB_ORPHANS + cls, page);
}

/**
 * Rebuilds the slab's shared lists from a walk of the arena (heap lock
 * held, after the arena walk was verified): the area list and its count,
 * the orphan lists and the page count. Worker `workerId`'s pages go on the
 * active lists of `keepArea` when it is theirs (this handle's own repair),
 * else become orphans; its other areas are given up (as tombstones with
 * `asTombstones`). Pages of other workers are left to them. Returns the
 * number of the worker's pages made orphans.
 */
export function rebuildSlabLocked(
  s: SlabAllocator,
  workerId: number,
  keepArea: number,
  asTombstones: boolean,
): number {
  const u32 = s.u32;
  const limit = u32[H_HEAP_BYTES] - EPILOGUE_BYTES;
  const areas: number[] = [];
  const pages: number[] = [];
  let tombstones = 0;
  for (let c = ARENA_START, n = 1; c < limit; n++) {
    if ((n & 4095) === 0) u32[H_LOCK_BEAT]++;
    const h = u32[c >>> 2];
    const size = (h & SIZE_MASK) >>> 0;
    if (size < MIN_CHUNK) throw new HeapCorruptionError("chunk walk broken", c);
    const p = c + 8;
    if ((h & USED_BIT) !== 0 && u32[(c + 4) >>> 2] === internalTag(s.key, c, 3)) {
      if (u32[p >>> 2] === areaMagic(p)) areas.push(p);
      else if (u32[p >>> 2] === tombstoneMagic(p)) tombstones++;
    } else if (
      (h & USED_BIT) !== 0 && p % PAGE_BYTES === 0 && s.isPage(p) &&
      u32[p >>> 2] === pageMagic(p) && u32[(p >>> 2) + P_MAGIC2] === pageMagic2(p) &&
      u32[(p >>> 2) + P_CLASS] < CLASS_COUNT
    ) {
      pages.push(p);
    }
    c += size;
  }
  u32[H_SLAB_AREAS] = 0;
  for (let k = areas.length - 1; k >= 0; k--) {
    u32[(areas[k] >>> 2) + A_NEXT] = u32[H_SLAB_AREAS];
    u32[H_SLAB_AREAS] = areas[k];
  }
  u32[H_SLAB_AREA_COUNT] = areas.length;
  u32[H_SLAB_PAGES] = pages.length;
  u32[H_SLAB_TOMBSTONES] = tombstones;
  const mine = areas.filter((a) => u32[(a >>> 2) + A_WORKER] === workerId);
  for (const a of mine) flushSlotCache(u32, s.key, a); // before the pages are relisted
  dropCachesByWalkLocked(u32, mine); // its arena caches, whatever state their lists are in
  if (workerId === s.workerId) s.cache = 0;
  const workerOf = new Map(areas.map((a) => [a, u32[(a >>> 2) + A_WORKER]]));
  for (const a of mine) {
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      u32.fill(0, (a >>> 2) + A_CLASSES + (cls << 2), (a >>> 2) + A_CLASSES + (cls << 2) + 4);
    }
  }
  for (let cls = 0; cls < CLASS_COUNT; cls++) u32[H_SLAB_ORPHANS + cls] = 0;
  let orphaned = 0;
  for (const p of pages) {
    const h = p >>> 2;
    const cls = u32[h + P_CLASS];
    const area = u32[h + P_AREA];
    const owner = u32[h + P_OWNER];
    if (owner === workerId && area === keepArea && keepArea !== 0) {
      // The handle's current area keeps its pages, all on the active lists.
      const entry = (area >>> 2) + A_CLASSES + (cls << 2);
      u32[h + P_STATE] = STATE_ACTIVE;
      pushPage(u32, entry + E_ACTIVE, p);
      u32[entry + E_PAGES]++;
    } else if (owner === workerId || owner === 0 || workerOf.get(area) !== owner) {
      // The worker's other pages, orphans, and pages whose area is gone.
      if (owner === workerId) orphaned++;
      u32[h + P_OWNER] = 0;
      u32[h + P_AREA] = 0;
      u32[h + P_STATE] = STATE_ORPHAN;
      pushPage(u32, H_SLAB_ORPHANS + cls, p);
    }
  }
  // The worker's other areas hold no pages now: give them up (kept as
  // tombstones when another handle recovers the worker: it may still read them).
  for (const a of mine) {
    if (a !== keepArea) abandonAreaLocked(s, a, asTombstones);
  }
  return orphaned;
}

/** The slab areas of worker `workerId` (a bounded walk of the area list). */
export function areasOf(s: SlabAllocator, workerId: number): number[] {
  const u32 = s.u32;
  const out: number[] = [];
  let area = u32[H_SLAB_AREAS];
  for (let n = maxAreas(s.u32); area !== 0 && n > 0; n--) {
    checkArea(s, area);
    if (workerId < 0 || u32[(area >>> 2) + A_WORKER] === workerId) out.push(area);
    area = u32[(area >>> 2) + A_NEXT];
  }
  return out;
}

/**
 * Watches worker `workerId` for the heap's `lockTimeoutMs`: if it renews a
 * heartbeat (its areas' beat words; the heap lock's beat while it holds the
 * lock), takes or releases the heap lock, it is alive and `WorkerAliveError`
 * is thrown. Writes nothing.
 */
export function watch(s: SlabAllocator, workerId: number, areas: number[]): void {
  const u32 = s.u32;
  const i32 = s.i32;
  const lockWordAt = (): number => Atomics.load(i32, H_LOCK) >>> 1 === workerId ? 1 : 0;
  const holding = lockWordAt();
  const lockBeat = u32[H_LOCK_BEAT];
  const beats = areas.map((a) => u32[(a >>> 2) + A_BEAT]);
  const timeoutMs = u32[H_LOCK_TIMEOUT_MS] || DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = performance.now() + timeoutMs;
  const sleeper = canBlock() ? new Int32Array(new SharedArrayBuffer(4)) : null;
  for (let n = 0; n < 1 << 30; n++) {
    if (lockWordAt() !== holding) {
      throw new WorkerAliveError(workerId, "it took or released the heap lock");
    }
    if (holding === 1 && u32[H_LOCK_BEAT] !== lockBeat) {
      throw new WorkerAliveError(workerId, "it renewed the heap lock's heartbeat");
    }
    for (let k = 0; k < areas.length; k++) {
      if (u32[(areas[k] >>> 2) + A_BEAT] !== beats[k]) {
        throw new WorkerAliveError(workerId, "it renewed its slab area's heartbeat");
      }
    }
    const left = deadline - performance.now();
    if (left <= 0) return;
    if (sleeper !== null) Atomics.wait(sleeper, 0, 0, Math.min(left, 5));
  }
}

/** `recover(s.workerId)`: repairs what an operation of this handle left when it was cut short. */
export function repairOwn(s: SlabAllocator): void {
  s.lockRaw();
  try {
    const u32 = s.u32;
    const op = u32[H_OP];
    if (op !== 0 && op !== s.workerId) {
      throw new HeapCorruptionError(
        `an operation of worker ${op} was cut short; heap.recover(${op}) repairs it`,
        H_OP * 4,
      );
    }
    u32[H_OP] = s.workerId;
    if (op !== 0) arenaRebuild(u32);
    s.drainDeferredLocked();
    const keep = s.areaWords !== 0 &&
        s.u32[s.areaWords + A_MAGIC] === areaMagic(s.area)
      ? s.area
      : 0;
    rebuildSlabLocked(s, s.workerId, keep, false);
    if (keep !== 0) s.u32[s.areaWords + A_BUSY] = 0;
    checkHeapLocked(s, false);
    s.u32[H_OP] = 0;
  } finally {
    s.unlock();
  }
}

/**
 * `Heap.recover(workerId)` for another worker's id (already validated): watches
 * the worker, then rebuilds what it left (see `Heap.recover`).
 */
export function recoverWorker(s: SlabAllocator, workerId: number): RecoverReport {
  const holds = wordOwner(s.i32, H_LOCK) === workerId;
  let areas: number[];
  if (holds) {
    areas = areasOf(s, workerId); // its lock keeps the area list still
  } else {
    s.lockRaw();
    try {
      areas = areasOf(s, workerId);
    } finally {
      s.unlock();
    }
  }
  if (!holds && areas.length === 0 && s.u32[H_OP] !== workerId) {
    return { lockReleased: false, areas: 0, pages: 0 }; // nothing of it to recover
  }
  watch(s, workerId, areas);
  // The worker showed no sign of life for lockTimeoutMs: work on its state,
  // under its lock if it died holding it (nobody else may touch the arena).
  if (!holds) s.lockRaw();
  else if (s.u32[H_HEAP_BYTES] > s.viewBytes) s.refreshViews();
  let done = false;
  try {
    const u32 = s.u32;
    const op = u32[H_OP];
    if (op !== 0 && op !== workerId) {
      throw new HeapCorruptionError(
        `an operation of worker ${op} was cut short; heap.recover(${op}) repairs it`,
        H_OP * 4,
      );
    }
    // If the repair fails, the mark names the worker it is about.
    u32[H_OP] = workerId;
    if (op === workerId || holds) arenaRebuild(u32); // throws, changing nothing, if it cannot
    s.drainDeferredLocked();
    // Its pages become orphans (whatever state its lists were left in), its
    // areas tombstones.
    const pages = rebuildSlabLocked(s, workerId, 0, true);
    sweepOrphansLocked(s);
    checkHeapLocked(s, false);
    s.u32[H_OP] = 0;
    done = true;
    return { lockReleased: holds, areas: areas.length, pages };
  } finally {
    // A heap that could not be repaired stays locked by the dead worker (or
    // marked), so nobody works on it.
    if (!holds) s.unlock();
    else if (done) forceReleaseWord(s.i32, H_LOCK, workerId);
  }
}

/**
 * `Heap.detach()`'s work (after the debug quarantine is drained): gives this
 * handle's area up (empty pages to the arena, the rest as orphans) and
 * sweeps the orphans that were emptied meanwhile.
 */
export function detachArea(s: SlabAllocator): void {
  s.flushAllocCount();
  if (s.area !== 0 && s.u32[s.areaWords + A_MAGIC] !== areaMagic(s.area)) {
    dropOwnArea(s);
  }
  s.lock();
  try {
    s.begin();
    s.drainDeferredLocked();
    dropCacheLocked(s);
    // Forget the area before it is freed: a handle must never reach a freed
    // area, even when this operation is cut short.
    const area = s.area;
    s.area = 0;
    s.areaWords = 0;
    if (area !== 0) abandonAreaLocked(s, area, false);
    sweepOrphansLocked(s);
    s.end();
  } finally {
    s.unlock();
  }
}

/**
 * `Heap.restore`'s last step (its lock free): no page or area belongs to a
 * worker of the heap the snapshot came from, so every area is given up (no
 * tombstones: the old process is gone), emptied orphans are released, and
 * the heap is checked.
 */
export function restoredSlab(s: SlabAllocator): void {
  s.lock();
  try {
    const u32 = s.u32;
    dropCachesByWalkLocked(u32, areasOf(s, -1)); // the old process's arena caches
    for (let n = u32[H_SLAB_AREA_COUNT]; u32[H_SLAB_AREAS] !== 0 && n > 0; n--) {
      abandonAreaLocked(s, u32[H_SLAB_AREAS], false);
    }
    sweepOrphansLocked(s);
    checkHeapLocked(s);
  } finally {
    s.unlock();
  }
}
