/**
 * Debug-mode records: the generation word each record made in debug mode
 * carries, and the debug view classes that check it on every access.
 *
 * @module
 */

import { UseAfterFreeError } from "../src/errors.ts";
import { _buildViewClass, type DebugViewClass, type ViewClass } from "./_codegen.ts";
import { _layouts, type Layout } from "./_layout.ts";
import { _hooks, _RUNTIME } from "./_runtime.ts";
import type { AnyStructType } from "./types.ts";

/** Debug view classes by the view class they extend (made on first use). */
const debugClasses = new WeakMap<ViewClass, DebugViewClass>();

/** The last generation handed out in this thread; generations start at a random value. */
let lastGeneration = (Math.random() * 2 ** 32) >>> 0;
/** What the heap fills freed blocks with, as a word (never a generation). */
export const _POISON_WORD = 0xdddddddd;

/** A new generation for a record made in debug mode: never 0 nor the poison word. */
export function _nextGeneration(): number {
  do lastGeneration = (lastGeneration + 0x9e3779b9) >>> 0; while (
    lastGeneration === 0 || lastGeneration === _POISON_WORD
  );
  return lastGeneration;
}

/** Debug mode: the error of `at` on a destroyed record. */
export function _destroyedAt(type: AnyStructType, ptr: number): UseAfterFreeError {
  const error = new UseAfterFreeError(ptr, ptr);
  error.message = `Cannot open ${type.name} record at ${ptr}: it was destroyed`;
  return error;
}

/** The debug variant of the view class of `type` for records at a multiple of `baseAlign`. */
export function _debugClassOf(type: AnyStructType, baseAlign: number): DebugViewClass {
  const Base = _hooks.viewClassOf(type, baseAlign);
  let Debug = debugClasses.get(Base);
  if (Debug === undefined) {
    const layout = _layouts.get(type) as Layout;
    const align = baseAlign >= type.align ? type.align : 1;
    Debug = _buildViewClass(type, layout, align, _hooks.viewClassOf, _RUNTIME, {
      base: Base,
      classFor: _debugClassOf,
    }) as unknown as DebugViewClass;
    debugClasses.set(Base, Debug);
  }
  return Debug;
}
