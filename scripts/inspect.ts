/**
 * A text heap map for terminals: `deno task inspect <snapshot-file>` restores
 * a heap saved with `heap.snapshot()` and prints its figures, its named roots
 * and a compact map of `heap.regions()` (one character per cell of bytes, in
 * address order). `--list` prints one line per region instead;
 * `--cols N` / `--rows N` size the map (defaults 64 x 16).
 *
 * `deno task inspect --sample <file>` writes a small sample snapshot to try it on.
 *
 * A restored heap has no workers: slab pages with live slots are orphans
 * (shown by how full they are), so the snapshot's page owners are not shown.
 *
 * @module
 */
import { Heap, type HeapRegions, RegionKind } from "../mod.ts";

/** Map characters, in the order of the legend. */
export const GLYPHS = {
  header: "H",
  free: "·",
  block: "#",
  area: "a",
  /** A block held by a worker's arena cache, or that cache's own block. */
  cache: "c",
  /** Slab pages by how many of their slots are used: none, up to 1/3, 2/3, below full, full. */
  page: ["○", "░", "▒", "▓", "█"],
} as const;

/** The legend printed under the map. */
export const LEGEND =
  `${GLYPHS.header} header/fence  ${GLYPHS.free} free  ${GLYPHS.block} arena block  ` +
  `${GLYPHS.area} slab area  ${GLYPHS.cache} arena cache  ` +
  `${GLYPHS.page.join("")} slab page: empty .. full`;

function pageGlyph(used: number, capacity: number): string {
  if (used === 0) return GLYPHS.page[0];
  if (used >= capacity) return GLYPHS.page[4];
  return GLYPHS.page[1 + Math.min(2, Math.floor((3 * used) / capacity))];
}

/**
 * Renders the map as `rows` lines of `cols` characters; each cell shows the
 * region that covers most of its bytes.
 *
 * @param map The heap map.
 * @param size `cols`: characters per line, `rows`: lines.
 * @returns The lines, each prefixed with the offset of its first byte.
 */
export function renderMap(map: HeapRegions, size: { cols: number; rows: number }): string[] {
  const { cols, rows } = size;
  const cells = cols * rows;
  const bytesPerCell = map.heapBytes / cells;
  const best = new Float64Array(cells);
  const glyph: string[] = new Array(cells).fill(" ");
  const paint = (from: number, to: number, g: string): void => {
    const first = Math.floor(from / bytesPerCell);
    const last = Math.min(cells - 1, Math.floor((to - 1) / bytesPerCell));
    for (let i = first; i <= last; i++) {
      const covered = Math.min(to, (i + 1) * bytesPerCell) - Math.max(from, i * bytesPerCell);
      if (covered > best[i]) {
        best[i] = covered;
        glyph[i] = g;
      }
    }
  };
  paint(0, map.headerBytes, GLYPHS.header);
  for (let i = 0; i < map.chunkCount; i++) {
    const at = map.chunkOffset[i];
    const end = at + map.chunkBytes[i];
    const kind = map.chunkKind[i];
    if (kind === RegionKind.Free) paint(at, end, GLYPHS.free);
    else if (kind === RegionKind.Block) paint(at, end, GLYPHS.block);
    else if (kind === RegionKind.SlabArea) paint(at, end, GLYPHS.area);
    else if (kind === RegionKind.ArenaCache) paint(at, end, GLYPHS.cache);
    else {
      const page = map.pages[map.chunkPage[i]];
      paint(at, end, pageGlyph(page.usedSlots, page.capacity));
    }
  }
  paint(map.heapBytes - map.epilogueBytes, map.heapBytes, GLYPHS.header);
  const width = String(map.heapBytes).length;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const offset = String(Math.floor(r * cols * bytesPerCell)).padStart(width);
    lines.push(`${offset} ${glyph.slice(r * cols, (r + 1) * cols).join("")}`);
  }
  return lines;
}

/**
 * One line per region: offset, bytes, kind and, for slab pages, class and slots.
 *
 * @param map The heap map.
 * @returns The lines.
 */
export function listRegions(map: HeapRegions): string[] {
  const lines = [`${"0".padStart(10)} ${String(map.headerBytes).padStart(10)}  header`];
  const names = ["free", "block", "slab page", "slab area"];
  for (let i = 0; i < map.chunkCount; i++) {
    let line = `${String(map.chunkOffset[i]).padStart(10)} ${
      String(map.chunkBytes[i]).padStart(10)
    }  ${names[map.chunkKind[i]]}`;
    if (map.chunkKind[i] === RegionKind.SlabPage) {
      const p = map.pages[map.chunkPage[i]];
      line += ` ${p.slotBytes}-byte slots ${p.usedSlots}/${p.capacity} used, ${p.state}` +
        (p.ownerId !== 0 ? `, worker ${p.ownerId}` : "");
    }
    lines.push(line);
  }
  lines.push(
    `${String(map.heapBytes - map.epilogueBytes).padStart(10)} ${
      String(map.epilogueBytes).padStart(10)
    }  epilogue`,
  );
  return lines;
}

/**
 * The whole report for a heap: figures, roots and the map (or the list).
 *
 * @param heap The heap (restored from a snapshot).
 * @param options `cols` and `rows` of the map, or `list` for one line per region.
 * @returns The report's lines.
 */
export function report(
  heap: Heap,
  options: { cols?: number; rows?: number; list?: boolean } = {},
): string[] {
  const s = heap.stats();
  const map = heap.regions();
  const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
  const roots = Object.entries(heap.roots());
  const out = [
    `heap          ${kib(s.heapBytes)} (max ${kib(s.maxBytes)})`,
    `used / free   ${kib(s.usedBytes)} / ${kib(s.freeBytes)} in ${s.freeChunks} free chunks` +
    ` (largest ${kib(s.largestFreeBytes)})`,
    `live blocks   ${s.liveAllocations} (${map.blockChunks} in the arena, ${map.usedSlots} slab slots)`,
    `slab          ${s.slab.pages} pages, ${s.slab.areas} areas`,
    `roots         ${
      roots.length === 0 ? "(none)" : roots.map(([k, v]) => `${k}=${v}`).join(", ")
    }`,
    "",
  ];
  if (options.list) return out.concat(listRegions(map));
  const cols = options.cols ?? 64;
  const rows = options.rows ?? 16;
  out.push(`map: ${cols} x ${rows} cells of ${kib(s.heapBytes / (cols * rows))}`);
  return out.concat(renderMap(map, { cols, rows }), LEGEND);
}

/** Writes a small sample snapshot: arena blocks, slab blocks, holes and a root. */
export function writeSample(path: string): void {
  const heap = Heap.create({ initialBytes: 1 << 20 });
  const keep: number[] = [];
  for (let i = 0; i < 400; i++) {
    const p = heap.alloc(i % 3 === 0 ? 2000 + (i % 7) * 700 : 16 + (i % 50) * 8);
    if (i % 4 === 1) heap.free(p);
    else keep.push(p);
  }
  heap.setRoot("first", keep[0]);
  Deno.writeFileSync(path, heap.snapshot());
}

function numberFlag(args: string[], name: string): number | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new RangeError(`Cannot inspect: ${name} needs an integer in [1, 1000]: ${args[i + 1]}`);
  }
  args.splice(i, 2);
  return n;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const sample = args.indexOf("--sample");
  if (sample >= 0) {
    writeSample(args[sample + 1] ?? "sample.heap");
    console.log(`wrote ${args[sample + 1] ?? "sample.heap"}`);
    Deno.exit(0);
  }
  const cols = numberFlag(args, "--cols");
  const rows = numberFlag(args, "--rows");
  const list = args.includes("--list");
  const file = args.find((a) => !a.startsWith("--"));
  if (file === undefined) {
    console.error("Usage: deno task inspect <snapshot-file> [--list] [--cols N] [--rows N]");
    console.error("       deno task inspect --sample <file>   (writes a sample snapshot)");
    Deno.exit(2);
  }
  const heap = Heap.restore(Deno.readFileSync(file));
  console.log(`${file}: typedheap snapshot`);
  console.log(report(heap, { cols, rows, list }).join("\n"));
}
