// The views a record view holds after it was passed to `destroy`: every
// property a generated accessor reads from its views (`u8`, `f64`, `dv`,
// `buffer`, …) throws `UseAfterFreeError`. `destroy` stores one of these in
// the view's private views field instead of the heap's `HeapViews`, so the
// accessors of live views are unchanged (no flag to test): only an access
// through a destroyed view reaches these getters. Not exported from mod.ts.

import { UseAfterFreeError } from "../src/errors.ts";

/** The views of a destroyed record: reading any of them throws. */
export class _DeadViews {
  /** The destroyed record's struct name. */
  readonly typeName: string;
  /** The destroyed record's pointer. */
  readonly ptr: number;

  constructor(typeName: string, ptr: number) {
    this.typeName = typeName;
    this.ptr = ptr;
  }

  /** The error for any access through a destroyed view. */
  error(): UseAfterFreeError {
    const error = new UseAfterFreeError(this.ptr, this.ptr);
    error.message =
      `Cannot use ${this.typeName} record at ${this.ptr}: this view was passed to destroy`;
    return error;
  }
}

for (
  const name of [
    "buffer",
    "byteLength",
    "u8",
    "i8",
    "u16",
    "i16",
    "u32",
    "i32",
    "f32",
    "f64",
    "u64",
    "i64",
    "dv",
    "heap",
    "cover",
    "refresh",
  ]
) {
  Object.defineProperty(_DeadViews.prototype, name, {
    get(this: _DeadViews): never {
      throw this.error();
    },
    configurable: false,
  });
}
