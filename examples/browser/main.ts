/// <reference lib="dom" />
/**
 * The browser demo's page script: one shared heap, several workers moving
 * particle records in it, and the main thread drawing the particles, a map
 * of the heap from `heap.regions()` and `heap.stats()` every animation frame.
 *
 * The main thread may not block. It never calls `Atomics.wait`: the heap
 * lock that `regions()`, `stats()`, `check()` and the burst buttons' `alloc` /
 * `free` take is acquired by spinning (bounded by the heap's lock timeout),
 * and workers hold it only for the few hundred nanoseconds of an arena
 * operation; waiting for the workers to park is a `setTimeout` poll.
 *
 * Query flags (for the browser test, which must be able to fail):
 * `?workers=N` starts N workers (default 4), `?freeze=1` makes the workers
 * stop moving their particles, `?blank=1` leaves the heap map undrawn.
 *
 * @module
 */
import { Heap, type HeapRegions, RegionKind } from "../../mod.ts";
import {
  C_FREEZE,
  C_PARKED,
  C_PAUSE,
  C_RUNNING,
  C_STEPS,
  C_STOP,
  C_WORDS,
  COLOURS,
  FIELD_HEIGHT,
  FIELD_WIDTH,
  MAX_WORKERS,
  Particle,
  PER_WORKER,
  SLOT_COLOURS,
  type WorkerJob,
} from "./_shared.ts";

const params = new URLSearchParams(location.search);
const blank = params.get("blank") === "1";
const MiB = 1 << 20;

const heap = Heap.create({ initialBytes: 4 * MiB, maxBytes: 64 * MiB });
const ctrl = heap.allocZeroed(C_WORDS * 4);
const table = heap.allocZeroed(MAX_WORKERS * PER_WORKER * 4);
const c = ctrl >>> 2;
if (params.get("freeze") === "1") Atomics.store(heap.i32, c + C_FREEZE, 1);

interface Running {
  worker: Worker;
  slot: number;
  workerId: number;
  stopped: Promise<void>;
}
const running: (Running | undefined)[] = new Array(MAX_WORKERS).fill(undefined);
/** Heap worker id → slot, to colour slab pages by the worker that owns them. */
const slotOfWorker = new Map<number, number>();
const bursts: number[] = [];
let seed = 1;

/** Starts a worker in the first free slot; resolves once it attached the heap. */
function addWorker(): Promise<number> {
  const slot = running.findIndex((r) => r === undefined);
  if (slot < 0) return Promise.resolve(-1);
  const worker = new Worker(new URL("./_particle_worker.ts", import.meta.url).href, {
    type: "module",
  });
  let onStopped = (): void => {};
  const stopped = new Promise<void>((resolve) => (onStopped = resolve));
  const entry: Running = { worker, slot, workerId: 0, stopped };
  running[slot] = entry;
  return new Promise((resolve, reject) => {
    worker.onmessage = (e): void => {
      if (e.data.type === "started") {
        entry.workerId = e.data.workerId;
        slotOfWorker.set(e.data.workerId, slot);
        resolve(slot);
      } else if (e.data.type === "stopped") {
        worker.terminate();
        running[slot] = undefined;
        onStopped();
      }
    };
    worker.onerror = (e): void => {
      showError(`worker ${slot}: ${e.message}`);
      reject(new Error(e.message));
    };
    const job: WorkerJob = { buffer: heap.buffer, ctrl, table, slot, seed: seed++ * 7919 };
    worker.postMessage(job);
  });
}

/** Asks the newest worker to free its blocks, detach and stop. */
function removeWorker(): Promise<void> {
  const last = running.findLastIndex((r) => r !== undefined);
  if (last < 0) return Promise.resolve();
  const entry = running[last] as Running;
  Atomics.store(heap.i32, c + C_STOP + last, 1);
  Atomics.notify(heap.i32, c + C_STOP + last);
  return entry.stopped.then(() => {
    Atomics.store(heap.i32, c + C_STOP + last, 0);
  });
}

/** Allocates 16 blocks of 64 to 256 KiB from the main thread (the heap grows when needed). */
function burst(): number {
  let n = 0;
  for (let i = 0; i < 16; i++) {
    const p = heap.tryAlloc((64 + ((i * 37) % 193)) * 1024);
    if (p !== 0) {
      bursts.push(p);
      n++;
    }
  }
  return n;
}

/** Frees the burst blocks: their chunks coalesce with free neighbours. */
function freeBursts(): void {
  for (const p of bursts) heap.free(p);
  bursts.length = 0;
}

/** Polls without blocking until `done()` or `timeoutMs` passes. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/**
 * Parks every worker, then runs `check()` and compares `regions()` with
 * `stats()` on the quiet heap. Returns "ok" or what failed.
 */
async function quietCheck(): Promise<string> {
  const i32 = heap.i32;
  Atomics.store(i32, c + C_PAUSE, 1);
  try {
    const parked = await until(
      () => Atomics.load(heap.i32, c + C_PARKED) === Atomics.load(heap.i32, c + C_RUNNING),
      10_000,
    );
    if (!parked) return "workers did not park within 10 s";
    heap.check();
    const map = heap.regions();
    const s = heap.stats();
    if (map.usedBytes !== s.usedBytes || map.freeBytes !== s.freeBytes) {
      return `regions() bytes ${map.usedBytes}/${map.freeBytes} != stats() ${s.usedBytes}/${s.freeBytes}`;
    }
    if (map.blockChunks + map.usedSlots !== s.liveAllocations) {
      return `regions() blocks ${map.blockChunks + map.usedSlots} != stats() ${s.liveAllocations}`;
    }
    return "ok";
  } catch (e) {
    return String(e);
  } finally {
    Atomics.store(heap.i32, c + C_PAUSE, 0);
    Atomics.notify(heap.i32, c + C_PAUSE);
  }
}

/** Sum of all particles' steps and positions: it changes while the workers move them. */
function sample(): { particles: number; steps: number; positionSum: number } {
  const u32 = heap.u32;
  let particles = 0;
  let steps = 0;
  let positionSum = 0;
  for (let i = 0; i < MAX_WORKERS * PER_WORKER; i++) {
    const ptr = Atomics.load(u32, (table >>> 2) + i);
    if (ptr === 0) continue;
    const p = Particle.at(heap, ptr);
    particles++;
    steps += p.steps;
    positionSum += p.x + p.y;
  }
  return { particles, steps, positionSum };
}

// ---- drawing ----

const field = document.getElementById("field") as HTMLCanvasElement;
const mapCanvas = document.getElementById("map") as HTMLCanvasElement;
const statsPanel = document.getElementById("stats") as HTMLElement;
const fctx = field.getContext("2d") as CanvasRenderingContext2D;
const mctx = mapCanvas.getContext("2d") as CanvasRenderingContext2D;
field.width = FIELD_WIDTH;
field.height = FIELD_HEIGHT;
const mapImage = mctx.createImageData(mapCanvas.width, mapCanvas.height);
const mapPixels = new Uint32Array(mapImage.data.buffer);

function rgba([r, g, b]: readonly number[], scale = 1): number {
  return (0xff << 24 | (b * scale) << 16 | (g * scale) << 8 | (r * scale)) >>> 0;
}
const PX = {
  background: rgba(COLOURS.background),
  header: rgba(COLOURS.header),
  free: rgba(COLOURS.free),
  block: rgba(COLOURS.block),
  area: rgba(COLOURS.area),
  orphan: rgba(COLOURS.orphan),
};
const slotPx = SLOT_COLOURS.map((col) => rgba(col));
const slotDimPx = SLOT_COLOURS.map((col) => rgba(col, 0.35));

function drawParticles(): void {
  fctx.fillStyle = `rgb(${COLOURS.background.join(",")})`;
  fctx.fillRect(0, 0, FIELD_WIDTH, FIELD_HEIGHT);
  const u32 = heap.u32;
  for (let slot = 0; slot < MAX_WORKERS; slot++) {
    fctx.fillStyle = `rgb(${SLOT_COLOURS[slot].join(",")})`;
    for (let k = 0; k < PER_WORKER; k++) {
      const ptr = Atomics.load(u32, (table >>> 2) + slot * PER_WORKER + k);
      if (ptr === 0) continue;
      const p = Particle.at(heap, ptr);
      fctx.fillRect(p.x | 0, p.y | 0, 3, 3);
    }
  }
}

/** Side of one map cell in pixels. */
const CELL = 4;
const cellsX = Math.floor(mapCanvas.width / CELL);
const cellsY = Math.floor(mapCanvas.height / CELL);
const cells = new Uint32Array(cellsX * cellsY);

/**
 * Draws the heap as a grid of cells, in address order, row by row: each cell
 * covers `heapBytes / cells` bytes and shows the last region that touches it.
 * Slab pages show their used part in the owner's colour and the rest dimmed;
 * orphan pages are white.
 */
function drawMap(map: HeapRegions): void {
  const total = cells.length;
  const scale = total / map.heapBytes;
  const fill = (from: number, to: number, px: number): void => {
    const a = Math.floor(from * scale);
    const b = Math.max(a + 1, Math.floor(to * scale));
    cells.fill(px, a, Math.min(b, total));
  };
  fill(0, map.headerBytes, PX.header);
  for (let i = 0; i < map.chunkCount; i++) {
    const at = map.chunkOffset[i];
    const end = at + map.chunkBytes[i];
    const kind = map.chunkKind[i];
    if (kind === RegionKind.Free) fill(at, end, PX.free);
    else if (kind === RegionKind.Block) fill(at, end, PX.block);
    else if (kind === RegionKind.SlabArea || kind === RegionKind.ArenaCache) {
      fill(at, end, PX.area); // the allocator's own: an area, an arena cache or a block it holds
    } else {
      const page = map.pages[map.chunkPage[i]];
      if (page.ownerId === 0) {
        fill(at, end, PX.orphan);
        continue;
      }
      const slot = (slotOfWorker.get(page.ownerId) ?? page.ownerId) % SLOT_COLOURS.length;
      const usedEnd = at + (end - at) * (page.usedSlots / page.capacity);
      fill(at, end, slotDimPx[slot]);
      if (page.usedSlots > 0) fill(at, usedEnd, slotPx[slot]);
    }
  }
  fill(map.heapBytes - map.epilogueBytes, map.heapBytes, PX.header);
  const width = mapCanvas.width;
  for (let cy = 0; cy < cellsY; cy++) {
    for (let cx = 0; cx < cellsX; cx++) {
      const px = cells[cy * cellsX + cx];
      for (let y = cy * CELL; y < (cy + 1) * CELL; y++) {
        const row = y * width + cx * CELL;
        mapPixels.fill(px, row, row + CELL);
      }
    }
  }
  mctx.putImageData(mapImage, 0, 0);
}

function drawStats(map: HeapRegions, fps: number): void {
  const s = heap.stats();
  const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
  const workers = running.filter((r) => r !== undefined).length;
  let steps = 0;
  for (let slot = 0; slot < MAX_WORKERS; slot++) {
    steps += Atomics.load(heap.i32, c + C_STEPS + slot);
  }
  statsPanel.textContent = [
    `workers           ${workers}`,
    `worker steps      ${steps}`,
    `frames/s          ${fps.toFixed(1)}`,
    `regions()         ${lastRegionsMs.toFixed(2)} ms`,
    `heap              ${kib(s.heapBytes)} of ${kib(s.maxBytes)}`,
    `used / free       ${kib(s.usedBytes)} / ${kib(s.freeBytes)}`,
    `largest free      ${kib(s.largestFreeBytes)}`,
    `free chunks       ${s.freeChunks}`,
    `live allocations  ${s.liveAllocations}`,
    `chunks            ${map.chunkCount} (${map.blockChunks} blocks)`,
    `slab pages        ${s.slab.pages} (${s.slab.usedSlots} slots used)`,
    `slab areas        ${s.slab.areas}`,
    `burst blocks      ${bursts.length}`,
  ].join("\n");
}

let frames = 0;
let fps = 0;
let fpsFrom = performance.now();
let fpsFrames = 0;
let lastRegionsMs = 0;
let lastError = "";

function showError(text: string): void {
  lastError = text;
  statsPanel.textContent = `error: ${text}`;
}

function frame(): void {
  try {
    frames++;
    fpsFrames++;
    const now = performance.now();
    if (now - fpsFrom >= 1000) {
      fps = (fpsFrames * 1000) / (now - fpsFrom);
      fpsFrom = now;
      fpsFrames = 0;
    }
    drawParticles();
    const t = performance.now();
    const map = heap.regions();
    lastRegionsMs = performance.now() - t;
    if (!blank) drawMap(map);
    drawStats(map, fps);
  } catch (e) {
    showError(String(e));
  }
  requestAnimationFrame(frame);
}

function button(id: string, action: () => unknown): void {
  (document.getElementById(id) as HTMLButtonElement).onclick = (): void => void action();
}
button("add", addWorker);
button("remove", removeWorker);
button("burst", burst);
button("free", freeBursts);
button("check", async () => showCheck(await quietCheck()));

function showCheck(result: string): void {
  (document.getElementById("checked") as HTMLElement).textContent = `check(): ${result}`;
}

const start = Number(params.get("workers") ?? 4);
const ready = Promise.all(
  Array.from({ length: Math.min(Math.max(start, 0), MAX_WORKERS) }, () => addWorker()),
);
requestAnimationFrame(frame);

/** What the browser test reads from the page. */
const demo = {
  ready: ready.then(() => true),
  sample,
  quietCheck,
  addWorker,
  removeWorker,
  burst,
  freeBursts,
  frames: (): number => frames,
  fps: (): number => fps,
  regionsMs: (): number => lastRegionsMs,
  error: (): string => lastError,
  workers: (): number => running.filter((r) => r !== undefined).length,
  mapRect: (): number[] => {
    const r = mapCanvas.getBoundingClientRect();
    return [r.left, r.top, r.width, r.height, devicePixelRatio];
  },
};
(globalThis as unknown as { demo: typeof demo }).demo = demo;
