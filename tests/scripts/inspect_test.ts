/**
 * `deno task inspect`: the text map of a restored snapshot agrees with
 * `regions()`, and the command line rejects a file that is not a snapshot.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Heap, RegionKind } from "../../mod.ts";
import { GLYPHS, renderMap, report, writeSample } from "../../scripts/inspect.ts";

const SCRIPT = new URL("../../scripts/inspect.ts", import.meta.url);

Deno.test("inspect: a fresh heap is header then free cells", () => {
  const heap = Heap.create({ initialBytes: 64 * 1024 });
  const lines = renderMap(heap.regions(), { cols: 16, rows: 4 });
  assert.equal(lines.length, 4);
  const cells = lines.map((l) => l.split(" ").pop() ?? "").join("");
  assert.equal([...cells].length, 64);
  // 64 KiB in 64 cells: the 4 KiB header takes the first 4 cells.
  assert.equal(cells, GLYPHS.header.repeat(4) + GLYPHS.free.repeat(60));
});

Deno.test("inspect: cells of arena blocks follow the map's bytes", () => {
  const heap = Heap.create({ initialBytes: 256 * 1024, maxBytes: 256 * 1024 });
  heap.alloc(64 * 1024 - 12);
  const map = heap.regions();
  assert.equal(map.chunkKind[0], RegionKind.Block);
  const cells = renderMap(map, { cols: 64, rows: 1 })[0].split(" ").pop() ?? "";
  // 256 KiB in 64 cells of 4 KiB: the block covers bytes 4104 .. 4104 + 64 KiB.
  const blocks = [...cells].filter((g) => g === GLYPHS.block).length;
  assert.ok(blocks >= 15 && blocks <= 16, `${blocks} block cells in ${cells}`);
});

Deno.test("inspect: the report of a restored sample snapshot", async () => {
  const file = await Deno.makeTempFile({ suffix: ".heap" });
  try {
    writeSample(file);
    const heap = Heap.restore(Deno.readFileSync(file));
    const lines = report(heap, { cols: 32, rows: 8 });
    const text = lines.join("\n");
    const s = heap.stats();
    assert.match(text, new RegExp(`live blocks +${s.liveAllocations} `));
    assert.match(text, /roots +first=\d+/);
    const mapLines = lines.slice(lines.findIndex((l) => l.startsWith("map:")) + 1, -1);
    assert.equal(mapLines.length, 8);
    const cells = mapLines.map((l) => l.trim().split(" ").pop() ?? "").join("");
    for (const g of [GLYPHS.header, GLYPHS.free, GLYPHS.block]) {
      assert.ok(cells.includes(g), `no ${g} in the map`);
    }
    assert.ok(GLYPHS.page.some((g) => cells.includes(g)), "no slab page in the map");
    const listed = report(heap, { list: true });
    const map = heap.regions();
    // Header, every chunk and the epilogue: one line each.
    assert.equal(listed.length - listed.indexOf("") - 1, map.chunkCount + 2);

    const ok = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", SCRIPT.pathname, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    assert.match(new TextDecoder().decode(ok.stdout), /map: 64 x 16 cells/);

    // A truncated file is not a heap: a HeapFormatError, non-zero exit.
    Deno.writeFileSync(file, Deno.readFileSync(file).slice(0, 100));
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", SCRIPT.pathname, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.notEqual(bad.code, 0);
    assert.match(new TextDecoder().decode(bad.stderr), /HeapFormatError/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("inspect: blocks held by an arena cache get their own cells", () => {
  // Regression: the map took every chunk that is not free, a block or an
  // area for a slab page, and threw on a chunk held by an arena cache.
  const heap = Heap.create({ initialBytes: 256 * 1024, maxBytes: 256 * 1024 });
  const worker = Heap.attach(heap.buffer, { arenaCache: true });
  worker.free(worker.alloc(3000)); // makes the cache, which keeps this block
  const p = worker.alloc(12_000); // at most 1/16 of the heap is cached
  worker.alloc(100);
  worker.free(p);
  assert.equal(heap.stats().cachedChunks, 2);
  const cells = renderMap(heap.regions(), { cols: 64, rows: 1 })[0].split(" ").pop() ?? "";
  assert.ok(cells.includes(GLYPHS.cache), cells);
});
