// Record views behave honestly as JS objects: a store to a name that is not
// a field throws (naming the close field) instead of adding a property that
// nothing reads; the internals are not enumerable; the only own property is
// `ptr`, so Object.keys, spread and structuredClone (what postMessage does)
// see `{ ptr }`, which another worker opens with `Type.at(heap, ptr)`;
// JSON.stringify and console.log (util.inspect; Deno's inspect in views_deno_test.ts) show the fields
// and their values.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { Heap } from "../../mod.ts";
import { defineStruct, f64, u32, utf8, vec } from "../../structs/mod.ts";

const Vec2 = defineStruct("Vec2", { x: f64, y: f64 });
const Particle = defineStruct("Particle", {
  id: u32,
  name: utf8(),
  pos: Vec2,
  trail: vec(f64),
});

describe("sealed views", () => {
  const heap = Heap.create();
  const p = Particle.create(heap, { id: 1, name: "ada", pos: { x: 1, y: 2 }, trail: [0.5] });

  it("a store to a name that is not a field throws a TypeError naming the close field", () => {
    const loose = p as unknown as Record<string, unknown>;
    assert.throws(() => (loose.nmae = "x"), {
      name: "TypeError",
      message: "Cannot set property 'nmae': Particle has no field 'nmae'; did you mean 'name'?",
    });
    assert.throws(() => (loose.posx = 1), /did you mean 'pos'\?/);
    assert.throws(() => (loose.zzzzzz = 1), {
      name: "TypeError",
      message:
        "Cannot set property 'zzzzzz': Particle has no field 'zzzzzz'; its fields are: id, name, pos, trail",
    });
    const nested = p.pos as unknown as Record<string, unknown>;
    assert.throws(() => (nested.z = 1), /Vec2 has no field 'z'/);
    assert.equal("nmae" in p, false, "nothing was added");
    assert.equal(p.name, "ada");
  });

  it("fields still take stores, and misspelt reads are undefined (as for any object)", () => {
    p.id = 2;
    p.pos.x = 3;
    assert.equal(p.id, 2);
    assert.equal((p as unknown as Record<string, unknown>).nmae, undefined);
    assert.equal(p.toString(), "[object Object]");
    assert.equal(Object.prototype.hasOwnProperty.call(p, "id"), false);
  });

  it("symbol-keyed properties may still be added (libraries tag objects)", () => {
    const tag = Symbol("tag");
    (p as unknown as Record<symbol, unknown>)[tag] = 1;
    assert.equal((p as unknown as Record<symbol, unknown>)[tag], 1);
  });

  it("internals are not enumerable: the only own property is ptr", () => {
    assert.deepEqual(Object.keys(p), ["ptr"]);
    assert.deepEqual(Object.getOwnPropertyNames(p), ["ptr"]);
    assert.deepEqual({ ...p }, { ptr: p.ptr });
    const keys: string[] = [];
    for (const key in p) keys.push(key);
    assert.deepEqual(keys, ["ptr"]);
    // a cursor's ptr follows it
    const many = Particle.createArray(heap, 3);
    const cursor = many.cursor();
    assert.equal(cursor.seek(2).ptr, many.ptr + 2 * Particle.size);
    assert.deepEqual({ ...cursor.seek(1) }, { ptr: many.ptr + Particle.size });
    many.destroy();
  });

  it("the fields as a plain object, for keys and spread: rec.toJSON() (README)", () => {
    const plain = p.toJSON();
    assert.deepEqual(Object.keys(plain), Particle.fields.map((f) => f.name));
    assert.deepEqual({ ...plain }, plain);
    assert.notEqual(Object.getPrototypeOf(plain), Object.getPrototypeOf(p));
  });

  it("JSON.stringify and console.log (util.inspect) show the fields and their values", () => {
    assert.equal(
      JSON.stringify(p),
      '{"id":2,"name":"ada","pos":{"x":3,"y":2},"trail":[0.5]}',
    );
    const shown = inspect(p);
    assert.match(shown, /^Particle@\d+ \{/);
    for (const part of ["id: 2", "name: 'ada'", "x: 3", "trail: [ 0.5 ]"]) {
      assert.ok(shown.includes(part), `${part} in ${shown}`);
    }
    assert.ok(!shown.includes("$v") && !shown.includes("#"), shown);
  });

  it("structuredClone (what postMessage does) gives { ptr }, which Type.at opens", () => {
    const clone = structuredClone(p) as { ptr: number };
    assert.deepEqual(clone, { ptr: p.ptr });
    const again = Particle.at(heap, clone.ptr);
    assert.deepEqual(again.toJSON(), p.toJSON());
  });
});
