// Every definition and access error: its class and its message.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DoubleFreeError, Heap, InvalidPointerError } from "../../mod.ts";
import {
  array,
  atomicI32,
  defineStruct,
  f64,
  i32,
  ref,
  selfRef,
  u16,
  u32,
  u8,
  utf8,
} from "../../structs/mod.ts";

function throwsWith(fn: () => unknown, name: string, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Error, "an Error");
    assert.equal(error.name, name);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe("definition errors", () => {
  it("rejects a missing or bad name", () => {
    throwsWith(
      () => defineStruct(123 as never),
      "TypeError",
      "Cannot define struct: expected a name and fields, or fields: 123",
    );
    throwsWith(
      () => defineStruct("", { a: u8 }),
      "TypeError",
      'Cannot define struct: name must be a string of 1 to 200 characters: ""',
    );
  });

  it("rejects fields that are not an object or entries", () => {
    throwsWith(
      () => defineStruct("T", 5 as never),
      "TypeError",
      'Cannot define struct "T": fields must be an object or an array of [name, type] entries: 5',
    );
    throwsWith(() => defineStruct("T", u8 as never), "TypeError", /fields must be an object/);
    throwsWith(() => defineStruct("T", null as never), "TypeError", /fields must be an object/);
    throwsWith(
      () => defineStruct("T", [["a", u8, 1]] as never),
      "TypeError",
      'Cannot define struct "T": each entry must be a [name, type] pair: array of 3',
    );
  });

  it("rejects a struct with no fields", () => {
    throwsWith(
      () => defineStruct("T", {}),
      "TypeError",
      'Cannot define struct "T": it has no fields',
    );
    throwsWith(
      () => defineStruct("T", []),
      "TypeError",
      'Cannot define struct "T": it has no fields',
    );
  });

  it("rejects names that are not identifiers", () => {
    for (const name of ["a-b", "1a", "$x", "", "a b", "é"]) {
      throwsWith(
        () => defineStruct("T", { [name]: u8 }),
        "TypeError",
        `Cannot define struct field "T.${name}": name must be an identifier (letters, digits, _): ${
          JSON.stringify(name)
        }`,
      );
    }
  });

  it("rejects reserved names", () => {
    for (
      const name of [
        "ptr",
        "toJSON",
        "then",
        "constructor",
        "valueOf",
        "toString",
        "__proto__",
        "__x",
      ]
    ) {
      throwsWith(
        () => defineStruct("T", [[name, u8]]),
        "TypeError",
        `Cannot define struct field "T.${name}": name is reserved: ${JSON.stringify(name)}`,
      );
    }
  });

  it("rejects duplicate names", () => {
    throwsWith(
      () => defineStruct("T", [["a", u8], ["b", u8], ["a", f64]]),
      "TypeError",
      'Cannot define struct field "T.a": name is already used: "a"',
    );
  });

  it("rejects unknown field types", () => {
    const forged = { kind: "scalar", name: "u8", size: 1, align: 1 };
    const cases: [unknown, string][] = [
      ["f64", '"f64"'],
      [forged, "Object"],
      [Number, "function Number"],
      [null, "null"],
      [undefined, "undefined"],
      [8, "8"],
    ];
    for (const [type, shown] of cases) {
      throwsWith(
        () => defineStruct("T", { a: u8, x: type as never }),
        "TypeError",
        `Cannot define struct field "T.x": unknown field type: ${shown}`,
      );
    }
  });

  it("rejects bad array lengths and element types", () => {
    for (
      const [length, shown] of [[0, "0"], [-1, "-1"], [1.5, "1.5"], [NaN, "NaN"], ["3", '"3"']]
    ) {
      throwsWith(
        () => array(f64, length as number),
        "RangeError",
        `Cannot define array field type: length must be a positive integer: ${shown}`,
      );
    }
    throwsWith(
      () => array(u8, 2 ** 30 + 1),
      "RangeError",
      "Cannot define array field type: length must be a positive integer: 1073741825",
    );
    throwsWith(
      () => array(f64, 2 ** 28),
      "RangeError",
      "Cannot define array field type: f64[268435456] exceeds 1073741824 bytes: 2147483648",
    );
    for (
      const [element, shown] of [["f64", '"f64"'], [utf8(3), "utf8[3]"], [array(u8, 2), "u8[2]"], [
        selfRef,
        "ref<self>",
      ], [atomicI32, "atomicI32"]] as const
    ) {
      throwsWith(
        () => array(element as never, 2),
        "TypeError",
        `Cannot define array field type: element type must be a scalar or struct type: ${shown}`,
      );
    }
  });

  it("rejects bad string capacities", () => {
    for (
      const [n, shown] of [[0, "0"], [1.5, "1.5"], [2 ** 31, "2147483648"], [null, "null"], [
        "8",
        '"8"',
      ]]
    ) {
      throwsWith(
        () => utf8(n as number),
        "RangeError",
        `Cannot define utf8 field type: capacity must be an integer from 1 to 1073741824: ${shown}`,
      );
    }
  });

  it("rejects bad reference targets", () => {
    throwsWith(
      () => ref(5 as never),
      "TypeError",
      "Cannot define ref field type: target must be a struct type or a function returning one: 5",
    );
    throwsWith(() => ref(u8 as never), "TypeError", /target must be a struct type/);
    const lazy = ref(() => "nope" as never);
    const T = defineStruct("LazyBad", { r: lazy });
    const rec = T.create(Heap.create());
    rec.r; // null: the target is only needed for a non-null pointer or a write
    throwsWith(
      () => (rec.r = null),
      "TypeError",
      'Cannot resolve ref field type: the function must return a struct type: "nope"',
    );
    assert.equal(lazy.name, "ref<?>");
  });

  it("rejects bad options", () => {
    throwsWith(
      () => defineStruct("T", { a: u8 }, { packed: "yes" as never }),
      "TypeError",
      'Cannot define struct "T": option "packed" must be a boolean: "yes"',
    );
    for (const [align, shown] of [[3, "3"], [0, "0"], [8192, "8192"], [1.5, "1.5"], [-4, "-4"]]) {
      throwsWith(
        () => defineStruct("T", { a: u8 }, { align: align as number }),
        "RangeError",
        `Cannot define struct "T": option "align" must be a power of two from 1 to 4096: ${shown}`,
      );
    }
    throwsWith(
      () => defineStruct("T", { a: u8 }, 5 as never),
      "TypeError",
      'Cannot define struct "T": options must be an object: 5',
    );
  });

  it("rejects atomic fields a packed layout leaves unaligned, at any depth", () => {
    throwsWith(
      () => defineStruct("T", { a: u8, n: atomicI32 }, { packed: true }),
      "TypeError",
      'Cannot define struct field "T.n": atomic fields need 4-byte alignment, which this packed layout does not guarantee at byte offset: 1',
    );
    throwsWith(
      () => defineStruct("T", { n: atomicI32 }, { packed: true }), // offset 0, but alignment 1
      "TypeError",
      /atomic fields need 4-byte alignment/,
    );
    const Counter = defineStruct("Counter", { n: atomicI32 });
    throwsWith(
      () => defineStruct("T", { a: u8, c: Counter }, { packed: true }),
      "TypeError",
      'Cannot define struct field "T.c": it holds atomic fields and needs 4-byte alignment, which this packed layout does not guarantee at byte offset: 1',
    );
    throwsWith(
      () => defineStruct("T", { a: u16, c: array(Counter, 2) }, { packed: true, align: 4 }),
      "TypeError",
      /^Cannot define struct field "T.c"/,
    );
  });

  it("rejects a struct over 1 GiB", () => {
    throwsWith(
      () => defineStruct("T", { a: array(u8, 2 ** 30), b: u8 }),
      "RangeError",
      'Cannot define struct "T": size exceeds 1073741824 bytes at field "b": 1073741825',
    );
  });
});

describe("access errors", () => {
  const heap = Heap.create();
  const Item = defineStruct("Item", {
    id: u32,
    name: utf8(4),
    tags: array(u16, 2),
    pos: defineStruct("Pos", { x: f64 }),
    hits: atomicI32,
    next: selfRef,
  });

  it("string fields: too long, NUL, not a string", () => {
    const item = Item.create(heap);
    throwsWith(
      () => (item.name = "abcde"),
      "RangeError",
      'Cannot set field "Item.name": string needs 5 UTF-8 bytes but the field holds 4: "abcde"',
    );
    throwsWith(
      () => (item.name = "a\0b"),
      "RangeError",
      'Cannot set field "Item.name": string contains U+0000 at index 1: "a\\u0000b"',
    );
    throwsWith(
      () => (item.name = 5 as never),
      "TypeError",
      'Cannot set field "Item.name": value must be a string: 5',
    );
    const long = "x".repeat(100);
    throwsWith(() => (item.name = long), "RangeError", /holds 4: "x{40}…"$/);
  });

  it("read-only properties cannot be assigned", () => {
    const item = Item.create(heap) as unknown as Record<string, unknown>;
    for (const name of ["tags", "pos", "hits"]) {
      assert.throws(() => (item[name] = 1), {
        name: "TypeError",
        message: new RegExp(`^Cannot set field "Item\\.${name}": a \\w+ field cannot be assigned`),
      });
    }
  });

  it("init errors", () => {
    throwsWith(
      () => Item.create(heap, { id: 1, colour: 2 } as never),
      "TypeError",
      "Cannot create Item: Item has no field 'colour'; its fields are: id, name, tags, pos, hits, next",
    );
    throwsWith(
      () => Item.create(heap, 5 as never),
      "TypeError",
      "Cannot create Item: init must be an object: 5",
    );
    throwsWith(() => Item.create(heap, null as never), "TypeError", /init must be an object: null/);
    throwsWith(
      () => Item.create(heap, { tags: [1] }),
      "RangeError",
      'Cannot create Item: field "tags": expected 2 elements, got 1',
    );
    throwsWith(
      () => Item.create(heap, { tags: 5 as never }),
      "TypeError",
      'Cannot create Item: field "tags": value must be an array-like of 2 elements: 5',
    );
    throwsWith(
      () => Item.create(heap, { pos: 5 as never }),
      "TypeError",
      'Cannot create Item: field "pos": value must be a Pos init object or record: 5',
    );
    throwsWith(
      () => Item.create(heap, { pos: { y: 1 } as never }),
      "TypeError",
      `Cannot create Item: Pos has no field 'y'; did you mean 'x'? (at "pos")`,
    );
  });

  it("at() rejects pointers that cannot hold a record", () => {
    const small = Heap.create({ initialBytes: 64 * 1024, maxBytes: 64 * 1024 });
    const cases: [unknown, RegExp][] = [
      [0, /^Cannot open pointer: 0 is not a positive integer$/],
      [-8, /-8 is not a positive integer/],
      [1.5, /1.5 is not a positive integer/],
      ["8", /"8" is not a positive integer/],
      [12, /^Cannot open pointer: 12 is not a multiple of the alignment of Item \(8\)$/],
      [
        64 * 1024,
        /^Cannot open pointer: 65536 is outside the heap: a Item there would end past byte 65536$/,
      ],
    ];
    for (const [ptr, message] of cases) {
      throwsWith(() => Item.at(small, ptr as number), "InvalidPointerError", message);
    }
    assert.ok(new InvalidPointerError("open", 1, "x") instanceof Error);
  });

  it("destroy() rejects other values and double frees", () => {
    const item = Item.create(heap);
    const Other = defineStruct("OtherItem", { id: u32 });
    throwsWith(
      () => Item.destroy(heap, Other.create(heap) as never),
      "TypeError",
      "Cannot destroy Item record: value must be a Item record or pointer: OtherItem",
    );
    throwsWith(
      () => Item.destroy(heap, {} as never),
      "TypeError",
      /value must be a Item record or pointer: Object/,
    );
    const Holder = defineStruct("Holder", { a: u8, item: Item });
    const holder = Holder.create(heap);
    // a nested record is not a block of its own: the heap refuses the interior pointer
    assert.throws(() => Item.destroy(heap, holder.item), InvalidPointerError);
    Item.destroy(heap, item);
    assert.throws(() => Item.destroy(heap, item), DoubleFreeError);
  });

  it("assign() and offsetOf() check their arguments", () => {
    throwsWith(
      () => Item.assign({} as never, {}),
      "TypeError",
      "Cannot assign to Item record: value must be a Item record: Object",
    );
    throwsWith(
      () => Item.assign(Item.create(heap), 3 as never),
      "TypeError",
      "Cannot assign to Item record: init must be an object: 3",
    );
    throwsWith(
      () => Item.offsetOf("nope"),
      "TypeError",
      'Cannot get offset of field "nope": Item has no field named "nope"',
    );
    throwsWith(
      () => Item.offsetOf("id.x"),
      "TypeError",
      'Cannot get offset of field "id.x": "id" is not a nested struct: u32',
    );
  });

  it("array errors: bad length, index, seek and foreign headers", () => {
    const Cell = defineStruct("ECell", { v: i32 });
    for (
      const [length, shown] of [[-1, "-1"], [1.5, "1.5"], [2 ** 31, "2147483648"], ["2", '"2"']]
    ) {
      throwsWith(
        () => Cell.createArray(heap, length as number),
        "RangeError",
        `Cannot create ECell array: length must be an integer from 0 to 1073741823: ${shown}`,
      );
    }
    const cells = Cell.createArray(heap, 3);
    for (const index of [-1, 3, 1.5, NaN]) {
      throwsWith(
        () => cells.at(index),
        "RangeError",
        `Cannot get record of ECell array: index must be an integer from 0 to 2: ${index}`,
      );
      throwsWith(
        () => cells.cursor().seek(index),
        "RangeError",
        `Cannot seek ECell cursor: index must be an integer from 0 to 2: ${index}`,
      );
    }
    throwsWith(
      () => Cell.arrayAt(heap, 8),
      "InvalidPointerError",
      "Cannot open array pointer: 8 is inside the heap header",
    );
    const Wide = defineStruct("EWide", { a: f64, b: f64 });
    throwsWith(
      () => Wide.arrayAt(heap, cells.ptr),
      "InvalidPointerError",
      /is not a multiple of the alignment|does not hold EWide records/,
    );
    cells.destroy();
  });
});
