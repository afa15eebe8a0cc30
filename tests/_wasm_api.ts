// The WebAssembly API, typed here by the parts the tests use: the tests are
// also compiled against Node's types, which have no WebAssembly namespace.

import type { WasmMemory } from "../mod.ts";

/** A compiled module (opaque to the tests). */
export type WasmModule = object;

/** The parts of the global `WebAssembly` the tests use. */
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ exports: Record<string, unknown> }>;
}

/** The global `WebAssembly`. */
export const Wasm: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
