/**
 * Struct layer benches, every peer in the same run. Run with
 * `deno bench -A bench/struct_bench.ts`.
 *
 * - "field access": read and write 3 `f64` fields of 1,000,000 records
 *   (`r.x += 1; r.y += 2; r.z += 3`). The baseline is the same work on a raw
 *   fixed-length `Float64Array` over the records; the peers go through a
 *   `StructArray` cursor (checked `seek` and `seekUnchecked`), `each`, one
 *   view object per record, a packed struct type over the same records
 *   (DataView accessors), a `DataView`, a length-tracking `Float64Array`
 *   over the growable buffer (V8 reads its length on every access), and plain
 *   JS objects holding the same (non-integer) numbers.
 * - "create + destroy": 1,000 records of 24 bytes (3 `f64`), each made with
 *   an init object and freed, against 1,000 object literals kept alive in a
 *   ring (so that V8 cannot remove the allocation), and against the heap's
 *   own `alloc` + `free` of 24 bytes.
 * - "walk": visiting 1,000,000 records of a `StructArray` (summing a field)
 *   by checked cursor, unchecked cursor, `each`, `at(i)` and `for…of`.
 * - "string fields": reading and setting a 16-byte ASCII string in 10,000
 *   records, a variable-length `utf8()` field against a fixed `utf8(16)`
 *   (the baseline). `bench/struct_fields_compare.ts` has the same in
 *   interleaved rounds, and field access against the previous commit.
 *
 * @module
 */

import { Heap } from "../mod.ts";
import { defineStruct, f64, u32, utf8, type ViewOf } from "../structs/mod.ts";

const N = 1_000_000;
const Vec3 = defineStruct("Vec3", { x: f64, y: f64, z: f64 });
const heap = Heap.create({ initialBytes: 64 << 20, maxBytes: 256 << 20 });
const records = Vec3.createArray(heap, N);
records.each((r, i) => {
  r.x = i + 0.5;
  r.y = i * 2 + 0.25;
  r.z = i * 3 + 0.125;
});
const base = records.ptr;
const raw = new Float64Array(heap.buffer, base, N * 3); // fixed length: V8's fast path
const tracking = new Float64Array(heap.buffer); // length-tracking over the growable buffer
const dv = new DataView(heap.buffer, base, N * 24);
const views: ViewOf<typeof Vec3>[] = [];
for (let i = 0; i < N; i++) views.push(records.at(i));
const objects: { x: number; y: number; z: number }[] = [];
for (let i = 0; i < N; i++) objects.push({ x: i + 0.5, y: i * 2 + 0.25, z: i * 3 + 0.125 });

const access = { group: "field access: 3 f64 read+write x 1M records" };

Deno.bench("raw Float64Array", { ...access, baseline: true }, () => {
  for (let i = 0, j = 0; i < N; i++, j += 3) {
    raw[j] += 1;
    raw[j + 1] += 2;
    raw[j + 2] += 3;
  }
});

Deno.bench("struct cursor.seekUnchecked", access, () => {
  const cursor = records.cursor();
  for (let i = 0; i < N; i++) {
    const r = cursor.seekUnchecked(i);
    r.x += 1;
    r.y += 2;
    r.z += 3;
  }
});

Deno.bench("struct cursor.seek", access, () => {
  const cursor = records.cursor();
  for (let i = 0; i < N; i++) {
    const r = cursor.seek(i);
    r.x += 1;
    r.y += 2;
    r.z += 3;
  }
});

// The same records read through a packed struct type (alignment 1), whose
// generated accessors use DataView instead of Float64Array.
const PackedVec3 = defineStruct("PackedVec3", { x: f64, y: f64, z: f64 }, { packed: true });
const packedRecords = PackedVec3.arrayAt(heap, base); // same 24-byte stride and header

const step = (r: ViewOf<typeof Vec3>): void => {
  r.x += 1;
  r.y += 2;
  r.z += 3;
};
Deno.bench("struct each(fn)", access, () => {
  records.each(step);
});

Deno.bench("struct view per record", access, () => {
  for (let i = 0; i < N; i++) {
    const r = views[i];
    r.x += 1;
    r.y += 2;
    r.z += 3;
  }
});

Deno.bench("packed struct cursor.seekUnchecked (DataView accessors)", access, () => {
  const cursor = packedRecords.cursor();
  for (let i = 0; i < N; i++) {
    const r = cursor.seekUnchecked(i);
    r.x += 1;
    r.y += 2;
    r.z += 3;
  }
});

Deno.bench("DataView", access, () => {
  for (let i = 0, p = 0; i < N; i++, p += 24) {
    dv.setFloat64(p, dv.getFloat64(p, true) + 1, true);
    dv.setFloat64(p + 8, dv.getFloat64(p + 8, true) + 2, true);
    dv.setFloat64(p + 16, dv.getFloat64(p + 16, true) + 3, true);
  }
});

Deno.bench("length-tracking Float64Array", access, () => {
  for (let i = 0, j = base >>> 3; i < N; i++, j += 3) {
    tracking[j] += 1;
    tracking[j + 1] += 2;
    tracking[j + 2] += 3;
  }
});

Deno.bench("plain JS objects", access, () => {
  for (let i = 0; i < N; i++) {
    const o = objects[i];
    o.x += 1;
    o.y += 2;
    o.z += 3;
  }
});

// ---------------------------------------------------------------------------

const lifecycle = { group: "create + destroy: 1,000 records of 24 bytes" };
const K = 1000;
const ring: unknown[] = new Array(1024).fill(null);
let slot = 0;
const small = Heap.create();

Deno.bench("object literal", { ...lifecycle, baseline: true }, () => {
  for (let k = 0; k < K; k++) ring[slot++ & 1023] = { x: k, y: 2, z: 3 };
});

Deno.bench("Vec3.create(heap, init) + destroy", lifecycle, () => {
  for (let k = 0; k < K; k++) Vec3.destroy(small, Vec3.create(small, { x: k, y: 2, z: 3 }));
});

Deno.bench("Vec3.create(heap) + destroy", lifecycle, () => {
  for (let k = 0; k < K; k++) Vec3.destroy(small, Vec3.create(small));
});

Deno.bench("heap.alloc(24) + free", lifecycle, () => {
  for (let k = 0; k < K; k++) small.free(small.alloc(24, 8));
});

// ---------------------------------------------------------------------------

const walk = { group: "walk a StructArray of 1M records (sum x)" };
let sink = 0;

Deno.bench("cursor.seekUnchecked", { ...walk, baseline: true }, () => {
  let sum = 0;
  const c = records.cursor();
  for (let i = 0; i < N; i++) sum += c.seekUnchecked(i).x;
  sink = sum;
});

Deno.bench("cursor.seek", walk, () => {
  let sum = 0;
  const c = records.cursor();
  for (let i = 0; i < N; i++) sum += c.seek(i).x;
  sink = sum;
});

Deno.bench("each(fn)", walk, () => {
  let sum = 0;
  records.each((r) => {
    sum += r.x;
  });
  sink = sum;
});

Deno.bench("at(i) (a view per record)", walk, () => {
  let sum = 0;
  for (let i = 0; i < N; i++) sum += records.at(i).x;
  sink = sum;
});

Deno.bench("for…of (a view per record)", walk, () => {
  let sum = 0;
  for (const r of records) sum += r.x;
  sink = sum;
});

// ---------------------------------------------------------------------------

const strings = { group: "string fields: 16-byte ASCII x 10,000 records" };
const S = 10_000;
const FixedText = defineStruct("FixedText", { id: u32, s: utf8(16) });
const VarText = defineStruct("VarText", { id: u32, s: utf8() });
const textHeap = Heap.create({ initialBytes: 4 << 20 });
const fixedTexts = Array.from(
  { length: S },
  (_, i) => FixedText.create(textHeap, { s: `${String(i).padStart(6, "0")}-abcdefghi` }),
);
const varTexts = Array.from(
  { length: S },
  (_, i) => VarText.create(textHeap, { s: `${String(i).padStart(6, "0")}-abcdefghi` }),
);

Deno.bench("read utf8(16)", { group: `${strings.group} (read)`, baseline: true }, () => {
  let n = 0;
  for (let i = 0; i < S; i++) n += fixedTexts[i].s.length;
  sink = n;
});

Deno.bench("read utf8()", { group: `${strings.group} (read)` }, () => {
  let n = 0;
  for (let i = 0; i < S; i++) n += varTexts[i].s.length;
  sink = n;
});

Deno.bench("set utf8(16)", { group: `${strings.group} (set)`, baseline: true }, () => {
  for (let i = 0; i < S; i++) {
    fixedTexts[i].s = (i & 1) === 0 ? "abcdefghijklmnop" : "ABCDEFGHIJKLMNOP";
  }
});

Deno.bench("set utf8() (same length: in place)", { group: `${strings.group} (set)` }, () => {
  for (let i = 0; i < S; i++) {
    varTexts[i].s = (i & 1) === 0 ? "abcdefghijklmnop" : "ABCDEFGHIJKLMNOP";
  }
});

Deno.bench('set utf8() "" then 16 bytes (a new block)', { group: `${strings.group} (set)` }, () => {
  for (let i = 0; i < S; i++) {
    varTexts[i].s = "";
    varTexts[i].s = "abcdefghijklmnop";
  }
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
