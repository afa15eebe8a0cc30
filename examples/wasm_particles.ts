// Run: deno run -A examples/wasm_particles.ts
/**
 * A heap inside a WebAssembly module's memory: JavaScript creates `Particle`
 * records with the struct layer, a wasm module (written in the text format,
 * compiled here with the npm package `wabt`) moves them in place and
 * allocates new ones through `alloc` imported from the heap, and JavaScript
 * reads what wasm wrote. Pointers are plain wasm addresses; the module's own
 * data below `baseOffset` is never touched.
 *
 * @module
 */
import wabtInit from "wabt";
import { Heap } from "../mod.ts";
import { defineStruct, f64, selfRef, u32 } from "../structs/mod.ts";

// struct Particle { uint32_t id; double x, vx; struct Particle *next; } — C layout.
const Particle = defineStruct("Particle", { id: u32, x: f64, vx: f64, next: selfRef });
const X = Particle.offsetOf("x");
const VX = Particle.offsetOf("vx");
const NEXT = Particle.offsetOf("next");

const WAT = `
(module
  (import "env" "memory" (memory 1 65536 shared))
  (import "env" "alloc" (func $alloc (param i32) (result i32)))
  ;; x += vx * dt for every particle of the list at $p.
  (func (export "step") (param $p i32) (param $dt f64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $p)))
        (f64.store offset=${X} (local.get $p)
          (f64.add (f64.load offset=${X} (local.get $p))
                   (f64.mul (f64.load offset=${VX} (local.get $p)) (local.get $dt))))
        (local.set $p (i32.load offset=${NEXT} (local.get $p)))
        (br $next))))
  ;; A new particle (id, x = 0, vx) in front of $head.
  (func (export "spawn") (param $head i32) (param $id i32) (param $vx f64) (result i32)
    (local $p i32)
    (local.set $p (call $alloc (i32.const ${Particle.size})))
    (i32.store (local.get $p) (local.get $id))
    (f64.store offset=${X} (local.get $p) (f64.const 0))
    (f64.store offset=${VX} (local.get $p) (local.get $vx))
    (i32.store offset=${NEXT} (local.get $p) (local.get $head))
    (local.get $p)))
`;

const BASE = 65536; // the module's own data would live below this
const memory = new WebAssembly.Memory({ initial: 2, maximum: 4096, shared: true });
const heap = Heap.create({ memory, baseOffset: BASE });

const wabt = await wabtInit();
const parsed = wabt.parseWat("particles.wat", WAT, { threads: true });
const module = await WebAssembly.compile(new Uint8Array(parsed.toBinary({}).buffer));
parsed.destroy();
const instance = await WebAssembly.instantiate(module, {
  env: { memory, alloc: (size: number): number => heap.alloc(size) },
});
const wasm = instance.exports as {
  step(head: number, dt: number): void;
  spawn(head: number, id: number, vx: number): number;
};

// JavaScript makes 1000 particles, wasm makes 1000 more.
let head = null;
for (let i = 0; i < 1000; i++) head = Particle.create(heap, { id: i, vx: 1, next: head });
let headPtr = head?.ptr ?? 0;
for (let i = 1000; i < 2000; i++) headPtr = wasm.spawn(headPtr, i, 2);
for (let t = 0; t < 10; t++) wasm.step(headPtr, 0.5);

let count = 0;
let sumX = 0;
const first = Particle.at(heap, headPtr);
for (let p: typeof first | null = first; p !== null; p = p.next) {
  count++;
  sumX += p.x;
}
console.log(`${count} particles (heap at wasm address ${BASE}), sum of x ${sumX}`);
if (count !== 2000 || sumX !== 1000 * 5 + 1000 * 10) throw new Error("Unexpected particles");
heap.check();
