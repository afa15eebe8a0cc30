/**
 * Same-run comparison of this tree's `Heap` with another copy of the library
 * (for example the previous commit, extracted with
 * `git archive <commit> mod.ts src structs | tar -x -C /tmp/old`):
 *
 * ```
 * deno run -A bench/compare_heaps.ts /tmp/old/mod.ts [rounds] [name filter] [--old-first] [--control=<mod.ts>]
 * ```
 *
 * Each copy runs the workloads from a module instance of its own
 * (`_compare_lane.ts`), so V8 keeps separate type feedback per copy, as in a
 * program that uses one copy. Even so the order in which the lanes are
 * built, warmed up and timed can move a ratio by about 10% (an A/A lane
 * measured 0.89-1.11x on 2026-11-28). Two options show it in the run that
 * reports the ratio: `--old-first` builds, warms up and times the other copy
 * first (the default is this tree first), so a run and its swapped run
 * bracket the order effect; `--control=<mod.ts>` adds an A/A lane, a second
 * copy of this tree (for example
 * `git archive HEAD mod.ts src structs | tar -x -C /tmp/aa`) built after the
 * other two and timed in the same rounds, the three lanes in an order that
 * rotates every round; the report then also gives new / control, which is 1
 * but for noise and order.
 *
 * With `debug` in place of the other copy, it compares this tree's heap in
 * debug mode (`Heap.create({ debug: true })`, "new") with the same heap in
 * normal mode ("old"): the cost of debug mode.
 *
 * Workloads (the arena and slab benches' own): random actions (Talc's rules,
 * 10,000 live up to 30,000 B and 100,000 live up to 200 B), alloc + free of
 * 64 B, a ring of 1,024 live 24-byte records created and destroyed, the slab
 * class handle, and 2,000-byte arena blocks through the public API. Each
 * round runs every workload on every lane in an order that alternates (two
 * lanes) or rotates (three), so all see the same machine load; the report gives the ratio new / old of
 * the CPU time per round: min and median over the rounds (below 1: faster).
 *
 * @module
 */

import { Heap } from "../mod.ts";
import { cpuMs, median } from "./_stats.ts";

const flags = Deno.args.filter((a) => a.startsWith("--"));
const args = Deno.args.filter((a) => !a.startsWith("--"));
const otherPath = args[0];
if (otherPath === undefined) {
  throw new Error(
    "usage: compare_heaps.ts <other mod.ts> [rounds] [name filter] [--old-first] [--control=<mod.ts>]",
  );
}
const rounds = Number(args[1] ?? 15);
/** Only the workloads whose name contains this text (all by default). */
const only = args[2] ?? "";
/** Build, warm up and time the other copy first (see the module doc). */
const oldFirst = flags.includes("--old-first");
/** A second copy of this tree, timed as an A/A lane (see the module doc). */
const controlPath = flags.find((f) => f.startsWith("--control="))?.slice("--control=".length);
for (const f of flags) {
  if (f !== "--old-first" && !f.startsWith("--control=")) throw new Error(`unknown option ${f}`);
}
/** Debug mode against normal mode of this tree's heap (see the module doc). */
const debugMode = otherPath === "debug";
const DebugHeap = {
  create: (options: Parameters<typeof Heap.create>[0] = {}): Heap =>
    Heap.create({ ...options, debug: true }),
} as unknown as typeof Heap;
const OtherHeap = debugMode
  ? Heap
  : (await import(new URL(otherPath, `file://${Deno.cwd()}/`).href)).Heap as typeof Heap;
const NewHeap = debugMode ? DebugHeap : Heap;
const ControlHeap = controlPath === undefined
  ? undefined
  : (await import(new URL(controlPath, `file://${Deno.cwd()}/`).href)).Heap as typeof Heap;

type LaneModule = typeof import("./_compare_lane.ts");
/** The workloads as a module instance of their own for one lane (see `_compare_lane.ts`). */
async function loadLane(key: string): Promise<LaneModule> {
  return (await import(
    new URL(`./_compare_lane.ts?lane=${key}`, import.meta.url).href
  )) as LaneModule;
}

console.log(
  debugMode
    ? `new = this tree in debug mode, old = this tree in normal mode, ${rounds} rounds`
    : `new = ${new URL("../mod.ts", import.meta.url).pathname}, old = ${otherPath}${
      controlPath === undefined ? "" : `, control = ${controlPath}`
    }, ${rounds} rounds${oldFirst ? ", old built, warmed and timed first" : ""}`,
);
const laneKeys = ["new", "old", "control"] as const;
type LaneKey = typeof laneKeys[number];
const laneModules: Record<LaneKey, LaneModule> = {
  new: await loadLane("new"),
  old: await loadLane("old"),
  control: await loadLane("control"),
};
const laneHeaps: Record<LaneKey, typeof Heap | undefined> = {
  new: NewHeap,
  old: OtherHeap,
  control: ControlHeap,
};
// Lanes in build / warm-up / first-round order: this tree, the other copy,
// and the optional A/A control (a second copy of this tree).
const laneOrder: LaneKey[] = oldFirst ? ["old", "new"] : ["new", "old"];
if (ControlHeap !== undefined) laneOrder.push("control");
const names = laneModules.new.workloads.map((w) => w.name).filter((n) => n.includes(only));
for (const name of names) {
  const runs = laneOrder.map((key) => {
    const w = laneModules[key].workloads.find((w) => w.name === name);
    const H = laneHeaps[key];
    if (w === undefined || H === undefined) throw new Error(`no workload ${name} in lane ${key}`);
    return { key, run: w.make(H) };
  });
  for (const lane of runs) lane.run(); // warm-up
  const ms: Record<string, number[]> = { new: [], old: [], control: [] };
  for (let r = 0; r < rounds; r++) {
    // Two lanes alternate; three rotate.
    const order = runs.length === 2
      ? (r % 2 === 0 ? runs : [runs[1], runs[0]])
      : runs.map((_, i) => runs[(i + r) % runs.length]);
    for (const lane of order) ms[lane.key].push(cpuMs(lane.run));
  }
  const ratio = (a: number[], b: number[]): number[] => a.map((x, i) => x / b[i]);
  const vsOld = ratio(ms.new, ms.old);
  let line = `${name.padEnd(40)} new/old min ${Math.min(...vsOld).toFixed(3)} median ${
    median(vsOld).toFixed(3)
  }`;
  if (ControlHeap !== undefined) {
    const vsControl = ratio(ms.new, ms.control);
    line += `  new/control min ${Math.min(...vsControl).toFixed(3)} median ${
      median(vsControl).toFixed(3)
    }`;
  }
  line += `  (median ms: new ${median(ms.new).toFixed(1)}, old ${median(ms.old).toFixed(1)}${
    ControlHeap === undefined ? "" : `, control ${median(ms.control).toFixed(1)}`
  })`;
  console.log(line);
}
