/**
 * `SharedMap.check()`: verifies a map's invariants segment by segment.
 *
 * @module
 */

import { HeapCorruptionError } from "../errors.ts";
import { hashBytes } from "./_common.ts";
import { MIN_TABLE } from "./_map_layout.ts";
import { type MapTable, SEGMENT_WORDS as W } from "./_map_table.ts";
import type { ElementType, MapKeyKind } from "./types.ts";

/**
 * Verifies `t`'s invariants, segment by segment under its lock: counts match
 * the occupied slots, every key is reachable from its home slot, keys sit in
 * their own segment, string keys are well-formed.
 */
export function checkMap<K extends MapKeyKind, V extends ElementType>(t: MapTable<K, V>): void {
  t.live("check map");
  t.eachSegmentLocked((sw, s) => checkSegment(t, sw, s));
}

/** Verifies segment `s` (header word `sw`, its lock held); throws `HeapCorruptionError`. */
export function checkSegment<K extends MapKeyKind, V extends ElementType>(
  t: MapTable<K, V>,
  sw: number,
  s: number,
): void {
  const v = t.views;
  v.refresh(); // every block of the map lies inside the buffer as it is now
  const u32 = v.u32;
  const cap = u32[sw + W.cap];
  const table = u32[sw + W.table];
  const stride = t.stride;
  if (cap < MIN_TABLE || !v.cover(table + (cap + 1) * stride)) {
    throw new HeapCorruptionError(`map segment ${s} has a bad table`, table);
  }
  const str = t.keyCode === 6;
  let used = 0;
  for (let j = 0; j < cap; j++) {
    const wj = (table + j * stride) >>> 2;
    if (str ? u32[wj + 1] === 0 : t.emptyAt(wj)) continue;
    used++;
    if (str) {
      const p = u32[wj + 1];
      if (!v.cover(p + 4) || !v.cover(p + 4 + u32[p >>> 2])) {
        throw new HeapCorruptionError(`map string key at slot ${j} is outside the heap`, p);
      }
      if (hashBytes(v.u8, p + 4, u32[p >>> 2]) !== u32[wj]) {
        throw new HeapCorruptionError(`map string key at slot ${j} does not match its hash`, p);
      }
    }
    const h = t.keys.hashAt(wj);
    if ((h & t.segMask) !== s) {
      throw new HeapCorruptionError(`map key at slot ${j} is in the wrong segment ${s}`, table);
    }
    // Every slot from the key's home to its slot is occupied.
    let i = Math.floor(h * cap / 2 ** 32);
    for (let n = 0; i !== j; n++) {
      const wi = (table + i * stride) >>> 2;
      if (n >= cap || (str ? u32[wi + 1] === 0 : t.emptyAt(wi))) {
        throw new HeapCorruptionError(`map key at slot ${j} is unreachable from its home`, table);
      }
      if (++i === cap) i = 0;
    }
  }
  if (!str && u32[sw + W.zero] !== 0) used++;
  if (used !== u32[sw + W.count] || used > u32[sw + W.maxFill] + 1) {
    throw new HeapCorruptionError(
      `map segment ${s} counts ${u32[sw + W.count]} entries but holds ${used}`,
      table,
    );
  }
}
