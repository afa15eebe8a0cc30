// A small WebAssembly module, in the text format, that works on `Particle`
// records made by JavaScript in a heap that lives in the module's memory, and
// allocates more of them through `alloc` / `free` imported from the heap. It is
// compiled during the test with the npm package `wabt`, so the tests need
// nothing but Node or Deno to run.
//
// C view of the record (the struct layer's layout must agree):
//   struct Particle { uint32_t id; double x; double y; struct Particle *next; };
//   // id at 0, x at 8, y at 16, next at 24; 32 bytes, 8-aligned

import wabtInit from "wabt";
import type { Heap, WasmMemory } from "../../mod.ts";
import { defineStruct, f64, selfRef, u32 } from "../../structs/mod.ts";
import { Wasm, type WasmModule } from "../_wasm_api.ts";

/** The record both sides use. */
export const Particle = defineStruct("Particle", { id: u32, x: f64, y: f64, next: selfRef });

/** The C layout the module was written for: field offsets and the size. */
export const C_LAYOUT = { id: 0, x: 8, y: 16, next: 24, size: 32 } as const;

/** The module: list walks that read and write records, and list pushes that allocate. */
export const PARTICLES_WAT = `
(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "env" "alloc" (func $alloc (param i32) (result i32)))
  (import "env" "free" (func $free (param i32)))

  ;; Sum of x over the list that starts at $p.
  (func (export "sum_x") (param $p i32) (result f64)
    (local $sum f64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $p)))
        (local.set $sum (f64.add (local.get $sum) (f64.load offset=${C_LAYOUT.x} (local.get $p))))
        (local.set $p (i32.load offset=${C_LAYOUT.next} (local.get $p)))
        (br $next)))
    (local.get $sum))

  ;; y = x * k for every record of the list; returns how many were written.
  (func (export "scale") (param $p i32) (param $k f64) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $p)))
        (f64.store offset=${C_LAYOUT.y} (local.get $p)
          (f64.mul (f64.load offset=${C_LAYOUT.x} (local.get $p)) (local.get $k)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $p (i32.load offset=${C_LAYOUT.next} (local.get $p)))
        (br $next)))
    (local.get $n))

  ;; Allocates a record in front of $head and returns it.
  (func $push (export "push") (param $head i32) (param $id i32) (param $x f64) (result i32)
    (local $p i32)
    (local.set $p (call $alloc (i32.const ${C_LAYOUT.size})))
    (i32.store offset=${C_LAYOUT.id} (local.get $p) (local.get $id))
    (f64.store offset=${C_LAYOUT.x} (local.get $p) (local.get $x))
    (f64.store offset=${C_LAYOUT.y} (local.get $p) (f64.const 0))
    (i32.store offset=${C_LAYOUT.next} (local.get $p) (local.get $head))
    (local.get $p))

  ;; Pushes $n records with ids $first.. and x = id; returns the new head.
  (func (export "push_many") (param $head i32) (param $first i32) (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $head (call $push (local.get $head)
          (i32.add (local.get $first) (local.get $i))
          (f64.convert_i32_u (i32.add (local.get $first) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $head))

  ;; Frees the first record of the list and returns the next one.
  (func (export "pop") (param $head i32) (result i32)
    (local $next i32)
    (local.set $next (i32.load offset=${C_LAYOUT.next} (local.get $head)))
    (call $free (local.get $head))
    (local.get $next)))
`;

/** The module's exports. */
export interface ParticleExports {
  sum_x(head: number): number;
  scale(head: number, k: number): number;
  push(head: number, id: number, x: number): number;
  push_many(head: number, first: number, n: number): number;
  pop(head: number): number;
}

let compiled: Promise<WasmModule> | undefined;

/** Compiles the module once (threads enabled: its memory is shared). */
export function particlesModule(): Promise<WasmModule> {
  compiled ??= (async () => {
    const wabt = await wabtInit();
    const parsed = wabt.parseWat("particles.wat", PARTICLES_WAT, { threads: true });
    try {
      const { buffer } = parsed.toBinary({});
      return await Wasm.compile(new Uint8Array(buffer));
    } finally {
      parsed.destroy();
    }
  })();
  return compiled;
}

/** Instantiates the module over `memory`, allocating through `heap` (a handle on the heap in that memory). */
export async function instantiate(
  memory: WasmMemory,
  heap: Heap,
): Promise<ParticleExports> {
  const instance = await Wasm.instantiate(await particlesModule(), {
    env: {
      memory,
      alloc: (size: number): number => heap.alloc(size),
      free: (ptr: number): void => heap.free(ptr),
    },
  });
  return instance.exports as unknown as ParticleExports;
}
