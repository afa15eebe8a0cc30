/**
 * Takes the README's screenshot of the browser demo (`docs/browser-demo.png`):
 * starts the demo server and a headless Chromium, runs 4 workers, allocates a
 * burst of big blocks from the main thread, then crops the page to its content. Run: `deno run -A scripts/screenshot_demo.ts`.
 *
 * @module
 */
// @ts-types="../tests/browser/_pngjs.d.ts"
import { PNG } from "pngjs";
import { Buffer } from "node:buffer";
import { startServer } from "../examples/browser/serve.ts";
import { launch } from "../tests/browser/_cdp.ts";

const OUT = new URL("../docs/browser-demo.png", import.meta.url);
const server = startServer(0);
const browser = await launch();
try {
  await browser.send("Emulation.setDeviceMetricsOverride", {
    width: 1100,
    height: 900,
    deviceScaleFactor: 1,
    mobile: false,
  });
  await browser.send("Page.navigate", { url: `http://127.0.0.1:${server.port}/?workers=4` });
  for (let i = 0; i < 200; i++) {
    if (await browser.evaluate<boolean>("typeof globalThis.demo === 'object'")) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await browser.evaluate("demo.ready");
  await new Promise((r) => setTimeout(r, 3000));
  await browser.evaluate("demo.burst()");
  await new Promise((r) => setTimeout(r, 1500));
  const shot = await browser.send("Page.captureScreenshot", { format: "png" });
  const png = PNG.sync.read(Buffer.from(shot.data as string, "base64"));
  const [mapLeft, mapTop, mapWidth, mapHeight] = await browser.evaluate<number[]>("demo.mapRect()");
  const width = Math.min(png.width, Math.ceil(mapLeft + mapWidth + 16));
  const height = Math.min(png.height, Math.ceil(mapTop + mapHeight + 16));
  const out = new PNG({ width, height });
  PNG.bitblt(png, out, 0, 0, width, height, 0, 0);
  Deno.mkdirSync(new URL(".", OUT), { recursive: true });
  Deno.writeFileSync(OUT, PNG.sync.write(out));
  console.log(`wrote ${OUT.pathname} (${width} x ${height})`);
} finally {
  await browser.close();
  await server.shutdown();
}
