/**
 * The slab allocator of one handle: its area (per size class, the pages it
 * allocates from), the lock-free fast paths (`allocSlot`, `allocBump`,
 * `popSlot`), freeing a slot (local or remote, `freeSlot`) and validating
 * one (`checkSlot`), and the refill of a class (own pages, orphans, a new
 * page from the arena). The page format is in `slab.ts`; areas and
 * ownership (create, abandon, orphans, recovery) in `slab_area.ts`; the
 * consistency check and figures in `slab_check.ts`.
 *
 * `SlabAllocator` extends the heap lock (`src/heap/_lock.ts`), which extends
 * the handle's views (`src/heap/_core.ts`): the fast paths read the views,
 * the key and the area from this one object, and `Heap` holds one per handle.
 *
 * @module
 */

import { arenaChunkOf, arenaFree, arenaUsable, chunkBytesFor, internalTag } from "./arena.ts";
import {
  areaMagic,
  checkPage,
  collectRemote,
  freeSlotTag,
  initPage,
  isFreeSlotOf,
  pageSlotsEnd,
  pushPage,
  pushPageSecond,
  slotCacheMask,
  slotLink,
  slotLinkMask,
  slotProblem,
  spillSlotCache,
  unlinkPage,
} from "./slab.ts";
import * as format from "./slab.ts";
import { createArea, createAreaLocked, dropOwnArea, repairOwn } from "./slab_area.ts";
import { maxPages } from "./slab_check.ts";
import { DoubleFreeError, HeapCorruptionError, InvalidPointerError } from "../errors.ts";
import { HeapLock, REMOTE_PUSH_LIMIT } from "../heap/_lock.ts";
import { ARENA_START, H_OP, MAX_HEAP_BYTES } from "../heap/layout.ts";

// The page format's constants that the fast paths read, as constants of this
// module: V8 loads an imported binding (a module cell, checked for
// initialisation) at every use, which measurably slows alloc and free; a
// module-local constant is folded. Same names and values as in slab.ts.
const A_ALLOCS_HI = format.A_ALLOCS_HI;
const A_ALLOCS_LO = format.A_ALLOCS_LO;
const A_BEAT = format.A_BEAT;
const A_BUSY = format.A_BUSY;
const A_SLOT_CACHE = format.A_SLOT_CACHE;
const A_CLASSES = format.A_CLASSES;
const A_MAGIC = format.A_MAGIC;
const CLASS_BYTES = format.CLASS_BYTES;
const SLOT_CACHE_SLOTS = format.SLOT_CACHE_SLOTS;
const SLOT_CACHE_SPILL = format.SLOT_CACHE_SPILL;
const SLOT_CACHE_STRIDE = format.SLOT_CACHE_STRIDE;
const CLASS_COUNT = format.CLASS_COUNT;
const CLASS_OF = format.CLASS_OF;
const CLASS_OF_ALIGN8 = format.CLASS_OF_ALIGN8;
const E_ACTIVE = format.E_ACTIVE;
const E_FULL = format.E_FULL;
const E_PAGES = format.E_PAGES;
const E_SPARE = format.E_SPARE;
const H_SLAB_INTERNAL = format.H_SLAB_INTERNAL;
const H_SLAB_ORPHANS = format.H_SLAB_ORPHANS;
const H_SLAB_PAGES = format.H_SLAB_PAGES;
const P_AREA = format.P_AREA;
const P_BUMP = format.P_BUMP;
const P_CAPACITY = format.P_CAPACITY;
const P_CLASS = format.P_CLASS;
const P_FREE = format.P_FREE;
const P_MAGIC2 = format.P_MAGIC2;
const P_NEXT = format.P_NEXT;
const P_OWNER = format.P_OWNER;
const P_REMOTE = format.P_REMOTE;
const P_SLOT = format.P_SLOT;
const P_STATE = format.P_STATE;
const P_USED = format.P_USED;
const PAGE_ALIGN_LOG = format.PAGE_ALIGN_LOG;
const PAGE_BYTES = format.PAGE_BYTES;
const PAGE_HEADER_BYTES = format.PAGE_HEADER_BYTES;
const PAGE_MAGIC2_KEY = format.PAGE_MAGIC2_KEY;
const PAGE_MAGIC_KEY = format.PAGE_MAGIC_KEY;
const PAGE_USABLE_BYTES = format.PAGE_USABLE_BYTES;
const SLAB_MAX_ALIGN = format.SLAB_MAX_ALIGN;
const SLAB_MAX_BYTES = format.SLAB_MAX_BYTES;
const SLOT_BYTES = format.SLOT_BYTES;
const SLOT_INV = format.SLOT_INV;
const STATE_ACTIVE = format.STATE_ACTIVE;
const STATE_FULL = format.STATE_FULL;
const STATE_SPARE = format.STATE_SPARE;

/** Masks a pointer down to the start of its (possible) slab page. */
const PAGE_MASK = -PAGE_BYTES;
/** `realloc` copies up to this many bytes with a word loop (a `copyWithin` call costs more below it). */
const WORD_COPY_MAX_BYTES = 256;

/** One handle's slab allocator over its heap (see the module doc). */
export class SlabAllocator extends HeapLock {
  /**
   * Slab allocations not yet added to the area's counter: a JS field is
   * cheaper on the hot path; it is flushed on every page refill, `stats()` and
   * `detach()`, so other workers' counts lag by at most one page of allocations.
   */
  pendingAllocs = 0;
  /** The slots a full free-slot cache hands back to their pages (`spillSlotCache`), reused. */
  readonly spilled: Uint32Array = new Uint32Array(SLOT_CACHE_SLOTS);

  /** Makes this handle's slab area if it has none (heap lock held): for its arena cache. */
  override ensureAreaLocked(): boolean {
    return this.area !== 0 || createAreaLocked(this);
  }

  /**
   * The allocation fast path: a slot for a request of `sizeBytes` aligned to
   * `alignBytes` from this worker's pages, or 0 when the request is not one
   * for this path (the caller validates it and goes the general way) or no
   * page could be had.
   */
  allocSmall(sizeBytes: number, alignBytes: number): number {
    if (
      typeof sizeBytes === "number" && (sizeBytes >>> 0) === sizeBytes &&
      sizeBytes <= SLAB_MAX_BYTES
    ) {
      if (alignBytes === 8) return this.allocSlot(CLASS_OF_ALIGN8[(sizeBytes + 7) >>> 3]);
      return this.allocAligned(sizeBytes, alignBytes);
    }
    return 0;
  }

  /**
   * `allocSmall` for an alignment other than 8: a power of two up to 64 (below
   * 8 counts as 8: every slot is 8-aligned) is served by the smallest class
   * whose slot size is a multiple of it; anything else returns 0.
   */
  allocAligned(sizeBytes: number, alignBytes: number): number {
    if (
      (alignBytes >>> 0) === alignBytes && alignBytes !== 0 && alignBytes <= SLAB_MAX_ALIGN &&
      (alignBytes & (alignBytes - 1)) === 0
    ) {
      // Row (alignLog - 3) of CLASS_OF: 28 - clz32 is log2 - 3.
      const row = alignBytes <= 8 ? 0 : (28 - Math.clz32(alignBytes)) * 129;
      const cls = CLASS_OF[row + ((sizeBytes + 7) >>> 3)];
      if (cls < CLASS_COUNT) return this.allocSlot(cls);
    }
    return 0;
  }

  /**
   * `Heap.allocClass`: validates a class index (kept here, next to
   * `CLASS_COUNT`: the hot path of `SlabClass.alloc`), then `allocSlot`.
   */
  allocClass(classIndex: number): number {
    if (typeof classIndex !== "number") {
      throw new TypeError(
        `Cannot allocate from slab class: index must be a number: ${typeof classIndex}`,
      );
    }
    if ((classIndex >>> 0) !== classIndex || classIndex >= CLASS_COUNT) {
      throw new RangeError(
        `Cannot allocate from slab class: index must be an integer in [0, ${CLASS_COUNT}): ${classIndex}`,
      );
    }
    return this.allocSlot(classIndex);
  }

  /** `allocClass` without the index check: the hot path for `alloc` and `SlabClass`. */
  allocSlot(classIndex: number): number {
    // The slot this worker freed last in this class (the free-slot cache, see
    // slab.ts), else the current page.
    const aw = this.areaWords;
    if (aw !== 0) {
      const u32 = this.u32;
      const c = aw + A_SLOT_CACHE + classIndex * SLOT_CACHE_STRIDE;
      const n = u32[c];
      if (n !== 0 && n <= SLOT_CACHE_SLOTS) {
        const e = c + n;
        const slot = (u32[e] ^ (((e << 2) ^ this.slotCacheKey) & 0x3fffffff)) >>> 0;
        // Only a slot carrying its free tag (keyed by its address) is taken.
        if (u32[(slot + 4) >>> 2] !== (((slot ^ this.slotKey) & 0x3fffffff) | 1)) {
          return this.badSlotCacheEntry(e, slot);
        }
        u32[e] = 0;
        u32[c] = n - 1;
        u32[(slot + 4) >>> 2] = 0;
        this.pendingAllocs++;
        return slot;
      }
    }
    return this.allocFromPage(classIndex);
  }

  /** `allocSlot` when the free-slot cache is empty: the current page's free list. */
  allocFromPage(classIndex: number): number {
    // Kept under V8's inlining limit (460 bytes of bytecode): the bump path is a call.
    const aw = this.areaWords;
    if (aw !== 0) {
      const u32 = this.u32;
      const page = u32[aw + A_CLASSES + (classIndex << 2)];
      const h = page >>> 2;
      const slot = u32[h + P_FREE];
      // The page's magic (keyed by its address) first: a write that ran into
      // the page header overwrote it before any other field.
      if (slot !== 0 && u32[h] === ((page ^ PAGE_MAGIC_KEY) & 0x3fffffff)) {
        // The head came from a decoded link: check it before use, a slot
        // past the header and below bump whose second word is its free tag.
        // That also puts it on the slot grid without a division: the tag is
        // keyed by the heap key and the slot's own address, so only the
        // allocator writes it (a stray write matches with chance 2^-30), and
        // the allocator writes it only at slots of the page's grid. Tags of
        // an earlier use of the same page (another class, another grid) are
        // gone: initPage zeroes the slot space of every new page. The
        // page's class is compared too: a class head overwritten with
        // another real page's address must not hand out that page's slots
        // (of another size) for this class.
        if (
          slot < page + PAGE_HEADER_BYTES || slot >= u32[h + P_BUMP] ||
          u32[h + P_CLASS] !== classIndex ||
          u32[(slot + 4) >>> 2] !== (((slot ^ this.slotKey) & 0x3fffffff) | 1)
        ) {
          return this.badSlotLink(page, slot);
        }
        u32[h + P_FREE] = (u32[slot >>> 2] ^ ((slot ^ this.key) & 0x3fffffff)) >>> 0;
        u32[(slot + 4) >>> 2] = 0;
        u32[h + P_USED]++;
        this.pendingAllocs++;
        return slot;
      }
    }
    return this.allocBump(classIndex);
  }

  /** `allocSlot` when the current page's free list is empty: the next never-used slot, else a refill. */
  allocBump(classIndex: number): number {
    const aw = this.areaWords;
    if (aw !== 0) {
      const u32 = this.u32;
      const page = u32[aw + A_CLASSES + (classIndex << 2)];
      const h = page >>> 2;
      if (
        page !== 0 && u32[h] === ((page ^ PAGE_MAGIC_KEY) & 0x3fffffff) && u32[h + P_FREE] === 0
      ) {
        const slot = u32[h + P_BUMP];
        const size = u32[h + P_SLOT];
        const off = slot - page - PAGE_HEADER_BYTES;
        if (
          slot + size <= page + PAGE_USABLE_BYTES && u32[h + P_USED] < u32[h + P_CAPACITY] &&
          off >= 0 && size === CLASS_BYTES[classIndex] &&
          Math.round(off * SLOT_INV[classIndex]) * size === off
        ) {
          u32[h + P_BUMP] = slot + size;
          u32[(slot + 4) >>> 2] = 0;
          u32[h + P_USED]++;
          this.pendingAllocs++;
          return slot;
        }
      }
    }
    return this.allocClassSlow(classIndex);
  }

  /** Adds the pending slab allocation count to this handle's area words. */
  flushAllocCount(): void {
    const aw = this.areaWords;
    if (aw === 0 || this.pendingAllocs === 0) return;
    const u32 = this.u32;
    const total = u32[aw + A_ALLOCS_LO] + this.pendingAllocs;
    u32[aw + A_ALLOCS_LO] = total;
    if (total >= 2 ** 32) u32[aw + A_ALLOCS_HI] += Math.floor(total / 2 ** 32);
    this.pendingAllocs = 0;
  }

  /** Refills this worker's pages of a class: remote frees, full pages, the spare, orphans, then a new page. */
  allocClassSlow(classIndex: number): number {
    if (this.areaWords !== 0 && this.u32[this.areaWords + A_MAGIC] !== areaMagic(this.area)) {
      dropOwnArea(this); // recovered while it was still running: start afresh
    }
    if (this.areaWords === 0 && !createArea(this)) return 0;
    this.flushAllocCount();
    const aw = this.areaWords;
    const u32 = this.u32;
    if (u32[aw + A_BUSY] !== 0) repairOwn(this); // a cut-short slow path: rebuild the lists
    this.u32[aw + A_BUSY] = 1;
    const ptr = this.refillFromOwnPages(classIndex);
    this.u32[aw + A_BUSY] = 0;
    if (ptr !== 0) {
      this.u32[aw + A_BEAT]++; // a heartbeat for recover()
      return ptr;
    }
    // 4. Orphaned pages of this class, else a new page: under the heap lock.
    this.lock();
    try {
      this.begin();
      const p = this.refillLocked(classIndex);
      if (p !== 0) this.end();
      else this.u32[H_OP] = 0;
      return p;
    } finally {
      this.unlock();
    }
  }

  /**
   * Steps 1-3 of a refill, on this worker's own lists (no lock): returns a
   * slot, or 0 when a page must come from the orphans or the arena.
   */
  refillFromOwnPages(classIndex: number): number {
    const u32 = this.u32;
    const entry = this.areaWords + A_CLASSES + (classIndex << 2);
    // 1. Pages in use: collect their remote frees; retire the full ones.
    for (let n = Math.min(u32[entry + E_PAGES], maxPages(this.u32)) + 1; n > 0; n--) {
      const page = u32[entry + E_ACTIVE];
      if (page === 0) break;
      collectRemote(u32, this.i32, this.key, page);
      if (this.pageHasRoom(page)) return this.popSlot(classIndex);
      unlinkPage(u32, entry + E_ACTIVE, page);
      u32[(page >>> 2) + P_STATE] = STATE_FULL;
      pushPage(u32, entry + E_FULL, page);
    }
    // 2. Full pages that other workers freed slots in.
    let page = u32[entry + E_FULL];
    for (let n = Math.min(u32[entry + E_PAGES], maxPages(this.u32)); page !== 0 && n > 0; n--) {
      const next = u32[(page >>> 2) + P_NEXT];
      // A page with no remote frees is skipped on one plain read (no write
      // follows, so an unchecked page costs nothing); collectRemote checks
      // the page before it moves a list. A damaged link reads as garbage
      // here at worst: the walk is bounded, and unlinkPage checks its pages.
      if (u32[(page >>> 2) + P_REMOTE] !== 0 && collectRemote(u32, this.i32, this.key, page) > 0) {
        unlinkPage(u32, entry + E_FULL, page);
        u32[(page >>> 2) + P_STATE] = STATE_ACTIVE;
        pushPage(u32, entry + E_ACTIVE, page);
        return this.popSlot(classIndex);
      }
      page = next;
    }
    // 3. The spare page.
    page = u32[entry + E_SPARE];
    if (page !== 0) {
      u32[entry + E_SPARE] = 0;
      u32[(page >>> 2) + P_STATE] = STATE_ACTIVE;
      pushPage(u32, entry + E_ACTIVE, page);
      return this.popSlot(classIndex);
    }
    return 0;
  }

  /**
   * Step 4 of a refill (heap lock held): adopts orphaned pages of the class
   * (the full ones join this worker's full pages), else takes a new page
   * from the arena. Returns a slot, or 0 when no page can be had.
   */
  refillLocked(classIndex: number): number {
    const entry = this.areaWords + A_CLASSES + (classIndex << 2);
    let page = 0;
    {
      // lock() and allocLocked() may rebuild the views after growth: re-read them.
      const u32 = this.u32;
      for (let n = Math.min(u32[H_SLAB_PAGES], maxPages(this.u32)); n > 0; n--) {
        page = u32[H_SLAB_ORPHANS + classIndex];
        if (page === 0) break;
        unlinkPage(u32, H_SLAB_ORPHANS + classIndex, page);
        const h = page >>> 2;
        u32[h + P_OWNER] = this.workerId;
        u32[h + P_AREA] = this.area;
        collectRemote(u32, this.i32, this.key, page);
        u32[entry + E_PAGES]++;
        if (this.pageHasRoom(page)) {
          u32[h + P_STATE] = STATE_ACTIVE;
          pushPage(u32, entry + E_ACTIVE, page);
          return this.popSlot(classIndex);
        }
        u32[h + P_STATE] = STATE_FULL;
        pushPage(u32, entry + E_FULL, page);
      }
      const ptr = this.allocLocked(chunkBytesFor(PAGE_USABLE_BYTES), PAGE_ALIGN_LOG);
      if (ptr === 0) return 0;
      const v = this.u32; // fresh after any growth
      v[(ptr - 4) >>> 2] = internalTag(this.key, ptr - 8, PAGE_ALIGN_LOG); // never a user pointer
      page = ptr;
      initPage(v, page, classIndex, this.workerId, this.area);
      v[H_SLAB_PAGES]++;
      v[H_SLAB_INTERNAL]++;
      v[entry + E_PAGES]++;
      pushPage(v, entry + E_ACTIVE, page);
      return this.popSlot(classIndex);
    }
  }

  /** The allocation fast path found that the free-slot cache entry at word `e` names `slot`, not a free slot. */
  badSlotCacheEntry(e: number, slot: number): never {
    throw new HeapCorruptionError(
      `free-slot cache entry at ${
        e * 4
      } names ${slot}, which is not a free slot (a write past a block?)`,
      e * 4,
    );
  }

  /** The allocation fast path found that the head `slot` of `page`'s free list is not a free slot. */
  badSlotLink(page: number, slot: number): never {
    throw new HeapCorruptionError(
      `slab page ${page}'s free list reaches ${slot}, which is not a free slot of the page (a write past a block or after free?)`,
      page,
    );
  }

  /**
   * Takes a slot from the current page of `classIndex` after a refill made
   * one available (the allocation fast path, without falling back to the
   * refill: a page whose fields disagree is reported, never retried).
   */
  popSlot(classIndex: number): number {
    const u32 = this.u32;
    const page = u32[this.areaWords + A_CLASSES + (classIndex << 2)];
    const h = page >>> 2;
    checkPage(u32, page, this.areaWords * 4);
    let slot = u32[h + P_FREE];
    if (slot !== 0) {
      if (!isFreeSlotOf(u32, this.key, page, slot)) this.badSlotLink(page, slot);
      u32[h + P_FREE] = slotLink(u32, this.key, slot);
    } else {
      slot = u32[h + P_BUMP];
      if (
        slot + u32[h + P_SLOT] > page + PAGE_USABLE_BYTES || u32[h + P_USED] >= u32[h + P_CAPACITY]
      ) {
        throw new HeapCorruptionError(
          "slab page has room by its lists but not by its counts",
          page,
        );
      }
      u32[h + P_BUMP] = slot + u32[h + P_SLOT];
    }
    u32[(slot + 4) >>> 2] = 0;
    u32[h + P_USED]++;
    this.pendingAllocs++;
    return slot;
  }

  /** True when the page has a free slot or room to bump. */
  pageHasRoom(page: number): boolean {
    const u32 = this.u32;
    const h = page >>> 2;
    return u32[h + P_FREE] !== 0 || u32[h + P_BUMP] + u32[h + P_SLOT] <= pageSlotsEnd(u32, page);
  }

  /** True when `base` (whose first word matched a page magic) is a slab page chunk of the arena. */
  isPage(base: number): boolean {
    return base >= ARENA_START + 8 &&
      this.u32[(base - 4) >>> 2] === internalTag(this.key, base - 8, PAGE_ALIGN_LOG);
  }

  /** The slab page that `ptr` points into, or 0 when it is not a slab pointer. */
  slabPageOf(ptr: number): number {
    if (typeof ptr !== "number" || (ptr >>> 0) !== ptr) return 0;
    return this.pageOf(ptr);
  }

  /** `slabPageOf` for a pointer known to be a uint32 (the free fast path). */
  pageOf(ptr: number): number {
    if (ptr >= this.viewBytes) this.refreshViews(); // a pointer from a worker that grew the heap
    const u32 = this.u32;
    const base = (ptr & PAGE_MASK) >>> 0;
    const h = base >>> 2;
    // A slab page: two magic words keyed by its address, in one cache line
    // (a copy of a page elsewhere does not match; a released page's are cleared).
    return u32[h] === ((base ^ PAGE_MAGIC_KEY) & 0x3fffffff) &&
        u32[h + P_MAGIC2] === ((base ^ PAGE_MAGIC2_KEY) & 0x3fffffff)
      ? base
      : 0;
  }

  /**
   * Throws unless `ptr` is a live slot of the page at `base` (whose magic
   * matched): the one validation of a slot that `free`, `realloc` and
   * `usableSize` are given. The test is `slotProblem`'s, inline; that
   * function names what is wrong.
   */
  checkSlot(operation: string, base: number, ptr: number): void {
    const u32 = this.u32;
    const h = base >>> 2;
    const cls = u32[h + P_CLASS];
    const off = ptr - base - PAGE_HEADER_BYTES;
    if (
      cls < CLASS_COUNT && off >= 0 && ptr < u32[h + P_BUMP] &&
      u32[(ptr + 4) >>> 2] !== (((ptr ^ this.slotKey) & 0x3fffffff) | 1) &&
      Math.round(off * SLOT_INV[cls]) * u32[h + P_SLOT] === off
    ) {
      return;
    }
    this.badSlot(operation, base, ptr);
  }

  /** Throws the error naming why `ptr` is not a live slot of the page at `base` (if it is not). */
  badSlot(operation: string, base: number, ptr: number): void {
    const problem = slotProblem(this.u32, this.key, base, ptr);
    if (problem === "") return;
    if (problem === "double") throw new DoubleFreeError(operation, ptr);
    throw new InvalidPointerError(operation, ptr, problem);
  }

  /**
   * Frees `ptr` (heap-relative, a uint32) when it points into a slab page:
   * the one place a slot is freed. Returns false, doing nothing, when it is
   * not a slab pointer (the caller goes to the arena). The slot is validated
   * here (`checkSlot`) unless the caller just did (`validated`). When the
   * page is this worker's, it is pushed onto the class's free-slot cache with
   * no lock, no atomics and no write to the page (a full cache first hands
   * its oldest slots to their pages, `freeSpilling`); else onto the page's
   * remote-free list. Kept as one flat function: when a nested call of the
   * free path was not inlined into the caller's loop (V8's budget), alloc +
   * free lost 15-25%.
   */
  freeSlot(operation: string, ptr: number, validated: boolean): boolean {
    if (ptr >= this.viewBytes) this.refreshViews(); // a pointer from a worker that grew the heap
    const u32 = this.u32;
    const base = (ptr & PAGE_MASK) >>> 0;
    const h = base >>> 2;
    // A slab page: two magic words keyed by its address, in one cache line
    // (a copy of a page elsewhere does not match; a released page's are cleared).
    if (
      u32[h] !== ((base ^ PAGE_MAGIC_KEY) & 0x3fffffff) ||
      u32[h + P_MAGIC2] !== ((base ^ PAGE_MAGIC2_KEY) & 0x3fffffff)
    ) {
      return false;
    }
    if (!validated) this.checkSlot(operation, base, ptr);
    if (u32[h + P_OWNER] !== this.workerId || this.areaWords === 0) {
      this.freeRemote(operation, base, ptr);
      return true;
    }
    const c = this.areaWords + A_SLOT_CACHE + u32[h + P_CLASS] * SLOT_CACHE_STRIDE;
    const n = u32[c];
    if (n >= SLOT_CACHE_SLOTS) {
      this.freeSpilling(c, ptr);
      return true;
    }
    const e = c + n + 1;
    u32[e] = ptr ^ (((e << 2) ^ this.slotCacheKey) & 0x3fffffff);
    u32[(ptr + 4) >>> 2] = ((ptr ^ this.slotKey) & 0x3fffffff) | 1;
    u32[c] = n + 1;
    return true;
  }

  /**
   * `freeSlot` of a slot of this worker's page when its class's cache (at
   * word `c`) is full: the cache's oldest slots go to their pages' free
   * lists (every entry is checked before the first write), the slot onto it.
   */
  freeSpilling(c: number, ptr: number): void {
    const cls = (c - this.areaWords - A_SLOT_CACHE) / SLOT_CACHE_STRIDE;
    spillSlotCache(this.u32, this.key, this.area, cls, this.spilled);
    const u32 = this.u32;
    const e = c + u32[c] + 1;
    u32[e] = ptr ^ slotCacheMask(this.key, e);
    u32[(ptr + 4) >>> 2] = freeSlotTag(this.key, ptr);
    u32[c]++;
    for (let k = 0; k < SLOT_CACHE_SPILL; k++) {
      const slot = this.spilled[k];
      this.freeToPage((slot & PAGE_MASK) >>> 0, slot);
    }
  }

  /** Pushes `ptr`, a slot of this worker's page at `base` tagged free, onto the page's free list. */
  freeToPage(base: number, ptr: number): void {
    const u32 = this.u32;
    const h = base >>> 2;
    u32[ptr >>> 2] = u32[h + P_FREE] ^ ((ptr ^ this.key) & 0x3fffffff);
    u32[(ptr + 4) >>> 2] = ((ptr ^ this.slotKey) & 0x3fffffff) | 1;
    u32[h + P_FREE] = ptr;
    const used = u32[h + P_USED] - 1;
    u32[h + P_USED] = used;
    if (
      u32[h + P_STATE] !== STATE_ACTIVE ||
      (used === 0 && u32[this.areaWords + A_CLASSES + (u32[h + P_CLASS] << 2)] !== base)
    ) {
      this.pageChanged(base); // a full page has room again, or a page other than the current one is empty
    }
  }

  /**
   * `realloc` of the slot `ptr` of the page at `base` to `sizeBytes` (a
   * validated size): the slot is validated once; it stays when the size
   * still maps to its class (or fills more than half of it); else a block of
   * the slot's alignment is taken straight from a class (or the arena above
   * 1024 bytes, or when no page can be had), the data copied (a word loop for
   * small blocks) and the slot freed. Returns the heap-relative block, or 0
   * when out of memory (the slot is then unchanged).
   */
  reallocSlot(base: number, ptr: number, sizeBytes: number): number {
    this.checkSlot("reallocate", base, ptr);
    const cls = this.u32[(base >>> 2) + P_CLASS];
    const slot = SLOT_BYTES[cls];
    // Keep the alignment the slot had: slots start 64-aligned, so a slot is
    // aligned to the largest power of two (up to 64) dividing its size.
    const alignBytes = Math.min(SLAB_MAX_ALIGN, slot & -slot);
    const alignLog = 31 - Math.clz32(alignBytes);
    let moved = 0;
    if (sizeBytes <= SLAB_MAX_BYTES) {
      const to = CLASS_OF[(alignLog - 3) * 129 + ((sizeBytes + 7) >>> 3)];
      if (to === cls || (sizeBytes <= slot && sizeBytes > slot >>> 1)) return ptr;
      if (to < CLASS_COUNT) moved = this.allocSlot(to);
    }
    if (moved === 0) {
      const needBytes = chunkBytesFor(sizeBytes);
      if (needBytes > MAX_HEAP_BYTES) return 0;
      moved = this.allocArena(needBytes, alignLog);
      if (moved === 0) return 0;
    }
    const bytes = slot < sizeBytes ? slot : sizeBytes;
    if (bytes <= WORD_COPY_MAX_BYTES) {
      // Whole words: both blocks hold the rounded-up length (slots are
      // multiples of 8; an arena block's usable size is a multiple of 4).
      const u32 = this.u32; // fresh after any growth
      const from = ptr >>> 2;
      const to = moved >>> 2;
      for (let i = 0, n = (bytes + 3) >>> 2; i < n; i++) u32[to + i] = u32[from + i];
    } else {
      this.u8.copyWithin(moved, ptr, ptr + bytes);
    }
    this.freeSlot("reallocate", ptr, true); // validated above
    return moved;
  }

  /**
   * Frees a live slot of another worker's page: claims the slot's tag
   * atomically, so two workers freeing the same slot at once cannot both
   * push it, then pushes it onto the page's remote-free list.
   */
  freeRemote(operation: string, base: number, ptr: number): void {
    const i32 = this.i32;
    const tag = freeSlotTag(this.key, ptr);
    if (Atomics.exchange(i32, (ptr + 4) >>> 2, tag) === tag) {
      throw new DoubleFreeError(operation, ptr);
    }
    const h = base >>> 2;
    for (let attempt = 0; attempt < REMOTE_PUSH_LIMIT; attempt++) {
      const head = Atomics.load(i32, h + P_REMOTE);
      i32[ptr >>> 2] = head ^ slotLinkMask(this.key, ptr);
      if (Atomics.compareExchange(i32, h + P_REMOTE, head, ptr | 0) === head) return;
    }
    throw new Error(
      `Cannot free pointer: ${ptr}: remote-free list of page ${base} stayed contended`,
    );
  }

  /** The owner's slow path after a local free: a full page has room again, or a page is empty. */
  pageChanged(base: number): void {
    const aw = this.areaWords;
    const u32 = this.u32;
    // While a rebuild of this area is pending, leave the lists alone.
    if (u32[aw + A_BUSY] !== 0 || u32[aw + A_MAGIC] !== areaMagic(this.area)) return;
    u32[aw + A_BUSY] = 1; // cleared when the lists are whole again
    u32[aw + A_BEAT]++; // a heartbeat for recover()
    this.pageChangedBusy(base);
    this.u32[aw + A_BUSY] = 0;
  }

  /** `pageChanged` with this area marked busy. */
  pageChangedBusy(base: number): void {
    const u32 = this.u32;
    const h = base >>> 2;
    const entry = this.areaWords + A_CLASSES + (u32[h + P_CLASS] << 2);
    if (u32[h + P_STATE] === STATE_FULL) {
      unlinkPage(u32, entry + E_FULL, base);
      u32[h + P_STATE] = STATE_ACTIVE;
      pushPageSecond(u32, entry + E_ACTIVE, base);
    }
    if (u32[h + P_USED] !== 0 || u32[entry + E_ACTIVE] === base) return;
    // An empty page that is not the one in use: keep one spare, give the rest back.
    if (u32[entry + E_SPARE] === 0) {
      unlinkPage(u32, entry + E_ACTIVE, base);
      u32[h + P_STATE] = STATE_SPARE;
      u32[entry + E_SPARE] = base;
      return;
    }
    // Giving a page back needs the heap lock. A free must not wait for it (nor
    // fail after changing state), so when the lock is busy the empty page
    // simply stays in the list and is reused or given back later.
    if (!this.tryLock()) return;
    try {
      const v = this.u32;
      this.begin();
      unlinkPage(v, entry + E_ACTIVE, base);
      v[entry + E_PAGES]--;
      this.releasePageLocked(base);
      this.end();
    } finally {
      this.unlock();
    }
  }

  /** Gives an empty page back to the arena (heap lock held). */
  releasePageLocked(base: number): void {
    const u32 = this.u32;
    u32[base >>> 2] = 0; // no stale magic may route a later pointer here
    u32[(base >>> 2) + P_MAGIC2] = 0;
    u32[H_SLAB_PAGES]--;
    arenaFree(u32, base - 8);
  }

  /**
   * Usable bytes of the live block at `ptr` (heap-relative): a slab slot's
   * size, or an arena block's. Throws the pointer errors of `free` otherwise.
   */
  usableOf(operation: string, ptr: number): number {
    const base = this.slabPageOf(ptr);
    if (base !== 0) {
      this.checkSlot(operation, base, ptr);
      return this.u32[(base >>> 2) + P_SLOT];
    }
    this.lock();
    try {
      arenaChunkOf(this.u32, this.key, operation, ptr);
      return arenaUsable(this.u32, ptr);
    } finally {
      this.unlock();
    }
  }
}
