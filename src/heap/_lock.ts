/**
 * The heap lock: one word of the header (`H_LOCK`), taken for every arena
 * operation and for the slab's slow paths. It also keeps the operation mark
 * (`H_OP`, set while an operation writes, so one cut short by an exception is
 * reported by the next lock as `HeapCorruptionError` through the word's cut
 * state), and the list of arena blocks whose free was deferred because the
 * lock was busy.
 *
 * @module
 */

import { arenaChunkOf, chunkBytesFor } from "../alloc/arena.ts";
import { CHUNK_OVERHEAD, MAX_HEAP_BYTES, SIZE_MASK } from "./layout.ts";
import { OutOfMemoryError } from "../errors.ts";

import {
  arenaAlloc,
  arenaFree,
  arenaResizeInPlace,
  arenaResizeIntoPrevious,
  internalTag,
  tagAlignLog,
} from "../alloc/arena.ts";
import { A_BEAT } from "../alloc/slab.ts";
import { HeapCorruptionError } from "../errors.ts";
import { LockStateError } from "../sync/errors.ts";
import { lockWord, unlockWord, wordOwner } from "../sync/lock_word.ts";
import { HeapCore } from "./_core.ts";
import { K_FLUSH, ownCacheFlushLocked, requestCacheFlushesLocked } from "../alloc/arena_cache.ts";
import {
  ARENA_START,
  H_DEFERRED,
  H_HEAP_BYTES,
  H_LOCK,
  H_LOCK_TIMEOUT_MS,
  H_OP,
  LOCK_CUT_OWNER,
  MIN_CHUNK,
  USED_BIT,
} from "./layout.ts";

/** How long the heap lock is waited for when the header's timeout word reads 0 (never written so). */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** Spins on a contended heap lock before `lockWord` spins its own short while and sleeps. */
const HEAP_LOCK_SPINS = 4000;
/** Compare-exchange attempts on the heap lock word in a take-over or a cut-state release. */
const FORCE_TAKE_LIMIT = 8;
/** A lock-free push gives up after this many lost compare-exchange races (never seen in practice). */
export const REMOTE_PUSH_LIMIT = 1 << 20;

/** A handle with the heap lock's operations (see the module doc). */
export class HeapLock extends HeapCore {
  /** This handle's arena cache block (0 when none; see `src/alloc/arena_cache.ts`). */
  cache = 0;
  /**
   * Heap-lock waits counted toward starting the arena cache (at
   * `CACHE_AFTER_WAITS`); set there for `arenaCache: true`, to `CACHE_NEVER`
   * for `false` and in debug mode.
   */
  cacheWaits = 0;

  /** Makes sure this handle has a slab area (heap lock held; the slab allocator makes one). */
  ensureAreaLocked(): boolean {
    return this.area !== 0;
  }

  /**
   * Takes the heap lock (bounded by the heap's lock timeout). Throws
   * `HeapCorruptionError`, not holding the lock, when an operation was cut
   * short: its release left the lock word in the cut state (see `H_OP`), so
   * the compare-exchange fails and `lockContended` reports it; the
   * uncontended path tests nothing else.
   */
  lock(): void {
    const i32 = this.i32;
    if (Atomics.compareExchange(i32, H_LOCK, 0, this.workerId << 1) !== 0) this.lockContended();
    if (this.u32[H_HEAP_BYTES] > this.viewBytes) this.refreshViews();
  }

  /**
   * Takes the heap lock, without looking at the heap's marks: a lock word in
   * the cut state is taken over (for `recover()`, which repairs the heap).
   */
  lockRaw(): void {
    const i32 = this.i32;
    const mine = this.workerId << 1;
    // The word leaves the cut state only by a take-over like this one, so
    // the loop ends within a few passes; the bound is for safety.
    for (let attempt = 0; attempt < FORCE_TAKE_LIMIT; attempt++) {
      const seen = Atomics.load(i32, H_LOCK);
      if (isCutWord(seen)) {
        if (Atomics.compareExchange(i32, H_LOCK, seen, mine) === seen) break;
      } else if (seen !== 0 && seen >>> 1 === this.workerId) {
        break; // ours: an unlock was cut short
      } else {
        try {
          this.lockContended(); // takes a free word, or waits for the holder
          break;
        } catch (e) {
          // The holder's release left the cut state: take it over above.
          if (!(e instanceof HeapCorruptionError) || !isCutWord(Atomics.load(i32, H_LOCK))) throw e;
        }
      }
    }
    if (wordOwner(i32, H_LOCK) !== this.workerId) {
      throw new LockStateError("acquire lock", wordOwner(i32, H_LOCK), this.workerId);
    }
    if (this.u32[H_HEAP_BYTES] > this.viewBytes) this.refreshViews();
  }

  /**
   * Marks the start of an operation that writes (heap lock held): the mark
   * stays if the operation is cut short.
   */
  begin(): void {
    this.u32[H_OP] = this.workerId;
  }

  /**
   * Ends an operation that changed the heap (heap lock held): clears its mark
   * and renews this handle's heartbeats, which `recover()` watches. (A failed
   * operation only clears the mark: bad input changes no byte.)
   */
  end(): void {
    const u32 = this.u32;
    u32[H_OP] = 0;
    if (this.areaWords !== 0) u32[this.areaWords + A_BEAT]++;
  }

  /** The error for a heap whose lock word or mark says worker `op`'s operation was cut short. */
  cutError(op: number): HeapCorruptionError {
    return new HeapCorruptionError(
      `an operation of worker ${op} was cut short; heap.recover(${op}) repairs it`,
      H_OP * 4,
    );
  }

  /**
   * Frees the blocks whose free was deferred, if any (heap lock held). Runs
   * on the less frequent paths (`realloc`, an allocation about to grow the
   * heap, `stats`, `check`, `detach`, `recover`), not on every lock.
   */
  drainDeferredIfAnyLocked(): void {
    const u32 = this.u32;
    if (u32[H_DEFERRED] === 0) return;
    const op = u32[H_OP];
    u32[H_OP] = this.workerId;
    this.drainDeferredLocked(); // throws with the mark set if the list is broken
    this.u32[H_OP] = op;
  }

  /**
   * Takes the heap lock if it is free (for a free that must not wait);
   * returns false when it is busy or an operation's mark is set.
   */
  tryLock(): boolean {
    const seen = Atomics.compareExchange(this.i32, H_LOCK, 0, this.workerId << 1);
    if (seen !== 0 && seen >>> 1 !== this.workerId) return false; // busy, or in the cut state
    if (this.u32[H_HEAP_BYTES] > this.viewBytes) this.refreshViews();
    const u32 = this.u32;
    if (u32[H_OP] !== 0) {
      this.unlock();
      return false;
    }
    return true;
  }

  /**
   * The heap lock is held for a few hundred nanoseconds at a time, much less
   * than a sleep and wake-up cost, so a contended heap lock spins longer than
   * a general mutex before `lockWord` puts the thread to sleep.
   */
  lockContended(): void {
    this.cacheWaits++;
    const i32 = this.i32;
    const mine = this.workerId << 1;
    for (let spin = 0; spin < HEAP_LOCK_SPINS; spin++) {
      const seen = Atomics.load(i32, H_LOCK);
      if (seen === 0) {
        if (Atomics.compareExchange(i32, H_LOCK, 0, mine) === 0) return;
      } else if (seen >>> 1 === this.workerId) {
        // No heap operation takes the lock inside another, so this handle
        // holding it means an unlock was cut short (an exception thrown at the
        // call): the lock is ours to reuse, unless a cut-short write left its mark.
        if (this.u32[H_OP] !== 0) {
          const op = this.u32[H_OP];
          this.unlock(); // leaves the word in the cut state
          throw this.cutError(op);
        }
        return;
      } else if (isCutWord(seen)) {
        throw this.cutError((seen >>> 1) - LOCK_CUT_OWNER);
      }
    }
    try {
      lockWord(i32, H_LOCK, this.workerId, this.u32[H_LOCK_TIMEOUT_MS] || DEFAULT_LOCK_TIMEOUT_MS);
    } catch (e) {
      // lockWord reads the cut state as no lock state: name it for what it is.
      const seen = Atomics.load(i32, H_LOCK);
      if (e instanceof LockStateError && isCutWord(seen)) {
        throw this.cutError((seen >>> 1) - LOCK_CUT_OWNER);
      }
      throw e;
    }
  }

  /**
   * Queues the used arena chunk `c` to be freed by a later operation (see
   * `drainDeferredIfAnyLocked`; lock-free push). The chunk is re-tagged internal first, so the
   * old pointer is no longer accepted by `free` or `realloc`.
   */
  deferFree(c: number): void {
    const i32 = this.i32;
    const u32 = this.u32;
    u32[(c + 4) >>> 2] = internalTag(this.key, c, tagAlignLog(u32[(c + 4) >>> 2]));
    for (let attempt = 0; attempt < REMOTE_PUSH_LIMIT; attempt++) {
      const head = Atomics.load(i32, H_DEFERRED);
      i32[(c + 8) >>> 2] = head;
      if (Atomics.compareExchange(i32, H_DEFERRED, head, c | 0) === head) return;
    }
  }

  /** Frees every chunk on the deferred list (heap lock held). */
  drainDeferredLocked(): void {
    const u32 = this.u32;
    let c = Atomics.exchange(this.i32, H_DEFERRED, 0) >>> 0;
    for (let n = Math.floor(u32[H_HEAP_BYTES] / MIN_CHUNK); c !== 0; n--) {
      const h = u32[c >>> 2];
      if (
        n === 0 || c < ARENA_START || c % 8 !== 0 || c >= u32[H_HEAP_BYTES] || (h & USED_BIT) === 0
      ) {
        throw new HeapCorruptionError("deferred-free list is broken", c);
      }
      const next = u32[(c + 8) >>> 2];
      arenaFree(u32, c);
      c = next;
    }
  }

  /**
   * Releases the heap lock; if an operation's mark is set (it was cut short,
   * or a repair failed), leaves the word in the cut state instead, waking
   * every waiter so that each reports it.
   */
  unlock(): void {
    const op = this.u32[H_OP];
    if (op === 0) {
      unlockWord(this.i32, H_LOCK, this.workerId);
      return;
    }
    const i32 = this.i32;
    const cut = cutWord(op);
    // With the owner fixed the word can only gain the waiters bit, so this
    // settles within two passes; the bound is for safety.
    for (let attempt = 0; attempt < FORCE_TAKE_LIMIT; attempt++) {
      const seen = Atomics.load(i32, H_LOCK);
      if (seen >>> 1 !== this.workerId) break; // not ours: unlockWord names the mistake
      if (Atomics.compareExchange(i32, H_LOCK, seen, cut) === seen) {
        if ((seen & 1) !== 0) Atomics.notify(i32, H_LOCK);
        return;
      }
    }
    unlockWord(i32, H_LOCK, this.workerId);
  }

  /** Releases the heap lock after an operation that completed (no mark to look at). */
  unlockClean(): void {
    unlockWord(this.i32, H_LOCK, this.workerId);
  }

  /** Allocates an arena chunk of `needBytes` (heap lock held), growing the heap if needed; 0 if impossible. */
  allocLocked(needBytes: number, alignLog: number): number {
    const alignBytes = 1 << alignLog;
    if (this.cache !== 0 && this.u32[(this.cache >>> 2) + K_FLUSH] !== 0) {
      ownCacheFlushLocked(this, 0); // another handle ran out of memory and asked
    }
    let ptr = arenaAlloc(this.u32, needBytes, alignBytes, alignLog);
    if (ptr === 0 && this.u32[H_DEFERRED] !== 0) {
      this.drainDeferredIfAnyLocked();
      ptr = arenaAlloc(this.u32, needBytes, alignBytes, alignLog);
    }
    if (ptr === 0 && ownCacheFlushLocked(this, 0) > 0) { // before growing the heap
      ptr = arenaAlloc(this.u32, needBytes, alignBytes, alignLog);
    }
    if (ptr === 0 && this.growFor(needBytes + (alignBytes > 8 ? alignBytes + MIN_CHUNK : 0))) {
      ptr = arenaAlloc(this.u32, needBytes, alignBytes, alignLog);
    }
    if (ptr === 0) requestCacheFlushesLocked(this);
    return ptr;
  }

  /**
   * Resizes the arena chunk `c` (heap lock held): in place or into its free
   * neighbours (returns the payload), or allocates a new block and returns
   * its payload negated (the caller copies the data and frees `c`); 0 if out of memory.
   */
  reallocLocked(c: number, needBytes: number): number {
    const u32 = this.u32;
    if (arenaResizeInPlace(u32, c, needBytes)) return c + 8;
    const down = arenaResizeIntoPrevious(u32, this.u8, c, needBytes);
    if (down !== 0) return down;
    const ptr = this.allocLocked(needBytes, tagAlignLog(u32[(c + 4) >>> 2]));
    return ptr === 0 ? 0 : -ptr; // negative: moved, the caller copies and frees the old block
  }

  /**
   * Allocates an arena block of `needBytes` (a chunk size) under the heap
   * lock, growing the heap if needed: its heap-relative payload, or 0.
   */
  allocArena(needBytes: number, alignLog: number): number {
    this.lock();
    let ptr = 0;
    try {
      ptr = this.allocLocked(needBytes, alignLog);
    } catch (e) {
      // Cut short (no call stands between the catch and the mark): the
      // release leaves the lock word saying so, and the next operation reports it.
      this.u32[H_OP] = this.workerId;
      this.unlock();
      throw e;
    }
    if (ptr !== 0 && this.areaWords !== 0) this.u32[this.areaWords + A_BEAT]++; // a heartbeat
    this.unlockClean();
    return ptr;
  }

  /** Frees the arena block at `ptr` (heap-relative, validated here) under the heap lock. */
  freeArena(ptr: number): void {
    this.lock();
    let c = 0;
    try {
      c = arenaChunkOf(this.u32, this.key, "free", ptr);
      arenaFree(this.u32, c);
    } catch (e) {
      // Bad input (c still 0) changed nothing; else the free was cut short: marked as in allocArena.
      if (c !== 0) this.u32[H_OP] = this.workerId;
      this.unlock();
      throw e;
    }
    if (this.areaWords !== 0) this.u32[this.areaWords + A_BEAT]++; // a heartbeat
    this.unlockClean();
  }

  /**
   * Resizes the arena block at `ptr` (heap-relative, validated here) to hold
   * `sizeBytes`: in place, into its free neighbours, or by moving it (the
   * copy runs outside the lock). Returns the block's user pointer; throws
   * `OutOfMemoryError` when it cannot grow (the block is then unchanged).
   */
  reallocArena(ptr: number, sizeBytes: number): number {
    const needBytes = chunkBytesFor(sizeBytes);
    let result = 0;
    let alignBytes = 8;
    let c = 0;
    this.lock();
    try {
      this.drainDeferredIfAnyLocked();
      c = arenaChunkOf(this.u32, this.key, "reallocate", ptr);
      alignBytes = 1 << tagAlignLog(this.u32[(c + 4) >>> 2]);
      this.begin();
      if (needBytes <= MAX_HEAP_BYTES) result = this.reallocLocked(c, needBytes);
      if (result !== 0) this.end();
      else this.u32[H_OP] = 0;
    } finally {
      this.unlock();
    }
    if (result === 0) throw new OutOfMemoryError(sizeBytes, alignBytes, this.u32[H_HEAP_BYTES]);
    if (result > 0) return result + this.base;
    // Moved: copy outside the lock (both blocks are ours until the old one is
    // freed), so other workers are not held up by a long copy.
    const moved = -result;
    const oldUsable = ((this.u32[c >>> 2] & SIZE_MASK) >>> 0) - CHUNK_OVERHEAD;
    if (moved >= this.viewBytes) this.refreshViews();
    this.u8.copyWithin(moved, c + 8, c + 8 + Math.min(oldUsable, sizeBytes));
    try {
      this.lock();
    } catch {
      // The heap lock is busy past the timeout (or the heap was found damaged):
      // the new block is ready, so queue the old one for a later operation to free
      // instead of leaking either block.
      this.deferFree(c);
      return moved + this.base;
    }
    try {
      this.begin();
      arenaFree(this.u32, c);
      this.end();
    } finally {
      this.unlock();
    }
    return moved + this.base;
  }
}

/** The heap lock word that says an operation of worker `op` was cut short (see `H_OP`). */
export function cutWord(op: number): number {
  return (LOCK_CUT_OWNER | (op & (LOCK_CUT_OWNER - 1))) << 1;
}

/** Whether the heap lock word `word` is in the cut state. */
export function isCutWord(word: number): boolean {
  return word >>> 1 >= LOCK_CUT_OWNER;
}
