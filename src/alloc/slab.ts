/**
 * Slab size classes: the fast path for small blocks (the slabmalloc family,
 * with mimalloc's per-thread pages and remote-free lists).
 *
 * A **page** is a 16 KiB block taken from the arena, aligned to 16 KiB, so the
 * page of any slab pointer is found by masking. It holds slots of one size
 * class and is owned by one worker (one `Heap` handle). The owner allocates
 * and frees its own slots without any lock or atomic operation; a slot freed
 * by another worker is pushed onto the page's remote-free list with one
 * `Atomics.compareExchange` and collected by the owner later.
 *
 * Page header (u32 words at the page base):
 * ```
 * +0 magic  +1 owner  +2 class  +3 slot bytes  +4 capacity  +5 used
 * +6 local free head  +7 remote free head (atomic)  +8 bump (first never-used slot)
 * +9 next page  +10 prev page  +11 state  +12 owning area
 * +13 check of next  +14 check of prev  +15 second magic
 * ```
 * The next and prev links each have a check word (`pageLinkCheck`: keyed by
 * the heap key, the page and the link), written with the link. A list
 * operation trusts a link whose check word matches without reading the
 * linked page's header: that page's header line is often cold, and reading
 * it (to check its magic) cost a cache miss per neighbour where the
 * unhardened code only stored to it.
 * A free slot holds the next free slot in word 0, encoded with the heap key
 * and the slot's address (`slotLink`), and `freeSlotTag(key, ptr)` in word 1;
 * allocation clears word 1, so a second free of the same slot is told apart
 * from a first one. A decoded link is used only when it is a handed-out slot
 * of the same page (on the slot grid, below the bump pointer) that carries a
 * free-slot tag; otherwise `HeapCorruptionError` (`checkedSlotLink`). The
 * heap's allocation fast path leaves out the grid test: a tag keyed by the
 * slot's address is only ever written at a slot of the page's grid, and a new
 * page's slot space is zeroed (`initPage`), so no tag of an earlier page at
 * the same address, on another grid, survives.
 *
 * Each worker has an **area** (an arena block) with, per class, the head of
 * its list of pages that may have free slots (the first is the page it
 * allocates from), the head of its list of full pages, one spare empty page
 * (hysteresis: a page is not handed back to the arena and taken again in a
 * loop), its page count and a **free-slot cache**. Areas are linked from the
 * heap header so `check`, `stats` and `recover` find them all.
 *
 * The free-slot cache holds up to `SLOT_CACHE_SLOTS` slots per class that the
 * owner freed last (a LIFO stack, like a thread cache): a local free pushes
 * the slot there without writing its page's header, and an allocation pops
 * the slot freed most recently, still in the CPU cache, before it looks at
 * any page. With many live blocks this is what keeps the slab near a plain
 * free-list allocator: a free into a page other than the current one would
 * otherwise move pages between lists, and the next allocation would take a
 * slot freed long ago. A cached slot carries its free-slot tag (a second
 * free of it is a double free) and still counts as used in its page, so a
 * page with cached slots is never given back. Each entry is the slot's
 * address XOR a mask keyed by the heap key and the entry's own address
 * (`slotCacheMask`); a popped entry is cleared, so a stray write can
 * neither forge an entry nor revive an old one, and a decoded entry is used
 * only when it names a slot carrying its free tag. The cache is emptied into
 * the pages (`flushSlotCache`) whenever an area is given up or its lists rebuilt.
 *
 * @module
 */

import { ARENA_START, H_HEAP_BYTES, H_KEY, H_SLAB_BASE, H_SLAB_WORDS } from "../heap/layout.ts";
import { HeapCorruptionError } from "../errors.ts";

/** Bytes of a slab page (and its alignment). */
export const PAGE_BYTES = 16384;
/** Bytes of the page that the slab may use: the arena keeps the last 16 for its tags. */
export const PAGE_USABLE_BYTES = PAGE_BYTES - 16;
/** Bytes of the page header; slots start at `base + PAGE_HEADER_BYTES` (64-aligned). */
export const PAGE_HEADER_BYTES = 64;
/** log2 of `PAGE_BYTES`: the alignment the arena records for a page chunk. */
export const PAGE_ALIGN_LOG = 14;
/** The most slots a page can hold (8-byte slots): bounds every walk of a page's lists. */
export const MAX_PAGE_SLOTS = Math.floor((PAGE_USABLE_BYTES - PAGE_HEADER_BYTES) / 8);
/** The largest request (in bytes) served by the slab; larger ones go to the arena. */
export const SLAB_MAX_BYTES = 1024;
/** The largest alignment served by the slab; larger ones go to the arena. */
export const SLAB_MAX_ALIGN = 64;

/**
 * Slot sizes: every 8 bytes up to 128, then 8 classes per power of two up to
 * 1024, so a request wastes at most 1/9 of its slot above 64 bytes (below 64
 * bytes at most 7 bytes, the heap's 8-byte granularity).
 */
export const CLASS_BYTES: readonly number[] = buildClasses();
/** Number of size classes. */
export const CLASS_COUNT: number = CLASS_BYTES.length;

function buildClasses(): number[] {
  const sizes: number[] = [];
  for (let s = 8; s <= 128; s += 8) sizes.push(s);
  for (let s = 144; s <= 256; s += 16) sizes.push(s);
  for (let s = 288; s <= 512; s += 32) sizes.push(s);
  for (let s = 576; s <= 1024; s += 64) sizes.push(s);
  return sizes;
}

/**
 * Class index by `(alignLog - 3) * 129 + ceil(size / 8)` for alignments 8, 16,
 * 32 and 64: the smallest class that holds the size and whose slot size is a
 * multiple of the alignment (slots start 64-aligned, so every slot is then
 * aligned).
 */
export const CLASS_OF: Uint8Array = new Uint8Array(4 * 129);
/** Slot bytes per class. */
export const SLOT_BYTES: Uint32Array = new Uint32Array(CLASS_COUNT);
/**
 * 1 / slot bytes per class: `Math.round(offset * SLOT_INV[c])` is the slot
 * index of an offset that is a multiple of the slot size (an integer division
 * costs several times more).
 */
export const SLOT_INV: Float64Array = new Float64Array(CLASS_COUNT);
for (let c = 0; c < CLASS_COUNT; c++) {
  SLOT_BYTES[c] = CLASS_BYTES[c];
  SLOT_INV[c] = 1 / CLASS_BYTES[c];
}
for (let a = 0; a < 4; a++) {
  const align = 8 << a;
  for (let g = 0; g <= 128; g++) {
    const size = g * 8;
    let c = 0;
    while (c < CLASS_COUNT && (CLASS_BYTES[c] < size || CLASS_BYTES[c] % align !== 0)) c++;
    CLASS_OF[a * 129 + g] = c; // CLASS_COUNT when nothing fits (only for align 64 near the top)
  }
}
if (CLASS_BYTES[CLASS_COUNT - 1] !== SLAB_MAX_BYTES) {
  throw new Error("Layout: slab classes end at 1024");
}
if (PAGE_HEADER_BYTES % SLAB_MAX_ALIGN !== 0) {
  throw new Error("Layout: slots must start 64-aligned");
}

/**
 * The class for a request of `sizeBytes` (≤ 1024) aligned to `2^alignLog`
 * (3..6), or `CLASS_COUNT` if no class fits.
 */
/** Class index by `ceil(size / 8)` for the default alignment (8): the hot-path table. */
export const CLASS_OF_ALIGN8: Uint8Array = CLASS_OF.subarray(0, 129);

export function classOf(sizeBytes: number, alignLog: number): number {
  return CLASS_OF[(alignLog - 3) * 129 + ((sizeBytes + 7) >>> 3)];
}

// ---- heap header words of the slab (inside the range the layout reserves) ----
/** Head of the linked list of areas. */
export const H_SLAB_AREAS = H_SLAB_BASE;
/** Pages the slab holds (arena chunks), for `check`. */
export const H_SLAB_PAGES = H_SLAB_BASE + 1;
/** Areas in the list, for `check`. */
export const H_SLAB_AREA_COUNT = H_SLAB_BASE + 2;
/** Slab allocations made by areas that were since given up: low 32 bits. */
export const H_SLAB_RETIRED_LO = H_SLAB_BASE + 3;
/** Slab allocations made by areas that were since given up: high bits. */
export const H_SLAB_RETIRED_HI = H_SLAB_BASE + 4;
/** Arena allocations made for the slab itself (pages and areas), kept out of user counts. */
export const H_SLAB_INTERNAL = H_SLAB_BASE + 5;
/**
 * Areas of recovered workers kept as tombstones (internal chunks), so a
 * handle that was still running when it was recovered never reads reused memory.
 */
export const H_SLAB_TOMBSTONES = H_SLAB_BASE + 6;
/** Per class: head of the list of orphaned pages (owner gone), adopted by any worker. */
export const H_SLAB_ORPHANS = H_SLAB_BASE + 8;
if (H_SLAB_ORPHANS + CLASS_COUNT > H_SLAB_BASE + H_SLAB_WORDS) {
  throw new Error("Layout: slab header words");
}

// ---- page header word offsets ----
export const P_MAGIC = 0;
export const P_OWNER = 1;
export const P_CLASS = 2;
export const P_SLOT = 3;
export const P_CAPACITY = 4;
export const P_USED = 5;
export const P_FREE = 6;
export const P_REMOTE = 7;
export const P_BUMP = 8;
export const P_NEXT = 9;
export const P_PREV = 10;
export const P_STATE = 11;
export const P_AREA = 12;
/** `pageLinkCheck(key, page, next)`. */
export const P_NEXT_CHECK = 13;
/** `pageLinkCheck(key, page, prev)`. */
export const P_PREV_CHECK = 14;
/** A second magic word, in the same cache line: routing a pointer to the slab needs both. */
export const P_MAGIC2 = 15;

/** Page states. */
export const STATE_ACTIVE = 1;
export const STATE_FULL = 2;
export const STATE_SPARE = 3;
export const STATE_ORPHAN = 4;

// ---- area layout ----
/** Area word offsets. */
export const A_MAGIC = 0;
export const A_WORKER = 1;
export const A_NEXT = 2;
export const A_ALLOCS_LO = 3;
export const A_ALLOCS_HI = 4;
/**
 * 1 while the owner is in a slow path that changes its page lists without
 * the heap lock; left set when that path was cut short (an exception, a
 * terminated worker), so the lists are rebuilt before anyone trusts them.
 */
export const A_BUSY = 5;
/** Bumped by the owner at every slow path and heap-lock acquisition: shows it is alive. */
export const A_BEAT = 6;
/** First class entry; each class has 4 words: active head, full head, spare, page count. */
export const A_CLASSES = 8;
export const E_ACTIVE = 0;
export const E_FULL = 1;
export const E_SPARE = 2;
export const E_PAGES = 3;
/** Slots a class's free-slot cache holds. */
export const SLOT_CACHE_SLOTS = 15;
/** Slots a full cache hands back to their pages at once (its oldest). */
export const SLOT_CACHE_SPILL = 8;
/** Words of a class's free-slot cache: the count, then `SLOT_CACHE_SLOTS` entries (entry k at +1+k). */
export const SLOT_CACHE_STRIDE = SLOT_CACHE_SLOTS + 1;
/** First word of the free-slot caches (class `c` at `A_SLOT_CACHE + c * SLOT_CACHE_STRIDE`). */
export const A_SLOT_CACHE = A_CLASSES + 4 * CLASS_COUNT;
/** Bytes of an area. */
export const AREA_BYTES = (A_SLOT_CACHE + SLOT_CACHE_STRIDE * CLASS_COUNT) * 4;

/** Key of page magic words (exported for the heap's inlined hot path). */
export const PAGE_MAGIC_KEY = 0x51ab9a6e;
const AREA_MAGIC_KEY = 0x2ea5a1ab;
const TOMBSTONE_MAGIC_KEY = 0x0d5ea5ed;
/** Key of the second page magic word (exported for the heap's inlined hot path). */
export const PAGE_MAGIC2_KEY = 0x1c6d3b27;
/** Key of free-slot tags (exported for the heap's inlined hot path). */
export const FREE_SLOT_KEY = 0x7f3ee5a9;
/** Key of free-slot cache entries (exported for the heap's inlined hot path). */
export const SLOT_CACHE_KEY = 0x6c1d7a53;

/**
 * The mask a free-slot cache entry at word `word` is XORed with, in a heap
 * keyed `key` (the heap's hot path inlines the same expression).
 */
export function slotCacheMask(key: number, word: number): number {
  return ((word << 2) ^ key ^ SLOT_CACHE_KEY) & 0x3fffffff;
}

/** The magic word of a page at `base`. */
export function pageMagic(base: number): number {
  return (base ^ PAGE_MAGIC_KEY) & 0x3fffffff; // below 2^30: a small integer in V8
}

/** The second magic word of a page at `base`. */
export function pageMagic2(base: number): number {
  return (base ^ PAGE_MAGIC2_KEY) & 0x3fffffff;
}

/** Key of page link check words. */
const PAGE_LINK_KEY = 0x3b9e1d55;

/**
 * The check word of link `link` (next or prev, 0 for none) held by the page
 * at `page`, in a heap keyed `key`. Only the list operations below write a
 * link, and they write its check word with it; a page's links are reset
 * (with their checks) when the page is initialised. So a link whose check
 * matches was written by the allocator for this page, and the allocator
 * links only pages: a stray write that changes a link (or its check) without
 * knowing the heap key fails the comparison (a chance of 2^-30 per guess).
 */
export function pageLinkCheck(key: number, page: number, link: number): number {
  return (((page ^ PAGE_LINK_KEY) + Math.imul(link ^ key, 0x9e3779b1)) & 0x3fffffff) | 1;
}

/** Sets the next link of the page at `page` (and its check word). */
function setNext(u32: Uint32Array, key: number, page: number, next: number): void {
  const h = page >>> 2;
  u32[h + P_NEXT] = next;
  u32[h + P_NEXT_CHECK] = pageLinkCheck(key, page, next);
}

/** Sets the prev link of the page at `page` (and its check word). */
function setPrev(u32: Uint32Array, key: number, page: number, prev: number): void {
  const h = page >>> 2;
  u32[h + P_PREV] = prev;
  u32[h + P_PREV_CHECK] = pageLinkCheck(key, page, prev);
}

/**
 * The next link of the page at `page` (whose header was checked), verified
 * against its check word. Throws `HeapCorruptionError` when they disagree.
 */
export function pageNext(u32: Uint32Array, page: number): number {
  const h = page >>> 2;
  const next = u32[h + P_NEXT];
  if (u32[h + P_NEXT_CHECK] !== pageLinkCheck(u32[H_KEY], page, next)) throw badLink(page, next);
  return next;
}

/** The prev link of the page at `page`, verified like `pageNext`. */
function pagePrev(u32: Uint32Array, page: number): number {
  const h = page >>> 2;
  const prev = u32[h + P_PREV];
  if (u32[h + P_PREV_CHECK] !== pageLinkCheck(u32[H_KEY], page, prev)) throw badLink(page, prev);
  return prev;
}

/** The error for a page link that does not match its check word. */
function badLink(page: number, link: number): HeapCorruptionError {
  return new HeapCorruptionError(
    `slab page ${page} links to ${link}, which its check word does not confirm (a write past a block?)`,
    page,
  );
}

/** The magic word of an area at `ptr`. */
export function areaMagic(ptr: number): number {
  return (ptr ^ AREA_MAGIC_KEY) & 0x3fffffff;
}

/** The magic word of a recovered worker's area kept as a tombstone at `ptr`. */
export function tombstoneMagic(ptr: number): number {
  return (ptr ^ TOMBSTONE_MAGIC_KEY) & 0x3fffffff;
}

/** The tag a free slot at `ptr` holds in its second word, in a heap keyed `key`. Never 0. */
export function freeSlotTag(key: number, ptr: number): number {
  return ((ptr ^ key ^ FREE_SLOT_KEY) & 0x3fffffff) | 1;
}

/** The mask a slot's free-list link (word 0 of the free slot at `ptr`) is XORed with. */
export function slotLinkMask(key: number, ptr: number): number {
  return (ptr ^ key) & 0x3fffffff;
}

/** Decodes the free-list link held by the free slot at `ptr` (no check). */
export function slotLink(u32: Uint32Array, key: number, ptr: number): number {
  return (u32[ptr >>> 2] ^ slotLinkMask(key, ptr)) >>> 0;
}

/**
 * True when `p` is a handed-out slot of the page at `base` (on its slot grid,
 * below its bump pointer) whose second word is a free-slot tag.
 */
export function isFreeSlotOf(u32: Uint32Array, key: number, base: number, p: number): boolean {
  const h = base >>> 2;
  const cls = u32[h + P_CLASS];
  const off = p - base - PAGE_HEADER_BYTES;
  return cls < CLASS_COUNT && off >= 0 && p < u32[h + P_BUMP] &&
    Math.round(off * SLOT_INV[cls]) * SLOT_BYTES[cls] === off &&
    u32[(p + 4) >>> 2] === freeSlotTag(key, p);
}

/**
 * Decodes the link held by the free slot at `ptr` of the page at `base` and
 * checks it: 0, or a free slot of the same page. Throws `HeapCorruptionError`
 * (naming the slot whose link is broken) otherwise.
 */
export function checkedSlotLink(u32: Uint32Array, key: number, base: number, ptr: number): number {
  const p = slotLink(u32, key, ptr);
  if (p !== 0 && !isFreeSlotOf(u32, key, base, p)) {
    throw new HeapCorruptionError(
      `free slot ${ptr} links to ${p}, which is not a free slot of its page (a write past a block or after free?)`,
      ptr,
    );
  }
  return p;
}

/**
 * Checks that `page` (read from byte `from`: a list head or link a stray
 * write could have reached) is a slab page: page-aligned inside the heap,
 * both magic words right, a class in range. Throws `HeapCorruptionError` otherwise.
 */
export function checkPage(u32: Uint32Array, page: number, from: number): void {
  // Called for every page a list operation touches: kept small enough for V8
  // to inline (the error is built elsewhere), the magic words first (a page
  // outside the views reads undefined there and fails).
  const h = page >>> 2;
  const cls = u32[h + P_CLASS];
  if (
    u32[h + P_MAGIC] !== pageMagic(page) || u32[h + P_MAGIC2] !== pageMagic2(page) ||
    (page & (PAGE_BYTES - 1)) !== 0 || page < ARENA_START ||
    page + PAGE_BYTES > u32[H_HEAP_BYTES] ||
    cls >= CLASS_COUNT || u32[h + P_SLOT] !== SLOT_BYTES[cls]
  ) {
    throw notAPage(page, from);
  }
}

/** The error `checkPage` throws. */
function notAPage(page: number, from: number): HeapCorruptionError {
  return new HeapCorruptionError(
    `slab metadata at ${from} names ${page}, which is not a slab page (a write past a block?)`,
    page,
  );
}

/** Slot bytes of class `cls`. */
export function slotBytes(cls: number): number {
  return SLOT_BYTES[cls];
}

/**
 * Validates `ptr` as a slot of the page at `base` (whose magic already
 * matched) and returns a reason it is not a live slot, or `""`: `"double"`
 * when the slot is free, other text for interior or never-used pointers.
 */
export function slotProblem(u32: Uint32Array, key: number, base: number, ptr: number): string {
  const h = base >>> 2;
  const cls = u32[h + P_CLASS];
  const off = ptr - base - PAGE_HEADER_BYTES;
  if (cls >= CLASS_COUNT || off < 0) return "is inside a slab page header";
  const idx = Math.round(off * SLOT_INV[cls]);
  if (idx * SLOT_BYTES[cls] !== off) return "is inside a slab slot, not at its start";
  if (ptr >= u32[h + P_BUMP]) return "is a slab slot that was never allocated";
  if (u32[(ptr + 4) >>> 2] === freeSlotTag(key, ptr)) return "double";
  return "";
}

/** Initialises a fresh page for class `cls` owned by `owner` through `area`. */
export function initPage(
  u32: Uint32Array,
  base: number,
  cls: number,
  owner: number,
  area: number,
): void {
  const h = base >>> 2;
  const slot = SLOT_BYTES[cls];
  u32[h + P_MAGIC] = pageMagic(base);
  u32[h + P_OWNER] = owner;
  u32[h + P_CLASS] = cls;
  u32[h + P_SLOT] = slot;
  u32[h + P_CAPACITY] = Math.floor((PAGE_USABLE_BYTES - PAGE_HEADER_BYTES) / slot);
  u32[h + P_USED] = 0;
  u32[h + P_FREE] = 0;
  u32[h + P_REMOTE] = 0;
  u32[h + P_BUMP] = base + PAGE_HEADER_BYTES;
  setNext(u32, u32[H_KEY], base, 0);
  setPrev(u32, u32[H_KEY], base, 0);
  u32[h + P_STATE] = STATE_ACTIVE;
  u32[h + P_AREA] = area;
  u32[h + P_MAGIC2] = pageMagic2(base);
  // No free-slot tag of an earlier page at this address (maybe of another
  // class, on another grid) survives: the fast path relies on it.
  u32.fill(0, (base + PAGE_HEADER_BYTES) >>> 2, (base + PAGE_USABLE_BYTES) >>> 2);
}

/** The end of the slot space of the page at `base` (a slot must end at or before it). */
export function pageSlotsEnd(u32: Uint32Array, base: number): number {
  const h = base >>> 2;
  return base + PAGE_HEADER_BYTES + u32[h + P_CAPACITY] * u32[h + P_SLOT];
}

/**
 * Moves the page's remote-free list onto its local free list. Returns the
 * number of slots collected. Only the owner calls this.
 */
export function collectRemote(
  u32: Uint32Array,
  i32: Int32Array,
  key: number,
  base: number,
): number {
  checkPage(u32, base, base);
  const h = base >>> 2;
  const capacity = Math.min(u32[h + P_CAPACITY], MAX_PAGE_SLOTS);
  // Walk the list first and detach it with one compare-exchange at the end:
  // the writes then follow in straight-line code, so a cut at any point (an
  // exception, a terminated worker) loses no slot. Other workers only push
  // (never pop), so an unchanged head means an unchanged list.
  for (let attempt = 0; attempt < 64; attempt++) {
    const list = Atomics.load(i32, h + P_REMOTE) >>> 0;
    if (list === 0) return 0;
    if (!isFreeSlotOf(u32, key, base, list)) {
      throw new HeapCorruptionError(
        `remote-free list of page ${base} starts at ${list}, not a free slot`,
        base,
      );
    }
    let n = 1;
    let tail = list;
    for (let next = checkedSlotLink(u32, key, base, tail); next !== 0; n++) {
      if (n > capacity) {
        throw new HeapCorruptionError(`remote-free list of page ${base} has a cycle`, base);
      }
      tail = next;
      next = checkedSlotLink(u32, key, base, tail);
    }
    if (Atomics.compareExchange(i32, h + P_REMOTE, list | 0, 0) !== (list | 0)) continue;
    u32[tail >>> 2] = u32[h + P_FREE] ^ slotLinkMask(key, tail);
    u32[h + P_FREE] = list;
    u32[h + P_USED] -= n;
    return n;
  }
  return 0; // still contended: collected on a later refill
}

/**
 * Unlinks a page from the doubly linked list whose head is at word
 * `headIndex`. Its links are verified by their check words, so the
 * neighbours' headers are only written (see the module doc).
 */
export function unlinkPage(u32: Uint32Array, headIndex: number, base: number): void {
  const key = u32[H_KEY];
  const next = pageNext(u32, base);
  const prev = pagePrev(u32, base);
  if (prev !== 0) setNext(u32, key, prev, next);
  else u32[headIndex] = next;
  if (next !== 0) setPrev(u32, key, next, prev);
  setNext(u32, key, base, 0);
  setPrev(u32, key, base, 0);
}

/** Links a page at the head of the list at word `headIndex`. */
export function pushPage(u32: Uint32Array, headIndex: number, base: number): void {
  const key = u32[H_KEY];
  const head = u32[headIndex];
  if (head !== 0) checkPage(u32, head, headIndex * 4);
  setNext(u32, key, base, head);
  setPrev(u32, key, base, 0);
  if (head !== 0) setPrev(u32, key, head, base);
  u32[headIndex] = base;
}

/** Links a page right after the head of the list (the head stays the page in use). */
export function pushPageSecond(u32: Uint32Array, headIndex: number, base: number): void {
  const head = u32[headIndex];
  if (head === 0) {
    pushPage(u32, headIndex, base);
    return;
  }
  const key = u32[H_KEY];
  checkPage(u32, head, headIndex * 4);
  const next = pageNext(u32, head);
  setNext(u32, key, base, next);
  setPrev(u32, key, base, head);
  if (next !== 0) setPrev(u32, key, next, base);
  setNext(u32, key, head, base);
}

/**
 * Checks the free-slot cache of class `cls` in the area at `area` (word
 * index `aw`): a count in range, every entry a tagged free slot of one of
 * the area's pages of that class, no slot twice, cleared words past the
 * count. Returns the cached slots; throws `HeapCorruptionError` otherwise.
 */
export function slotCacheSlots(u32: Uint32Array, key: number, area: number, cls: number): number[] {
  const c = (area >>> 2) + A_SLOT_CACHE + cls * SLOT_CACHE_STRIDE;
  const n = u32[c];
  if (n > SLOT_CACHE_SLOTS) {
    throw new HeapCorruptionError(`free-slot cache of area ${area} counts ${n} slots`, c * 4);
  }
  const out: number[] = [];
  for (let k = 0; k < SLOT_CACHE_SLOTS; k++) {
    const e = c + 1 + k;
    if (k >= n) {
      if (u32[e] !== 0) {
        throw new HeapCorruptionError(`free-slot cache of area ${area} has a stale entry`, e * 4);
      }
      continue;
    }
    const slot = (u32[e] ^ slotCacheMask(key, e)) >>> 0;
    if (!isSlotCacheable(u32, key, area, cls, slot) || out.includes(slot)) {
      throw badSlotCacheEntry(area, e, slot);
    }
    out.push(slot);
  }
  return out;
}

/** True when `slot` is a tagged free slot of one of the area's pages of class `cls`. */
function isSlotCacheable(
  u32: Uint32Array,
  key: number,
  area: number,
  cls: number,
  slot: number,
): boolean {
  const page = (slot & -PAGE_BYTES) >>> 0;
  const h = page >>> 2;
  return slot < u32[H_HEAP_BYTES] && page >= ARENA_START && u32[h + P_MAGIC] === pageMagic(page) &&
    u32[h + P_MAGIC2] === pageMagic2(page) && u32[h + P_AREA] === area &&
    u32[h + P_CLASS] === cls && isFreeSlotOf(u32, key, page, slot);
}

/** The error for a free-slot cache entry at word `e` that decodes to `slot`, not a cached slot. */
function badSlotCacheEntry(area: number, e: number, slot: number): HeapCorruptionError {
  return new HeapCorruptionError(
    `free-slot cache of area ${area} holds ${slot}, which is not a cached free slot of its class (a write past a block?)`,
    e * 4,
  );
}

/**
 * Takes the `SLOT_CACHE_SPILL` oldest slots out of the full free-slot cache of
 * class `cls` in the area at `area` (this handle's) into `out` (room for
 * `SLOT_CACHE_SLOTS`); the rest move down, re-encoded for their new entries.
 * Every entry is checked before the first write (throws
 * `HeapCorruptionError`). The slots taken are tagged free, still counted as
 * used by their pages and on no list: the caller pushes them onto their pages.
 */
export function spillSlotCache(
  u32: Uint32Array,
  key: number,
  area: number,
  cls: number,
  out: Uint32Array,
): void {
  const c = (area >>> 2) + A_SLOT_CACHE + cls * SLOT_CACHE_STRIDE;
  if (u32[c] !== SLOT_CACHE_SLOTS) {
    throw new HeapCorruptionError(`free-slot cache of area ${area} counts ${u32[c]} slots`, c * 4);
  }
  for (let k = 0; k < SLOT_CACHE_SLOTS; k++) {
    const e = c + 1 + k;
    const slot = (u32[e] ^ slotCacheMask(key, e)) >>> 0;
    if (!isSlotCacheable(u32, key, area, cls, slot)) throw badSlotCacheEntry(area, e, slot);
    out[k] = slot;
  }
  for (let k = 0; k < SLOT_CACHE_SLOTS; k++) {
    const e = c + 1 + k;
    const from = k + SLOT_CACHE_SPILL;
    u32[e] = from < SLOT_CACHE_SLOTS ? out[from] ^ slotCacheMask(key, e) : 0;
  }
  u32[c] = SLOT_CACHE_SLOTS - SLOT_CACHE_SPILL;
}

/**
 * Empties the free-slot caches of the area at `area` into their pages'
 * local free lists (the owner is gone or is this handle; the heap lock is
 * held). Every cache is checked before the first write. Returns the number
 * of slots moved.
 */
export function flushSlotCache(u32: Uint32Array, key: number, area: number): number {
  const all: number[][] = [];
  for (let cls = 0; cls < CLASS_COUNT; cls++) all.push(slotCacheSlots(u32, key, area, cls));
  let moved = 0;
  for (let cls = 0; cls < CLASS_COUNT; cls++) {
    for (const slot of all[cls]) {
      const h = ((slot & -PAGE_BYTES) >>> 0) >>> 2;
      u32[slot >>> 2] = u32[h + P_FREE] ^ slotLinkMask(key, slot);
      u32[h + P_FREE] = slot;
      u32[h + P_USED]--;
      moved++;
    }
    const c = (area >>> 2) + A_SLOT_CACHE + cls * SLOT_CACHE_STRIDE;
    u32.fill(0, c, c + SLOT_CACHE_STRIDE);
  }
  return moved;
}
