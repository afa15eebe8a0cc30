/**
 * The arena's consistency check (`Heap.check()`): a walk of every chunk and
 * of every bin, bounded by the heap's size. Kept apart from the allocation
 * paths in arena.ts, whose chunk format it reads.
 *
 * @module
 */

import {
  ARENA_START,
  BIN_COUNT,
  BITMAP_WORDS,
  EPILOGUE_BYTES,
  H_BINS,
  H_BITMAP,
  H_BITMAP_SUMMARY,
  H_FREE_BYTES,
  H_FREE_CHUNKS,
  H_HEAP_BYTES,
  H_KEY,
  H_LOCK_BEAT,
  H_USED_BYTES,
  MIN_CHUNK,
  SIZE_MASK,
  USED_BIT,
} from "../heap/layout.ts";
import { HeapCorruptionError } from "../errors.ts";
import { binOf, freeTag, isInternalTag, isUsedTag, linkMask, tagAlignLog } from "./arena.ts";

/**
 * Walks every chunk and free list and throws `HeapCorruptionError` naming the
 * first broken invariant. Returns the number of used chunks found.
 */
export function arenaCheck(u32: Uint32Array): number {
  const end = u32[H_HEAP_BYTES];
  const fail = (what: string, at: number): never => {
    throw new HeapCorruptionError(what, at);
  };
  if ((u32[(ARENA_START - 4) >>> 2]) !== USED_BIT) {
    fail("prologue fence overwritten", ARENA_START - 4);
  }
  let c = ARENA_START;
  let usedBytes = 0;
  let freeBytes = 0;
  let usedChunks = 0;
  let freeChunks = 0;
  let prevFree = false;
  const limit = end - EPILOGUE_BYTES;
  const key = u32[H_KEY];
  let steps = 0;
  while (c < limit) {
    if ((++steps & 4095) === 0) u32[H_LOCK_BEAT]++; // a long walk shows its holder is alive
    const h = u32[c >>> 2];
    const sizeBytes = (h & SIZE_MASK) >>> 0;
    if ((h & 6) !== 0) fail(`chunk header has unknown flag bits (${h})`, c);
    if (sizeBytes < MIN_CHUNK) fail(`chunk size ${sizeBytes} is below the minimum ${MIN_CHUNK}`, c);
    if (c + sizeBytes > limit) {
      fail(`chunk of ${sizeBytes} bytes runs past the arena end ${limit}`, c);
    }
    if (u32[(c + sizeBytes - 4) >>> 2] !== h) {
      fail(`chunk footer ${u32[(c + sizeBytes - 4) >>> 2]} disagrees with header ${h}`, c);
    }
    const tag = u32[(c + 4) >>> 2];
    if ((h & USED_BIT) !== 0) {
      if (!isUsedTag(key, c, tag) && !isInternalTag(key, c, tag)) {
        fail("used chunk tag is wrong", c);
      }
      if (((c + 8) & ((1 << tagAlignLog(tag)) - 1)) !== 0) {
        fail("used chunk breaks its alignment", c);
      }
      usedBytes += sizeBytes;
      usedChunks++;
      prevFree = false;
    } else {
      if (tag !== freeTag(key, c, sizeBytes)) fail("free chunk tag is wrong", c);
      if (prevFree) fail("two free chunks are adjacent", c);
      freeBytes += sizeBytes;
      freeChunks++;
      prevFree = true;
    }
    c += sizeBytes;
  }
  if (c !== limit) fail("chunks do not tile the arena", c);
  if (u32[limit >>> 2] !== USED_BIT) fail("epilogue fence overwritten", limit);
  if (usedBytes !== u32[H_USED_BYTES]) {
    fail(`used bytes counter ${u32[H_USED_BYTES]} != ${usedBytes}`, 0);
  }
  if (freeBytes !== u32[H_FREE_BYTES]) {
    fail(`free bytes counter ${u32[H_FREE_BYTES]} != ${freeBytes}`, 0);
  }
  if (freeChunks !== u32[H_FREE_CHUNKS]) {
    fail(`free chunk counter ${u32[H_FREE_CHUNKS]} != ${freeChunks}`, 0);
  }
  checkBins(u32, freeChunks, end, fail);
  return usedChunks;
}

function checkBins(
  u32: Uint32Array,
  freeChunks: number,
  end: number,
  fail: (what: string, at: number) => never,
): void {
  let listed = 0;
  let summary = 0;
  const key = u32[H_KEY];
  const link = (at: number): number => (u32[at >>> 2] ^ linkMask(key, at)) >>> 0;
  for (let w = 0; w < BITMAP_WORDS; w++) {
    let bits = 0;
    for (let b = w << 5; b < Math.min((w + 1) << 5, BIN_COUNT); b++) {
      const head = u32[H_BINS + b];
      if (head !== 0) bits |= 1 << (b & 31);
      let prev = 0;
      for (let c = head; c !== 0; c = link(c + 8)) {
        if (++listed > freeChunks) fail(`bin ${b} lists more chunks than are free (a cycle?)`, c);
        if (c < ARENA_START || c >= end || c % 8 !== 0) {
          fail(`bin ${b} links to ${c}, outside the arena`, c);
        }
        const h = u32[c >>> 2];
        if ((h & USED_BIT) !== 0 || u32[(c + 4) >>> 2] !== freeTag(key, c, h)) {
          fail(`bin ${b} lists a chunk that is not free`, c);
        }
        if (binOf(h) !== b) fail(`chunk of ${h} bytes is in bin ${b}, not ${binOf(h)}`, c);
        if (link(c + 12) !== prev) {
          fail(`bin ${b} back link is ${link(c + 12)}, not ${prev}`, c);
        }
        prev = c;
      }
    }
    if ((bits >>> 0) !== u32[H_BITMAP + w]) {
      fail(`bitmap word ${w} disagrees with bins`, (H_BITMAP + w) * 4);
    }
    if (bits !== 0) summary |= 1 << w;
  }
  if ((summary >>> 0) !== u32[H_BITMAP_SUMMARY]) {
    fail("bitmap summary disagrees with bitmap", H_BITMAP_SUMMARY * 4);
  }
  if (listed !== freeChunks) fail(`bins list ${listed} chunks but ${freeChunks} are free`, 0);
}
