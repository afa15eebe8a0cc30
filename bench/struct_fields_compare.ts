/**
 * Same-run comparisons for the struct field changes (issue 15), one process,
 * interleaved rounds, min and median of the per-round ratios:
 *
 * - field access and create against the previous code: the struct layer of
 *   an earlier commit (default: the merge base with `main`; pass another
 *   with `--base=<rev>`) is extracted with `git archive` into a temporary
 *   directory and imported next to the current one, so both run in this
 *   process on the same data shapes (3 `f64` fields read and written through
 *   a view per record, through a cursor, and create + destroy with init);
 * - reading and setting a 16-byte ASCII string in a variable-length
 *   `utf8()` field against a fixed `utf8(16)` field (both current code).
 *
 * Times are CPU time (`process.cpuUsage`), in ms. `--now=<rev>` puts another
 * commit in place of the working tree (`--base=X --now=X` is an A/A check of
 * the harness itself).
 *
 * Run with `deno run -A bench/struct_fields_compare.ts [--base=<rev>] [--rounds=40]
 * [--order=now-first] [--only=create]`.
 *
 * @module
 */

import process from "node:process";
import { Heap } from "../mod.ts";
import * as current from "../structs/mod.ts";

type Structs = typeof current;

const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const ROUNDS = Number(args.rounds ?? 40);
const WARMUP = 5;

async function git(...cmd: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args: cmd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

/** Extracts the struct layer of `rev` and imports it. */
async function previous(rev: string): Promise<Structs> {
  const dir = await Deno.makeTempDir({ prefix: "typedheap_base_" });
  const archive = `${dir}/base.tar`;
  await git("archive", "-o", archive, rev, "mod.ts", "src", "structs");
  const tar = await new Deno.Command("tar", { args: ["-xf", archive, "-C", dir] }).output();
  if (!tar.success) throw new Error("tar failed");
  return await import(`file://${dir}/structs/mod.ts`) as Structs;
}

const base = args.base ?? await git("merge-base", "HEAD", "main");
const old = await previous(base);
// `--now=<rev>` compares two commits (an A/A check of the harness: the same rev twice).
const now: Structs = args.now === undefined ? current : await previous(args.now);

/** A kernel instantiated once per side, so that each has its own type feedback. */
function kernel<A extends unknown[]>(params: string, body: string): (...a: A) => unknown {
  return new Function(params, body) as (...a: A) => unknown;
}

const HELD = [
  "views",
  "for (let i = 0; i < views.length; i++) { const r = views[i]; r.x += 1; r.y += 2; r.z += 3; }",
] as const;
const CURSOR = [
  "arr",
  "const c = arr.cursor(); for (let i = 0; i < arr.length; i++) { const r = c.seekUnchecked(i); r.x += 1; r.y += 2; r.z += 3; }",
] as const;
const CREATE = [
  "T, heap",
  "for (let k = 0; k < 50000; k++) T.destroy(heap, T.create(heap, { x: k, y: 2, z: 3 }));",
] as const;
// The records outlive the loop that makes them: every view is a real object.
const CREATE_HELD = [
  "T, heap, held",
  "for (let j = 0; j < 50; j++) { for (let k = 0; k < held.length; k++) held[k] = T.create(heap, { x: k, y: 2, z: 3 }); for (let k = 0; k < held.length; k++) T.destroy(heap, held[k]); }",
] as const;
const READ = [
  "recs",
  "let n = 0; for (let i = 0; i < recs.length; i++) n += recs[i].s.length; return n;",
] as const;
const SET = [
  "recs, a, b",
  "for (let i = 0; i < recs.length; i++) recs[i].s = (i & 1) === 0 ? a : b;",
] as const;
const SET_NEW_BLOCK = [
  "recs, a",
  'for (let i = 0; i < recs.length; i++) { const r = recs[i]; r.s = ""; r.s = a; }',
] as const;

const N = 500_000;
const S = 50_000;

interface Case {
  name: string;
  run: () => unknown;
}

function accessCases(structs: Structs, label: string): Case[] {
  const Vec3 = structs.defineStruct("Vec3", { x: structs.f64, y: structs.f64, z: structs.f64 });
  const heap = Heap.create({ initialBytes: 32 << 20, maxBytes: 256 << 20 });
  const arr = Vec3.createArray(heap, N);
  const views: unknown[] = [];
  for (let i = 0; i < N; i++) views.push(arr.at(i));
  const small = Heap.create();
  const held = kernel(...HELD);
  const cursor = kernel(...CURSOR);
  const create = kernel(...CREATE);
  const createHeld = kernel(...CREATE_HELD);
  const held1000 = new Array(1000).fill(null);
  return [
    { name: `held views ${label}`, run: () => held(views) },
    { name: `cursor ${label}`, run: () => cursor(arr) },
    { name: `create+destroy ${label}`, run: () => create(Vec3, small) },
    { name: `create held+destroy ${label}`, run: () => createHeld(Vec3, small, held1000) },
  ];
}

function stringCases(): Case[] {
  const heap = Heap.create({ initialBytes: 16 << 20, maxBytes: 256 << 20 });
  const Fixed = current.defineStruct("Fixed", { id: current.u32, s: current.utf8(16) });
  const Var = current.defineStruct("Var", { id: current.u32, s: current.utf8() });
  const a = "abcdefghijklmnop";
  const b = "ABCDEFGHIJKLMNOP";
  const fixed = [];
  const variable = [];
  for (let i = 0; i < S; i++) {
    const text = `${String(i).padStart(6, "0")}-abcdefghi`; // 16 ASCII bytes
    fixed.push(Fixed.create(heap, { s: text }));
    variable.push(Var.create(heap, { s: text }));
  }
  const cases: Case[] = [];
  for (const [label, recs] of [["utf8(16)", fixed], ["utf8()", variable]] as const) {
    const read = kernel(...READ);
    const set = kernel(...SET);
    const setNewBlock = kernel(...SET_NEW_BLOCK);
    cases.push(
      { name: `read ${label}`, run: () => read(recs) },
      { name: `set ${label}`, run: () => set(recs, a, b) },
      { name: `set "" then 16 bytes ${label}`, run: () => setNewBlock(recs, a) },
    );
  }
  return cases;
}

// Where a side's data lands in memory moves an A/A comparison by 5-7% on
// this machine, in favour of the side built first: `--order=now-first`
// builds the current side first; run both orders and take both into account.
const sides = args.order === "now-first"
  ? [...accessCases(now, "(now)"), ...accessCases(old, "(before)")]
  : [...accessCases(old, "(before)"), ...accessCases(now, "(now)")];
// `--only=<text>` keeps the cases whose name contains it (e.g. `--only=create`).
const only = args.only;
// (several, separated by commas).
const cases = [...sides, ...(only === undefined ? stringCases() : [])].filter((c) =>
  only === undefined || only.split(",").some((part) => c.name.includes(part))
);
const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (let round = 0; round < ROUNDS + WARMUP; round++) {
  // interleaved, in a rotating order so no case always runs first
  for (let k = 0; k < cases.length; k++) {
    const c = cases[(k + round) % cases.length];
    // CPU time of this thread (user + system), less disturbed by other processes than wall time.
    const t0 = process.cpuUsage();
    c.run();
    const used = process.cpuUsage(t0);
    const t = (used.user + used.system) / 1000;
    if (round >= WARMUP) times.get(c.name)?.push(t);
  }
}

function ratios(a: string, b: string): { min: number; median: number; minTimes: string } {
  const x = times.get(a) ?? [];
  const y = times.get(b) ?? [];
  const per = x.map((v, i) => v / y[i]).sort((p, q) => p - q);
  const minA = Math.min(...x);
  const minB = Math.min(...y);
  return {
    min: minA / minB,
    median: per[per.length >> 1],
    minTimes: `${minA.toFixed(2)} ms / ${minB.toFixed(2)} ms`,
  };
}

const report: [string, string, string][] = [
  ["field access, a view per record (now / before)", "held views (now)", "held views (before)"],
  ["field access, cursor.seekUnchecked (now / before)", "cursor (now)", "cursor (before)"],
  ["create + destroy with init (now / before)", "create+destroy (now)", "create+destroy (before)"],
  [
    "create 1,000 held records, then destroy them (now / before)",
    "create held+destroy (now)",
    "create held+destroy (before)",
  ],
  ["read 16-byte ASCII: utf8() / utf8(16)", "read utf8()", "read utf8(16)"],
  ["set 16-byte ASCII (same length): utf8() / utf8(16)", "set utf8()", "set utf8(16)"],
  [
    'set "" then 16 bytes (a new block each time): utf8() / utf8(16)',
    'set "" then 16 bytes utf8()',
    'set "" then 16 bytes utf8(16)',
  ],
];
console.log(
  `base ${base}, ${ROUNDS} rounds after ${WARMUP} warm-up rounds, ${
    args.order === "now-first" ? "current side built first" : "previous side built first"
  }`,
);
for (const [title, a, b] of report) {
  if (!times.has(a) || !times.has(b)) continue;
  const r = ratios(a, b);
  console.log(
    `${title}: min ${r.min.toFixed(3)}x, median of per-round ratios ${
      r.median.toFixed(3)
    }x (min times ${r.minTimes})`,
  );
}
