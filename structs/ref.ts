/**
 * Reference fields: a pointer to another record in the same heap, or null.
 *
 * @module
 */

import { _brand, _describe, _isBranded } from "./_brand.ts";
import type { StructFields, StructType } from "./types.ts";

/**
 * A reference field: a 32-bit pointer (`uint32_t`, 0 for null) to a record of
 * `target`'s type in the same heap. Reading it gives a new view of the target
 * record, or `null`; writing takes a view of that type or `null`.
 *
 * @typeParam F The fields of the target struct type.
 *
 * @example Inspecting a reference type
 * ```ts
 * import { defineStruct, f64, ref } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Vec = defineStruct("Vec", { x: f64, y: f64 });
 * const toVec = ref(Vec);
 * assert.equal(toVec.name, "ref<Vec>");
 * assert.equal(toVec.target, Vec);
 * assert.deepEqual([toVec.size, toVec.align], [4, 4]);
 * ```
 */
export class RefType<F extends StructFields = StructFields> {
  /** Which family of field type this is. */
  readonly kind: "ref" = "ref";
  /** Size in bytes (a 32-bit pointer). */
  readonly size: number = 4;
  /** Alignment in bytes. */
  readonly align: number = 4;
  #target: StructType<F> | (() => StructType<F>);
  #resolved: StructType<F> | undefined;

  /**
   * Creates a reference type. Use {@linkcode ref} instead.
   *
   * @param target The target struct type, or a function returning it.
   */
  constructor(target: StructType<F> | (() => StructType<F>)) {
    this.#target = target;
    this.#resolved = typeof target === "function" ? undefined : target;
    _brand(this);
    Object.freeze(this);
  }

  /**
   * The target struct type. A lazy target is resolved (and checked) the
   * first time this is read.
   *
   * @throws {TypeError} If a lazy target's function does not return a struct type.
   */
  get target(): StructType<F> {
    if (this.#resolved !== undefined) return this.#resolved;
    const thunk = this.#target as () => StructType<F>;
    const target = thunk();
    if (!_isStructType(target)) {
      throw new TypeError(
        `Cannot resolve ref field type: the function must return a struct type: ${
          _describe(target)
        }`,
      );
    }
    this.#resolved = target;
    return target;
  }

  /** The name of this type in layouts, such as `"ref<Node>"` (`"ref<?>"` while a lazy target is not yet defined). */
  get name(): string {
    try {
      return `ref<${this.target.name}>`;
    } catch {
      return "ref<?>";
    }
  }
}

/**
 * The type of {@linkcode selfRef}: a reference to the struct being defined.
 *
 * @example The marker's layout
 * ```ts
 * import { selfRef } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * assert.equal(selfRef.name, "ref<self>");
 * assert.equal(selfRef.size, 4);
 * ```
 */
export class SelfRefType {
  /** Which family of field type this is. */
  readonly kind: "selfref" = "selfref";
  /** The name of this type in layouts. */
  readonly name: string = "ref<self>";
  /** Size in bytes (a 32-bit pointer). */
  readonly size: number = 4;
  /** Alignment in bytes. */
  readonly align: number = 4;

  /** Creates the marker. Use {@linkcode selfRef} instead. */
  constructor() {
    _brand(this);
    Object.freeze(this);
  }
}

/**
 * A reference to the struct type being defined: the usual way to write a
 * linked list or tree node, with the field's type inferred.
 *
 * @example A linked list
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { defineStruct, i32, selfRef } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Node = defineStruct("Node", { value: i32, next: selfRef });
 * const heap = Heap.create();
 * const second = Node.create(heap, { value: 2 });
 * const first = Node.create(heap, { value: 1, next: second });
 * assert.equal(first.next?.value, 2);
 * assert.equal(first.next?.next, null);
 * ```
 */
export const selfRef: SelfRefType = new SelfRefType();

/**
 * Makes a reference field type pointing to records of `target`'s type.
 * Pass a function returning the type when it is defined later (mutually
 * recursive types); give that type an explicit annotation so TypeScript can
 * name it, as in the example. For a struct that refers to itself, use
 * {@linkcode selfRef}.
 *
 * @typeParam F The fields of the target struct type.
 * @param target The target struct type, or a function returning it.
 * @returns The field type.
 * @throws {TypeError} If `target` is neither a struct type nor a function.
 *
 * @example Two types that refer to each other
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import {
 *   defineStruct,
 *   i32,
 *   ref,
 *   type RefType,
 *   type StructType,
 * } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * type AuthorFields = { id: typeof i32; latest: RefType<BookFields> };
 * type BookFields = { id: typeof i32; author: RefType<AuthorFields> };
 * const Author: StructType<AuthorFields> = defineStruct("Author", {
 *   id: i32,
 *   latest: ref((): StructType<BookFields> => Book),
 * });
 * const Book: StructType<BookFields> = defineStruct("Book", { id: i32, author: ref(Author) });
 *
 * const heap = Heap.create();
 * const author = Author.create(heap, { id: 7 });
 * author.latest = Book.create(heap, { id: 99, author });
 * assert.equal(author.latest?.author?.id, 7);
 * ```
 */
export function ref<F extends StructFields>(
  target: StructType<F> | (() => StructType<F>),
): RefType<F> {
  if (typeof target !== "function" && !_isStructType(target)) {
    throw new TypeError(
      `Cannot define ref field type: target must be a struct type or a function returning one: ${
        _describe(target)
      }`,
    );
  }
  return new RefType(target);
}

function _isStructType(value: unknown): boolean {
  return _isBranded(value) && (value as { kind: unknown }).kind === "struct";
}
