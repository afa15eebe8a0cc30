// Golden layouts: offsets and sizes written out by hand from the x86-64
// System V C rules (each field at a multiple of its alignment, the struct's
// alignment the largest of its fields', its size rounded up to it; packed:
// no padding). When gcc is installed, the same table is also compiled as C
// (from `Type.toString()`) and compared.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type AnyStructType,
  array,
  atomicI32,
  atomicI64,
  bool,
  defineStruct,
  f32,
  f64,
  i16,
  i32,
  i64,
  i8,
  ref,
  selfRef,
  u16,
  u32,
  u64,
  u8,
  utf8,
} from "../../structs/mod.ts";

const Vec3 = defineStruct("Vec3", { x: f32, y: f32, z: f32 });
const Inner = defineStruct("Inner", { a: u64, b: u8 });
const Tiny = defineStruct("Tiny", { a: u8, b: u8, c: u8 });

interface Golden {
  type: AnyStructType;
  size: number;
  align: number;
  offsets: number[];
}

const GOLDEN: Golden[] = [
  // char a; uint32_t b; char c;  -> padding 3 after a, 3 at the end
  { type: defineStruct("G01", { a: u8, b: u32, c: u8 }), size: 12, align: 4, offsets: [0, 4, 8] },
  { type: defineStruct("G02", { a: u8, b: f64 }), size: 16, align: 8, offsets: [0, 8] },
  { type: defineStruct("G03", { a: f64, b: u8 }), size: 16, align: 8, offsets: [0, 8] },
  { type: defineStruct("G04", { a: u16, b: u8 }), size: 4, align: 2, offsets: [0, 2] },
  { type: Tiny, size: 3, align: 1, offsets: [0, 1, 2] },
  {
    type: defineStruct("G06", { a: bool, b: i64, c: bool, d: i16 }),
    size: 24,
    align: 8,
    offsets: [0, 8, 16, 18],
  },
  { type: defineStruct("G07", { a: u8, b: u64, c: u32 }), size: 24, align: 8, offsets: [0, 8, 16] },
  { type: Vec3, size: 12, align: 4, offsets: [0, 4, 8] },
  // nested struct of floats: aligned to 4, placed after the byte
  {
    type: defineStruct("G09", { tag: u8, v: Vec3, after: u8 }),
    size: 20,
    align: 4,
    offsets: [0, 4, 16],
  },
  // nested struct with 8-byte alignment and its own tail padding
  { type: Inner, size: 16, align: 8, offsets: [0, 8] },
  {
    type: defineStruct("G11", { a: u8, inner: Inner, c: u8 }),
    size: 32,
    align: 8,
    offsets: [0, 8, 24],
  },
  {
    type: defineStruct("G12", { a: u8, arr: array(f32, 3), b: u8 }),
    size: 20,
    align: 4,
    offsets: [0, 4, 16],
  },
  {
    type: defineStruct("G13", { name: array(u8, 5), x: u32 }),
    size: 12,
    align: 4,
    offsets: [0, 8],
  },
  // array of nested structs
  {
    type: defineStruct("G14", { n: u16, pts: array(Vec3, 2), w: f64 }),
    size: 40,
    align: 8,
    offsets: [0, 4, 32],
  },
  { type: defineStruct("G15", { name: utf8(7), x: u16 }), size: 10, align: 2, offsets: [0, 8] },
  // references are 32-bit pointers
  {
    type: defineStruct("G16", { v: i32, next: selfRef, other: ref(Vec3), flag: u8 }),
    size: 16,
    align: 4,
    offsets: [0, 4, 8, 12],
  },
  {
    type: defineStruct("G17", { a: u8, c: atomicI64, d: atomicI32 }),
    size: 24,
    align: 8,
    offsets: [0, 8, 16],
  },
  // packed: no padding anywhere
  {
    type: defineStruct("G18", { a: u8, b: u32, c: u16 }, { packed: true }),
    size: 7,
    align: 1,
    offsets: [0, 1, 5],
  },
  // packed, aligned(4): no padding between fields, size rounded up to 4
  {
    type: defineStruct("G19", { a: u8, b: u32, c: u16 }, { packed: true, align: 4 }),
    size: 8,
    align: 4,
    offsets: [0, 1, 5],
  },
  {
    type: defineStruct("G20", { a: u8, v: Vec3, d: f64 }, { packed: true }),
    size: 21,
    align: 1,
    offsets: [0, 1, 13],
  },
  // aligned(16) raises alignment and size
  { type: defineStruct("G21", { a: u8 }, { align: 16 }), size: 16, align: 16, offsets: [0] },
  {
    type: defineStruct("G22", { a: i8, b: i16, c: i32, d: i64, e: f32, f: f64, g: u8 }),
    size: 40,
    align: 8,
    offsets: [0, 2, 4, 8, 16, 24, 32],
  },
  {
    type: defineStruct("G23", { flags: array(bool, 3), x: f64 }),
    size: 16,
    align: 8,
    offsets: [0, 8],
  },
  {
    type: defineStruct("G24", { a: u8, arr: array(u64, 2) }),
    size: 24,
    align: 8,
    offsets: [0, 8],
  },
  // an array of a 3-byte struct keeps alignment 1
  {
    type: defineStruct("G25", { t: array(Tiny, 3), s: u16 }),
    size: 12,
    align: 2,
    offsets: [0, 10],
  },
  // the align option never lowers a C layout's alignment
  { type: defineStruct("G26", { a: f64 }, { align: 2 }), size: 8, align: 8, offsets: [0] },
];

describe("struct layouts (x86-64 C ABI)", () => {
  for (const g of GOLDEN) {
    it(`${g.type.name} has size ${g.size}, align ${g.align}, offsets ${g.offsets}`, () => {
      assert.equal(g.type.size, g.size);
      assert.equal(g.type.align, g.align);
      assert.deepEqual(g.type.fields.map((f) => f.offset), g.offsets);
      for (const f of g.type.fields) assert.equal(g.type.offsetOf(f.name), f.offset);
    });
  }

  it("has at least 15 golden shapes", () => {
    assert.ok(GOLDEN.length >= 15);
  });

  it("describes fields with names, types and sizes", () => {
    const T = defineStruct("Described", { id: u64, pos: Vec3, tags: array(u16, 4), name: utf8(9) });
    assert.deepEqual(
      T.fields.map((f) => [f.name, f.type.name, f.offset, f.size, f.align]),
      [
        ["id", "u64", 0, 8, 8],
        ["pos", "Vec3", 8, 12, 4],
        ["tags", "u16[4]", 20, 8, 2],
        ["name", "utf8[9]", 28, 9, 1],
      ],
    );
    assert.equal(T.size, 40);
    assert.equal(T.fieldTypes.pos, Vec3);
  });

  it("matches gcc where gcc is installed", async (t) => {
    let gcc: string | undefined;
    try {
      const probe = await new Deno.Command("gcc", {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (probe.success) gcc = "gcc";
    } catch {
      gcc = undefined;
    }
    if (gcc === undefined) {
      t.skip("gcc is not installed");
      return;
    }
    const declared = new Set<string>();
    const decls: string[] = [];
    const declare = (type: AnyStructType): void => {
      if (declared.has(type.name)) return;
      for (const f of type.fields) {
        const inner = f.type.kind === "array" ? f.type.element : f.type;
        if (inner.kind === "struct") declare(inner);
      }
      declared.add(type.name);
      decls.push(type.toString());
    };
    const prints: string[] = [];
    for (const g of GOLDEN) {
      declare(g.type);
      const s = `struct ${g.type.name}`;
      const parts = [`sizeof(${s})`, `_Alignof(${s})`].concat(
        g.type.fields.map((f) => `offsetof(${s}, ${f.name})`),
      );
      prints.push(
        `printf("%s${" %zu".repeat(parts.length)}\\n", "${g.type.name}", ${parts.join(", ")});`,
      );
    }
    const source = `#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
${decls.join("\n")}
int main(void) {
${prints.join("\n")}
return 0;
}
`;
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/layout.c`, source);
      const build = await new Deno.Command(gcc, {
        args: ["-std=c11", "-o", `${dir}/layout`, `${dir}/layout.c`],
      }).output();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));
      const run = await new Deno.Command(`${dir}/layout`).output();
      const lines = new TextDecoder().decode(run.stdout).trim().split("\n");
      assert.equal(lines.length, GOLDEN.length);
      GOLDEN.forEach((g, i) => {
        const [name, ...numbers] = lines[i].split(" ");
        assert.equal(name, g.type.name);
        assert.deepEqual(numbers.map(Number), [g.size, g.align, ...g.offsets], g.type.name);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
