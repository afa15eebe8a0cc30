/**
 * Fixed-capacity UTF-8 string fields.
 *
 * @module
 */

import { _brand, _describe } from "./_brand.ts";
import { _isPositiveInteger, MAX_FIELD_BYTES } from "./_limits.ts";

/**
 * A fixed-capacity UTF-8 string field: `maxBytes` bytes in the record, like
 * C's `char name[maxBytes]`. A shorter string is followed by zero bytes; a
 * string of exactly `maxBytes` bytes has no terminator. Storing a string that
 * needs more bytes, or that contains U+0000, throws a `RangeError` and leaves
 * the field unchanged: strings are never cut. Lone surrogates are stored as
 * U+FFFD, as `TextEncoder` does.
 *
 * @example Inspecting a string type
 * ```ts
 * import { utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const name = utf8(16);
 * assert.equal(name.name, "utf8[16]");
 * assert.deepEqual([name.size, name.align], [16, 1]);
 * ```
 */
export class Utf8Type {
  /** Which family of field type this is. */
  readonly kind: "utf8" = "utf8";
  /** The name of this type in layouts, such as `"utf8[16]"`. */
  readonly name: string;
  /** The capacity in bytes. */
  readonly maxBytes: number;
  /** Size in bytes (equal to the capacity). */
  readonly size: number;
  /** Alignment in bytes (always 1). */
  readonly align: number;

  /**
   * Creates a string type. Use {@linkcode utf8} instead.
   *
   * @param maxBytes The capacity in bytes.
   */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
    this.name = `utf8[${maxBytes}]`;
    this.size = maxBytes;
    this.align = 1;
    _brand(this);
    Object.freeze(this);
  }
}

/**
 * Makes a fixed-capacity UTF-8 string field type.
 *
 * @param maxBytes The capacity in bytes: an integer from 1 to 2^30.
 * @returns The field type.
 * @throws {RangeError} If `maxBytes` is not such an integer.
 *
 * @example A name that must fit in 8 bytes
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const User = defineStruct("User", { name: utf8(8) });
 * const user = User.create(Heap.create(), { name: "zoë" });
 * assert.equal(user.name, "zoë");
 * user.name = "12345678"; // exactly at capacity
 * assert.equal(user.name, "12345678");
 * assert.throws(() => (user.name = "123456789"), RangeError);
 * assert.equal(user.name, "12345678");
 * ```
 */
export function utf8(maxBytes: number): Utf8Type {
  if (!_isPositiveInteger(maxBytes, MAX_FIELD_BYTES)) {
    throw new RangeError(
      `Cannot define utf8 field type: capacity must be an integer from 1 to ${MAX_FIELD_BYTES}: ${
        _describe(maxBytes)
      }`,
    );
  }
  return new Utf8Type(maxBytes);
}
