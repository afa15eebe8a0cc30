// Generated iteration code: the loop behind `each` and the cursor class, one
// per record view class (so per struct type), and the `each` loop once more
// per callback source. Not exported from mod.ts.
//
// Why generated, and why so many copies: V8 keeps type feedback per function
// (per SharedFunctionInfo), not per caller. With one `each` and one cursor
// class shared by every struct type, a program that calls `each` with a few
// callbacks and walks a few types makes those shared sites polymorphic, and
// the hot loops slow down 2-7x. What V8's own tracing showed (Deno 2.9.6,
// bench/struct_program_bench.ts against the old shared code):
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
// and the fields keep one representation (`$p` and `index` small integers).

import type { ViewInstance } from "./_codegen.ts";

/** The loop behind `each`: walks `n` records from `base`, calling `fn` with the moving view. */
export type EachLoop = (
  view: ViewInstance,
  base: number,
  n: number,
  fn: (record: never, index: number) => void,
) => void;

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

/** What is generated for one view class. */
export interface Iteration {
  /** The cursor class. */
  readonly Cursor: CursorClass;
  /** `each` loops by callback source text. */
  readonly loops: Map<string, EachLoop>;
  /** The loop used once `loops` is full (shared, so it may become polymorphic). */
  readonly shared: EachLoop;
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
 * body is the view store, the call and the increments.
 */
function loopSource(name: string, at: string, stride: number): string {
  return `"use strict";
return function ${name}_each_${++generated}(view, base, n, fn) {
  for (var i = 0, p = base; i < n; i++, p += ${stride}) {
    view.${at} = p;
    fn(view, i);
  }
};
//# sourceURL=typedheap:${name}.each`;
}

/** A new `each` loop (a new function, so with its own type feedback). */
function newLoop(name: string, at: string, stride: number): EachLoop {
  return new Function(loopSource(name, at, stride))() as EachLoop;
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
 * Builds the iteration code of one view class, of the type called
 * `typeName`, whose views are moved by setting field `at` to `base + i *
 * stride` (the byte offset of record `i`, or for columns its index). `seekError` throws for a bad `seek` index
 * (kept out of `seek`, so that it stays small enough to inline).
 */
export function _buildIteration(
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
  return { Cursor, loops: new Map(), shared: newLoop(name, at, stride), at, stride, name };
}

/**
 * The `each` loop of `iteration` for callback `fn`: one per distinct source
 * text of the callback, generated on first use, up to {@linkcode _MAX_LOOPS}.
 */
export function _loopFor(iteration: Iteration, fn: (...args: never[]) => unknown): EachLoop {
  const source = Function.prototype.toString.call(fn);
  let loop = iteration.loops.get(source);
  if (loop === undefined) {
    if (iteration.loops.size >= _MAX_LOOPS) return iteration.shared;
    loop = newLoop(iteration.name, iteration.at, iteration.stride);
    iteration.loops.set(source, loop);
  }
  return loop;
}
