// Property-based: random struct definitions keep every layout invariant, and
// writing any scalar field of a record changes exactly that field's bytes.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Sfc32 } from "../_support/prng.ts";
import fc from "fast-check";
import { Heap } from "../../mod.ts";
import {
  type AnyStructType,
  array,
  atomicI32,
  atomicI64,
  atomicU32,
  bool,
  defineStruct,
  f32,
  f64,
  type FieldType,
  i16,
  i32,
  i64,
  i8,
  type ScalarType,
  selfRef,
  u16,
  u32,
  u64,
  u8,
  utf8,
} from "../../structs/mod.ts";

const SCALARS: ScalarType[] = [u8, i8, u16, i16, u32, i32, f32, f64, bool, u64, i64];

interface Options {
  packed: boolean;
  align: number | undefined;
}

const scalar = fc.constantFrom(...SCALARS);

// Atomic fields only where no packed struct encloses them (elsewhere they are a definition error).
function fieldType(depth: number, atomics: boolean): fc.Arbitrary<FieldType> {
  const leaves: fc.Arbitrary<FieldType>[] = [
    scalar,
    scalar,
    fc.tuple(scalar, fc.integer({ min: 1, max: 5 })).map(([e, n]) => array(e, n)),
    fc.integer({ min: 1, max: 9 }).map((n) => utf8(n)),
    fc.constant(selfRef),
  ];
  if (atomics) leaves.push(fc.constantFrom(atomicI32, atomicU32, atomicI64));
  if (depth > 0) {
    leaves.push(
      structType(depth - 1, atomics),
      fc.tuple(structType(depth - 1, atomics), fc.integer({ min: 1, max: 3 })).map(([e, n]) =>
        array(e, n)
      ),
    );
  }
  return fc.oneof(...leaves);
}

const options: fc.Arbitrary<Options> = fc.record({
  packed: fc.boolean(),
  align: fc.option(fc.constantFrom(1, 2, 4, 8, 16, 32), { nil: undefined }),
});

let counter = 0;

function structType(depth: number, atomics = true): fc.Arbitrary<AnyStructType> {
  return options.chain((o) =>
    fc.array(fieldType(depth, atomics && !o.packed), { minLength: 1, maxLength: 8 }).map((types) =>
      defineStruct(
        `R${counter++}`,
        types.map((t, i) => [`f${i}`, t] as const),
        { packed: o.packed, align: o.align },
      )
    )
  );
}

function checkInvariants(T: AnyStructType): void {
  assert.ok(T.align >= 1 && (T.align & (T.align - 1)) === 0, "align is a power of two");
  assert.equal(T.size % T.align, 0, "size is a multiple of align");
  let end = 0;
  let maxAlign = 1;
  for (const f of T.fields) {
    assert.ok(f.offset >= end, `${f.name} does not overlap the field before`);
    assert.equal(f.size, f.type.size);
    if (T.packed) {
      assert.equal(f.offset, end, "packed: no padding");
      assert.equal(f.align, 1);
    } else {
      assert.equal(f.align, f.type.align);
      assert.equal(f.offset % f.type.align, 0, `${f.name} is naturally aligned`);
      assert.ok(f.offset - end < f.type.align, "no more padding than alignment needs");
    }
    assert.equal(T.offsetOf(f.name), f.offset);
    end = f.offset + f.size;
    maxAlign = Math.max(maxAlign, f.type.align);
  }
  assert.ok(T.size >= end, "every field fits");
  assert.ok(T.size - end < T.align, "tail padding is less than the alignment");
  if (!T.packed) assert.ok(T.align >= maxAlign, "C layout: aligned for every field");
}

function randomBytes(rng: () => number, n: number): number[] {
  return Array.from({ length: n }, () => Math.floor(rng() * 256));
}

describe("layout properties", () => {
  it("random definitions keep alignment, order, no overlap and size bounds", () => {
    fc.assert(
      fc.property(structType(2), (T) => {
        checkInvariants(T);
        for (const f of T.fields) {
          const inner = f.type.kind === "array" ? f.type.element : f.type;
          if (inner.kind === "struct") checkInvariants(inner);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("writing a scalar field changes exactly its bytes, to its little-endian encoding", () => {
    const heap = Heap.create({ initialBytes: 1 << 20 });
    const dv = new DataView(heap.buffer);
    fc.assert(
      fc.property(structType(1), fc.integer(), (T, seed) => {
        const prng = new Sfc32(seed);
        const rng = (): number => prng.nextFloat();
        const rec = T.create(heap) as unknown as Record<string, unknown> & { ptr: number };
        const base = rec.ptr;
        heap.u8.set(randomBytes(rng, T.size), base);
        for (const f of T.fields) {
          if (f.type.kind !== "scalar") continue;
          const before = Array.from(heap.u8.subarray(base, base + T.size));
          const bits = randomBytes(rng, 8);
          const scratch = new DataView(new Uint8Array(bits).buffer);
          const at = base + f.offset;
          let expected: unknown;
          switch (f.type.name) {
            case "u8":
              expected = scratch.getUint8(0);
              break;
            case "i8":
              expected = scratch.getInt8(0);
              break;
            case "bool":
              expected = (bits[0] & 1) === 1;
              break;
            case "u16":
              expected = scratch.getUint16(0, true);
              break;
            case "i16":
              expected = scratch.getInt16(0, true);
              break;
            case "u32":
              expected = scratch.getUint32(0, true);
              break;
            case "i32":
              expected = scratch.getInt32(0, true);
              break;
            case "f32":
              expected = scratch.getFloat32(0, true);
              break;
            case "f64":
              expected = scratch.getFloat64(0, true);
              break;
            case "u64":
              expected = scratch.getBigUint64(0, true);
              break;
            case "i64":
              expected = scratch.getBigInt64(0, true);
              break;
          }
          rec[f.name] = expected;
          const read = rec[f.name];
          assert.ok(Object.is(read, expected) || (Number.isNaN(read) && Number.isNaN(expected)));
          for (let i = 0; i < T.size; i++) {
            if (i >= f.offset && i < f.offset + f.size) continue;
            assert.equal(heap.u8[base + i], before[i], `byte ${i} outside ${f.name} unchanged`);
          }
          if (f.type.name === "bool") assert.equal(heap.u8[at], expected ? 1 : 0);
          else if (!Number.isNaN(expected)) {
            const stored = Array.from(heap.u8.subarray(at, at + f.size));
            if (f.type.name === "f32") assert.equal(dv.getFloat32(at, true), expected);
            else assert.deepEqual(stored, bits.slice(0, f.size));
          }
        }
        T.destroy(heap, rec as never);
      }),
      { numRuns: 300 },
    );
    heap.check();
  });
});
