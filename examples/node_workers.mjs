// Run: deno task build:npm && node examples/node_workers.mjs
// deno-lint-ignore-file explicit-function-return-type -- plain JavaScript for Node: no annotations
/**
 * typedheap from Node `worker_threads`, through the npm package.
 *
 * The main thread creates a small heap; two workers attach to the same
 * `SharedArrayBuffer` with `Heap.attach`, allocate, fill and free thousands of
 * blocks at the same time (growing the heap as they go), and hand the blocks
 * they keep back to the main thread as pointers: byte offsets, no copying and
 * no serialisation. The main thread reads what the workers wrote, frees it
 * all, and checks the heap. With the structs entry, each worker also opens a
 * record the main thread created and creates one for the main thread to read.
 *
 * The imports are the package's own names, as in your project after
 * `npm install @typedheap/typedheap`. Here `deno task build:npm` links
 * node_modules/@typedheap/typedheap to the built npm/ folder so Node finds it;
 * scripts/consumer_check.ts runs this same file in a scratch project that
 * installed the packed tarball. (Under Deno, deno.json maps the names to the
 * sources, so `deno run -A examples/node_workers.mjs` works too.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Heap } from "@typedheap/typedheap";

const WORKERS = 2;
const BLOCKS_PER_WORKER = 3000;
const GREETING = 0xc0ffee;

// The struct layer is optional here only while it is being built: an older
// package has no "./structs" entry.
const structs = await import("@typedheap/typedheap/structs").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND" || error?.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") {
    return null;
  }
  throw error;
});

// Every thread defines the same struct, so a record made in one opens in another.
const Particle = structs?.defineStruct("Particle", {
  x: structs.f64,
  y: structs.f64,
  owner: structs.u32,
});

/** The byte a block holds at `index`, so whoever reads it can tell it is intact. */
function pattern(workerId, blockId, index) {
  return (workerId * 97 + blockId * 31 + index) & 255;
}

function blockSize(blockId) {
  return 8 + ((blockId * 37) % 600);
}

/** Runs in each worker: attach, allocate and free, report the blocks kept. */
function worker({ buffer, workerId, greetingPtr, particlePtr }) {
  const heap = Heap.attach(buffer);
  assert.equal(heap.u32[greetingPtr >>> 2], GREETING, "the worker sees the main thread's block");
  const kept = [];
  for (let blockId = 0; blockId < BLOCKS_PER_WORKER; blockId++) {
    const size = blockSize(blockId);
    const ptr = heap.alloc(size);
    const u8 = heap.u8; // re-read after alloc: the heap may have grown
    for (let i = 0; i < size; i++) u8[ptr + i] = pattern(workerId, blockId, i);
    if (blockId % 2 === 0) heap.free(ptr);
    else kept.push([ptr, blockId]);
  }
  let particle = 0;
  if (Particle) {
    const fromMain = Particle.at(heap, particlePtr);
    assert.equal(fromMain.x, 1.5);
    assert.equal(fromMain.y, -2.25);
    particle = Particle.create(heap, { x: workerId, y: workerId * 10, owner: workerId }).ptr;
  }
  parentPort.postMessage({ workerId, kept, particle });
}

/** Starts one worker on this file and resolves with its message. */
function startWorker(data) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: data });
    let reply;
    w.once("message", (message) => reply = message);
    w.once("error", reject);
    w.once("exit", (code) => {
      if (code === 0 && reply) resolve(reply);
      else reject(new Error(`Worker ${data.workerId} exited with code ${code} and no reply`));
    });
  });
}

async function main() {
  const heap = Heap.create({ initialBytes: 128 * 1024, maxBytes: 64 << 20 });
  const startBytes = heap.byteLength;
  const greetingPtr = heap.alloc(4);
  heap.u32[greetingPtr >>> 2] = GREETING;
  const particle = Particle?.create(heap, { x: 1.5, y: -2.25, owner: 0 });

  const replies = await Promise.all(
    Array.from(
      { length: WORKERS },
      (_, workerId) =>
        startWorker({
          buffer: heap.buffer,
          workerId: workerId + 1,
          greetingPtr,
          particlePtr: particle?.ptr ?? 0,
        }),
    ),
  );

  let blocks = 0;
  for (const { workerId, kept } of replies) {
    for (const [ptr, blockId] of kept) {
      for (let i = 0; i < blockSize(blockId); i++) {
        if (heap.u8[ptr + i] !== pattern(workerId, blockId, i)) {
          throw new Error(`Block ${blockId} of worker ${workerId} at ${ptr} lost byte ${i}`);
        }
      }
      heap.free(ptr);
      blocks++;
    }
  }
  console.log(
    `heap: ${WORKERS} workers made ${WORKERS * BLOCKS_PER_WORKER} blocks at once; the main ` +
      `thread read and freed the ${blocks} they kept; the heap grew from ${startBytes} to ` +
      `${heap.byteLength} bytes`,
  );

  if (Particle) {
    for (const reply of replies) {
      const record = Particle.at(heap, reply.particle);
      assert.deepEqual([record.x, record.y, record.owner], [
        reply.workerId,
        reply.workerId * 10,
        reply.workerId,
      ]);
      Particle.destroy(heap, record);
    }
    Particle.destroy(heap, particle);
    console.log(`structs: ok (each worker opened the main thread's Particle and made one for it)`);
  } else {
    console.log("structs: skipped (this build has no structs entry)");
  }

  heap.free(greetingPtr);
  heap.check();
  assert.equal(heap.stats().liveAllocations, 0);
  console.log("node_workers: ok");
}

if (isMainThread) await main();
else worker(workerData);
