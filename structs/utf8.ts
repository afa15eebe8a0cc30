/**
 * UTF-8 string fields: fixed-capacity (inline in the record) and
 * variable-length (in a heap block the record owns).
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
 * A variable-length UTF-8 string field: the record holds a pointer to a heap
 * block with the string's bytes and the byte length (8 bytes, aligned to 4:
 * `uint32_t ptr, len`). The record owns the block: assigning a new string
 * reuses it when the new bytes fit its size (rounded up to 8), otherwise
 * allocates a new block and frees the old one; `destroy` frees it. The empty
 * string holds no block. Any string fits, U+0000 included; lone surrogates
 * are stored as U+FFFD, as `TextEncoder` does. Made by {@linkcode utf8}
 * without a capacity.
 *
 * @example Inspecting a variable-length string type
 * ```ts
 * import { utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const text = utf8();
 * assert.equal(text.name, "utf8");
 * assert.deepEqual([text.kind, text.size, text.align], ["string", 8, 4]);
 * ```
 */
export class StringType {
  /** Which family of field type this is. */
  readonly kind: "string" = "string";
  /** The name of this type in layouts: `"utf8"`. */
  readonly name: "utf8" = "utf8";
  /** Size in bytes in the record (pointer and byte length). */
  readonly size: number = 8;
  /** Alignment in bytes. */
  readonly align: number = 4;

  /** Creates the type. Use {@linkcode utf8} without arguments instead. */
  constructor() {
    _brand(this);
    Object.freeze(this);
  }
}

const VARIABLE = new StringType();

/**
 * Makes a variable-length UTF-8 string field type: any length, stored in a
 * heap block the record owns (see {@linkcode StringType}).
 *
 * @returns The field type.
 *
 * @example A name of any length
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, utf8 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const heap = Heap.create();
 * const User = defineStruct("User", { name: utf8() });
 * const user = User.create(heap, { name: "zoë" });
 * user.name = "a much longer name than any fixed field would hold";
 * assert.equal(user.name.length, 50);
 * User.destroy(heap, user); // frees the string's block too
 * ```
 */
export function utf8(): StringType;
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
export function utf8(maxBytes: number): Utf8Type;
export function utf8(...args: unknown[]): Utf8Type | StringType {
  if (args.length === 0 || (args.length === 1 && args[0] === undefined)) return VARIABLE;
  const maxBytes = args[0];
  if (!_isPositiveInteger(maxBytes, MAX_FIELD_BYTES)) {
    throw new RangeError(
      `Cannot define utf8 field type: capacity must be an integer from 1 to ${MAX_FIELD_BYTES}: ${
        _describe(maxBytes)
      }`,
    );
  }
  return new Utf8Type(maxBytes);
}
