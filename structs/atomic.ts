/**
 * Atomic integer field types. Reading such a field gives a handle whose
 * operations go through `Atomics`, so several workers can update the same
 * record without a lock.
 *
 * @module
 */

import { _brand } from "./_brand.ts";

/** The integer kind stored by an atomic field. */
export type AtomicKind = "i32" | "u32" | "i64" | "u64";

/**
 * An atomic integer field type: a 4- or 8-byte integer that is read and
 * written with `Atomics`. Atomic fields must sit at an address that is a
 * multiple of their size, so a `packed` struct may only hold one where that
 * is guaranteed (otherwise the definition throws a `TypeError`).
 *
 * @typeParam K The integer kind.
 *
 * @example Inspecting an atomic type
 * ```ts
 * import { atomicU64 } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * assert.equal(atomicU64.name, "atomicU64");
 * assert.equal(atomicU64.size, 8);
 * ```
 */
export class AtomicType<K extends AtomicKind = AtomicKind> {
  /** Which family of field type this is. */
  readonly kind: "atomic" = "atomic";
  /** The name of this type in layouts, such as `"atomicI32"`. */
  readonly name: string;
  /** The integer kind. */
  readonly element: K;
  /** Size in bytes. */
  readonly size: number;
  /** Alignment in bytes (equal to the size). */
  readonly align: number;

  /**
   * Creates an atomic type. Use the exported constants (`atomicI32`, …) instead.
   *
   * @param element The integer kind.
   * @param sizeBytes Its size in bytes.
   */
  constructor(element: K, sizeBytes: number) {
    this.element = element;
    this.name = `atomic${element.toUpperCase()}`;
    this.size = sizeBytes;
    this.align = sizeBytes;
    _brand(this);
    Object.freeze(this);
  }
}

/**
 * Handle on a 32-bit atomic field of one record; every operation is the
 * matching `Atomics` call on the heap's memory. Reading the field again from
 * the same record view returns the same handle.
 *
 * @example Counting with an atomic field
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { atomicI32, defineStruct } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Stats = defineStruct("Stats", { hits: atomicI32 });
 * const stats = Stats.create(Heap.create(), { hits: 40 });
 * assert.equal(stats.hits.add(2), 40); // returns the previous value
 * assert.equal(stats.hits.load(), 42);
 * assert.equal(stats.hits.compareExchange(42, 7), 42);
 * assert.equal(stats.hits.load(), 7);
 * ```
 */
export class AtomicInt {
  /** @ignore The typed array the handle indexes (refreshed by the owning view). */
  $a: Int32Array | Uint32Array;
  /** @ignore The element index of the field. */
  $i: number;

  /**
   * Creates a handle. Records create these; there is no need to call it.
   *
   * @param array An `Int32Array` or `Uint32Array` over the heap.
   * @param index The element index of the field.
   */
  constructor(array: Int32Array | Uint32Array, index: number) {
    this.$a = array;
    this.$i = index;
  }

  /** The byte offset of the field in the heap. */
  get ptr(): number {
    return this.$i * 4;
  }

  /** Reads the value (`Atomics.load`). @returns The current value. */
  load(): number {
    return Atomics.load(this.$a, this.$i);
  }

  /** Writes the value (`Atomics.store`). @param value The new value. @returns The value stored. */
  store(value: number): number {
    return Atomics.store(this.$a, this.$i, value);
  }

  /** Adds to the value (`Atomics.add`). @param value The addend. @returns The previous value. */
  add(value: number): number {
    return Atomics.add(this.$a, this.$i, value);
  }

  /** Subtracts from the value (`Atomics.sub`). @param value The subtrahend. @returns The previous value. */
  sub(value: number): number {
    return Atomics.sub(this.$a, this.$i, value);
  }

  /** Bitwise and (`Atomics.and`). @param value The mask. @returns The previous value. */
  and(value: number): number {
    return Atomics.and(this.$a, this.$i, value);
  }

  /** Bitwise or (`Atomics.or`). @param value The mask. @returns The previous value. */
  or(value: number): number {
    return Atomics.or(this.$a, this.$i, value);
  }

  /** Bitwise exclusive or (`Atomics.xor`). @param value The mask. @returns The previous value. */
  xor(value: number): number {
    return Atomics.xor(this.$a, this.$i, value);
  }

  /** Replaces the value (`Atomics.exchange`). @param value The new value. @returns The previous value. */
  exchange(value: number): number {
    return Atomics.exchange(this.$a, this.$i, value);
  }

  /**
   * Replaces the value if it equals `expected` (`Atomics.compareExchange`).
   *
   * @param expected The value the field must hold.
   * @param replacement The value to store if it does.
   * @returns The previous value: equal to `expected` when the exchange happened.
   */
  compareExchange(expected: number, replacement: number): number {
    return Atomics.compareExchange(this.$a, this.$i, expected, replacement);
  }

  /** The current value, for `JSON.stringify`. @returns The current value. */
  toJSON(): number {
    return Atomics.load(this.$a, this.$i);
  }

  /** Prints as `AtomicInt(value)` in Deno. @returns The text. */
  [Symbol.for("Deno.customInspect")](): string {
    return `AtomicInt(${Atomics.load(this.$a, this.$i)})`;
  }

  /** Prints as `AtomicInt(value)` in Node. @returns The text. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `AtomicInt(${Atomics.load(this.$a, this.$i)})`;
  }
}

/**
 * Handle on a 64-bit atomic field of one record, with `bigint` values; every
 * operation is the matching `Atomics` call on the heap's memory.
 *
 * @example A 64-bit sequence number
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { atomicU64, defineStruct } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Seq = defineStruct("Seq", { next: atomicU64 });
 * const seq = Seq.create(Heap.create(), { next: 2n ** 64n - 1n });
 * assert.equal(seq.next.add(1n), 2n ** 64n - 1n);
 * assert.equal(seq.next.load(), 0n); // wraps like C
 * ```
 */
export class AtomicBigInt {
  /** @ignore The typed array the handle indexes (refreshed by the owning view). */
  $a: BigInt64Array | BigUint64Array;
  /** @ignore The element index of the field. */
  $i: number;

  /**
   * Creates a handle. Records create these; there is no need to call it.
   *
   * @param array A `BigInt64Array` or `BigUint64Array` over the heap.
   * @param index The element index of the field.
   */
  constructor(array: BigInt64Array | BigUint64Array, index: number) {
    this.$a = array;
    this.$i = index;
  }

  /** The byte offset of the field in the heap. */
  get ptr(): number {
    return this.$i * 8;
  }

  /** Reads the value (`Atomics.load`). @returns The current value. */
  load(): bigint {
    return Atomics.load(this.$a, this.$i);
  }

  /** Writes the value (`Atomics.store`). @param value The new value. @returns The value stored. */
  store(value: bigint): bigint {
    return Atomics.store(this.$a, this.$i, value);
  }

  /** Adds to the value (`Atomics.add`). @param value The addend. @returns The previous value. */
  add(value: bigint): bigint {
    return Atomics.add(this.$a, this.$i, value);
  }

  /** Subtracts from the value (`Atomics.sub`). @param value The subtrahend. @returns The previous value. */
  sub(value: bigint): bigint {
    return Atomics.sub(this.$a, this.$i, value);
  }

  /** Bitwise and (`Atomics.and`). @param value The mask. @returns The previous value. */
  and(value: bigint): bigint {
    return Atomics.and(this.$a, this.$i, value);
  }

  /** Bitwise or (`Atomics.or`). @param value The mask. @returns The previous value. */
  or(value: bigint): bigint {
    return Atomics.or(this.$a, this.$i, value);
  }

  /** Bitwise exclusive or (`Atomics.xor`). @param value The mask. @returns The previous value. */
  xor(value: bigint): bigint {
    return Atomics.xor(this.$a, this.$i, value);
  }

  /** Replaces the value (`Atomics.exchange`). @param value The new value. @returns The previous value. */
  exchange(value: bigint): bigint {
    return Atomics.exchange(this.$a, this.$i, value);
  }

  /**
   * Replaces the value if it equals `expected` (`Atomics.compareExchange`).
   *
   * @param expected The value the field must hold.
   * @param replacement The value to store if it does.
   * @returns The previous value: equal to `expected` when the exchange happened.
   */
  compareExchange(expected: bigint, replacement: bigint): bigint {
    return Atomics.compareExchange(this.$a, this.$i, expected, replacement);
  }

  /** The current value as a decimal string, for `JSON.stringify`. @returns The current value. */
  toJSON(): string {
    return String(Atomics.load(this.$a, this.$i));
  }

  /** Prints as `AtomicBigInt(valuen)` in Deno. @returns The text. */
  [Symbol.for("Deno.customInspect")](): string {
    return `AtomicBigInt(${Atomics.load(this.$a, this.$i)}n)`;
  }

  /** Prints as `AtomicBigInt(valuen)` in Node. @returns The text. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `AtomicBigInt(${Atomics.load(this.$a, this.$i)}n)`;
  }
}

/**
 * Atomic signed 32-bit integer field; reading it gives an {@linkcode AtomicInt}.
 *
 * @example A shared counter
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { atomicI32, defineStruct } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Counter = defineStruct("Counter", { n: atomicI32 });
 * const counter = Counter.create(Heap.create());
 * counter.n.add(5);
 * counter.n.sub(7);
 * assert.equal(counter.n.load(), -2);
 * ```
 */
export const atomicI32: AtomicType<"i32"> = new AtomicType("i32", 4);

/**
 * Atomic unsigned 32-bit integer field; reading it gives an {@linkcode AtomicInt}.
 *
 * @example Atomic bit flags
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { atomicU32, defineStruct } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Flags = defineStruct("Flags", { bits: atomicU32 });
 * const flags = Flags.create(Heap.create());
 * flags.bits.or(0x8000_0001);
 * flags.bits.and(0x8000_0000);
 * assert.equal(flags.bits.load(), 0x8000_0000);
 * ```
 */
export const atomicU32: AtomicType<"u32"> = new AtomicType("u32", 4);

/**
 * Atomic signed 64-bit integer field; reading it gives an {@linkcode AtomicBigInt}.
 *
 * @example A signed 64-bit balance
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { atomicI64, defineStruct } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Account = defineStruct("Account", { cents: atomicI64 });
 * const account = Account.create(Heap.create());
 * account.cents.sub(5n);
 * assert.equal(account.cents.load(), -5n);
 * ```
 */
export const atomicI64: AtomicType<"i64"> = new AtomicType("i64", 8);

/**
 * Atomic unsigned 64-bit integer field; reading it gives an {@linkcode AtomicBigInt}.
 *
 * @example An exchange on a 64-bit word
 * ```ts
 * import { Heap } from "@typedheap/typedheap";
 * import { atomicU64, defineStruct } from "@typedheap/typedheap/structs";
 * import assert from "node:assert/strict";
 *
 * const Slot = defineStruct("Slot", { owner: atomicU64 });
 * const slot = Slot.create(Heap.create());
 * assert.equal(slot.owner.exchange(9n), 0n);
 * assert.equal(slot.owner.load(), 9n);
 * ```
 */
export const atomicU64: AtomicType<"u64"> = new AtomicType("u64", 8);
