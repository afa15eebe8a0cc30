// Generated iteration code: the loop behind `each` and the cursor class, one
// per record view class (so per struct type), and the `each` loop once more
// per callback source. Not exported from mod.ts.
//
// Why generated, and why so many copies: V8 keeps type feedback per function
// (per SharedFunctionInfo), not per caller. With one `each` and one cursor
// class shared by every struct type, a program that calls `each` with a few
// callbacks and walks a few types makes those shared sites polymorphic, and
// the hot loops slow down 2-7x. What V8's own tracing showed (Deno 2.9.6,
// bench/struct_program.ts against the old shared code):
// - `--trace-deopt`: the shared `each` was optimized with the first callback
//   inlined, then deoptimized with "wrong call target" (second callback) and
//   "wrong map" (records of a second type at `view.$p = ...`);
// - `--trace-turbo-inlining`: after that, no optimized `each` inlined any
//   callback again (the call `fn(view, i)` had megamorphic feedback), so
//   every record cost a real call plus a polymorphic store of `$p`;
// - `--log-ic`: the `view.$p` stores in `each` and in the cursor's
//   `seek`/`seekUnchecked` went 0 → 1 → P (one map per struct type), and a
//   cursor loop that inlines `seekUnchecked` inherits that polymorphic store.
// So: every view class gets its own cursor class (its `seek` stores into one
// map only), and its own `each` loops, one per distinct callback source text
// (a callback written once in the program is one source, even if a new
// closure is made for every call), so the call in each loop sees one target
// and V8 inlines the callback and its field accessors into the loop. The
// cursor and the view have a fixed set of fields from their constructors,
// and the fields keep one representation (`$p` a small integer; the cursor
// computes its index from it instead of storing it on every seek).

import type { ViewInstance } from "./_codegen.ts";

/**
 * The loop behind `each`: makes a view `new View(source, base)` (`source`:
 * the heap's views, or the columns' arrays), then walks `n` records from
 * `base`, calling `fn` with the moving view.
 */
export type EachLoop = (
  source: unknown,
  base: number,
  n: number,
  fn: (record: never, index: number) => void,
) => void;

/** The loop behind `reduce`: like {@linkcode EachLoop}, threading `acc` through `fn`. */
export type ReduceLoop = (
  source: unknown,
  base: number,
  n: number,
  fn: (acc: never, record: never, index: number) => unknown,
  acc: unknown,
) => unknown;

/** The shape of a generated cursor instance. */
export interface CursorInstance {
  /** The array walked. */
  readonly array: unknown;
  /** The index of the current record (computed from the view's position). */
  readonly index: number;
  /** The one view moved from record to record. */
  readonly $view: ViewInstance;
  /** The first record's byte offset. */
  readonly $base: number;
  /** The number of records. */
  readonly $length: number;
}

/** A generated cursor class. */
export type CursorClass = new (
  array: unknown,
  view: ViewInstance,
  base: number,
  length: number,
) => CursorInstance;

/** A view class: `new View(source, position)`. */
export type AnyViewClass = new (source: never, position: number) => object;

/** What is generated for one view class. */
export interface Iteration {
  /** The view class walked. */
  readonly View: AnyViewClass;
  /** The cursor class. */
  readonly Cursor: CursorClass;
  /** `each` loops by callback source text. */
  readonly loops: Map<string, EachLoop>;
  /** The loop used once `loops` is full (shared, so it may become polymorphic). */
  readonly shared: EachLoop;
  /** `reduce` loops by callback source text, for initial values that are not numbers. */
  readonly reduceLoops: Map<string, ReduceLoop>;
  /** `reduce` loops by callback source text, for number initial values. */
  readonly sumLoops: Map<string, ReduceLoop>;
  /** The `reduce` loop used once `reduceLoops` is full. */
  readonly sharedReduce: ReduceLoop;
  /** The view field that holds the position: `$p` (a byte offset) or `$i` (an index). */
  readonly at: "$p" | "$i";
  /** How far the position moves per record: the record size, or 1 for an index. */
  readonly stride: number;
  /** The type's name, for the generated functions' names. */
  readonly name: string;
}

/** At most this many loops are generated per view class; further callback sources share one. */
export const _MAX_LOOPS = 64;

function identifier(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(id) ? `_${id}` : id;
}

/**
 * Counts generated functions. Every generated source differs (it carries
 * this number): V8 caches `new Function` by source text, and two functions
 * compiled from one text share a SharedFunctionInfo and its type feedback,
 * which would undo the point of generating them.
 */
let generated = 0;

/**
 * The source of an `each` loop that moves the view by setting field `at`
 * (the record's byte offset, or its index in columns). The position is a
 * counter, not `base + i * stride`, and the stride is a constant: the loop
 * body is the view store, the call and the increments. The loop makes its
 * view itself (`View` is a constant of the generated code): once V8 inlines
 * the callback, the view does not escape the loop and V8 keeps its fields in
 * registers instead of storing the position into an object per record.
 *
 * The loop body is written twice (two records per turn): the checks V8 puts
 * around the inlined callback (that `fn` is still the callback it inlined,
 * the loop's own counter and bound) then run once per two records (measured
 * in bench/struct_program.ts: `each` from 1.48x to 1.29x a raw loop,
 * `reduce` from 1.34x to 1.06x). Not more than twice: V8 inlines at most 920
 * bytes of bytecode into one function and 460 from one callee, so two copies
 * of any callback it would inline at all still fit.
 *
 * A `reduce` loop also passes the accumulator through the callback: a value
 * in a register once the callback is inlined, where a sum kept in a variable
 * the callback captures costs V8 a boxed number per record.
 */
function loopSource(
  kind: "each" | "reduce" | "sum",
  name: string,
  at: string,
  stride: number,
): string {
  const reduce = kind !== "each";
  // "sum": a reduce whose initial value is a number. `+acc` (a no-op on a
  // number) tells V8 the accumulator is a number from the start.
  return `"use strict";
return function ${name}_${kind}_${++generated}(source, base, n, fn${reduce ? ", acc" : ""}) {
  ${kind === "sum" ? "acc = +acc;" : ""}
  var view = new View(source, base);
  var i = 0, p = base;
  for (; i + 1 < n; i += 2, p += ${2 * stride}) {
    view.${at} = p;
    ${reduce ? "acc = fn(acc, view, i);" : "fn(view, i);"}
    view.${at} = p + ${stride};
    ${reduce ? "acc = fn(acc, view, i + 1);" : "fn(view, i + 1);"}
  }
  if (i < n) {
    view.${at} = p;
    ${reduce ? "acc = fn(acc, view, i);" : "fn(view, i);"}
  }
  ${reduce ? "return acc;" : ""}
};
//# sourceURL=typedheap:${name}.${kind}`;
}

/** A new loop of `kind` over the views of `iteration` (a new function, so with its own type feedback). */
function newLoop<L>(
  kind: "each" | "reduce" | "sum",
  iteration: Pick<Iteration, "View" | "name" | "at" | "stride">,
): L {
  const source = loopSource(kind, iteration.name, iteration.at, iteration.stride);
  return new Function("View", source)(iteration.View) as L;
}

/** The source of the cursor class of views moved by setting field `at`. */
function cursorSource(name: string, at: string, stride: number): string {
  return `"use strict";
return class ${name}Cursor_${++generated} {
  constructor(array, view, base, length) {
    this.array = array;
    this.$view = view;
    this.$base = base;
    this.$length = length;
  }
  get record() { return this.$view; }
  get index() { return (this.$view.${at} - this.$base) / ${stride}; }
  seek(i) {
    if ((i >>> 0) !== i || i >= this.$length) seekError(this, i);
    var v = this.$view;
    v.${at} = this.$base + i * ${stride};
    return v;
  }
  seekUnchecked(i) {
    var v = this.$view;
    v.${at} = this.$base + i * ${stride};
    return v;
  }
};
//# sourceURL=typedheap:${name}.cursor`;
}

/**
 * Builds the iteration code of view class `View`, of the type called
 * `typeName`, whose views are moved by setting field `at` to `base + i *
 * stride` (the byte offset of record `i`, or for columns its index). `seekError` throws for a bad `seek` index
 * (kept out of `seek`, so that it stays small enough to inline).
 */
export function _buildIteration(
  View: AnyViewClass,
  typeName: string,
  at: "$p" | "$i",
  stride: number,
  seekError: (cursor: CursorInstance, index: number) => never,
  addPrinting: (prototype: object) => void,
): Iteration {
  const name = identifier(typeName);
  const Cursor = new Function("seekError", cursorSource(name, at, stride))(
    seekError,
  ) as CursorClass;
  addPrinting(Cursor.prototype);
  const walk = { View, name, at, stride };
  return {
    ...walk,
    Cursor,
    loops: new Map(),
    shared: newLoop<EachLoop>("each", walk),
    reduceLoops: new Map(),
    sumLoops: new Map(),
    sharedReduce: newLoop<ReduceLoop>("reduce", walk),
  };
}

/**
 * Walks of fewer records than this use the shared loop: finding the loop of
 * a callback (its source text, hashed) costs about as much as calling it
 * from a polymorphic site for this many records.
 */
export const _SMALL_WALK = 32;

/**
 * The `each` loop of `iteration` for callback `fn` over `n` records: one per
 * distinct source text of the callback, generated on first use, up to
 * {@linkcode _MAX_LOOPS}; the shared one for short walks.
 */
export function _loopFor(
  iteration: Iteration,
  fn: (...args: never[]) => unknown,
  n: number,
): EachLoop {
  if (n < _SMALL_WALK) return iteration.shared;
  const source = Function.prototype.toString.call(fn);
  let loop = iteration.loops.get(source);
  if (loop === undefined) {
    if (iteration.loops.size >= _MAX_LOOPS) return iteration.shared;
    loop = newLoop<EachLoop>("each", iteration);
    iteration.loops.set(source, loop);
  }
  return loop;
}

/**
 * The `reduce` loop of `iteration` for callback `fn`, an initial value
 * `initial` and `n` records, as {@linkcode _loopFor}; a number initial value
 * gets a loop of its own (`acc = +acc` tells V8 the accumulator is a number).
 */
export function _reduceLoopFor(
  iteration: Iteration,
  fn: (...args: never[]) => unknown,
  initial: unknown,
  n: number,
): ReduceLoop {
  if (n < _SMALL_WALK) return iteration.sharedReduce;
  const sum = typeof initial === "number";
  const loops = sum ? iteration.sumLoops : iteration.reduceLoops;
  const source = Function.prototype.toString.call(fn);
  let loop = loops.get(source);
  if (loop === undefined) {
    if (loops.size >= _MAX_LOOPS) return iteration.sharedReduce;
    loop = newLoop<ReduceLoop>(sum ? "sum" : "reduce", iteration);
    loops.set(source, loop);
  }
  return loop;
}
