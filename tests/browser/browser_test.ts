/**
 * The browser demo in a real headless Chromium: the page is cross-origin
 * isolated, its workers move particle records in the shared heap, `check()`
 * passes in the page and the heap map is drawn. Skipped (with a message)
 * when no browser is installed. The checks are plain functions so the test
 * also shows they reject a page whose workers are frozen or whose map is blank.
 *
 * @module
 */
import assert from "node:assert/strict";
// @ts-types="./_pngjs.d.ts"
import { PNG } from "pngjs";
import { Buffer } from "node:buffer";
import { startServer } from "../../examples/browser/serve.ts";
import { COLOURS } from "../../examples/browser/_shared.ts";
import { type Browser, CHROMIUM, hasBrowser, launch } from "./_cdp.ts";

/** Where the screenshot of the demo is saved (printed by the test and by CI). */
export const SCREENSHOT = new URL("../../test-output/browser-demo.png", import.meta.url);
/** How long the workers run between two samples, in milliseconds (a minimum, not a bound). */
const RUN_MS = 1500;

interface Sample {
  particles: number;
  steps: number;
  positionSum: number;
}

/** Throws unless the particles' steps and positions changed between two samples. */
export function assertRecordsMoved(before: Sample, after: Sample): void {
  assert.ok(before.particles > 0, "the page has no particles");
  assert.ok(
    after.steps > before.steps,
    `records did not move: steps ${before.steps} -> ${after.steps}`,
  );
  assert.notEqual(after.positionSum, before.positionSum, "particle positions did not change");
}

/** Counts pixels in a rectangle of an RGBA image equal to each colour. */
export function countColours(
  png: { width: number; data: Uint8Array },
  rect: readonly number[],
  colours: readonly (readonly number[])[],
): number[] {
  const [left, top, width, height] = rect.map(Math.round);
  const counts = colours.map(() => 0);
  for (let y = top; y < top + height; y++) {
    for (let x = left; x < left + width; x++) {
      const i = (y * png.width + x) * 4;
      const d = png.data;
      for (let k = 0; k < colours.length; k++) {
        const c = colours[k];
        if (d[i] === c[0] && d[i + 1] === c[1] && d[i + 2] === c[2]) counts[k]++;
      }
    }
  }
  return counts;
}

/** Throws unless the heap map in the screenshot shows both used and free chunks. */
export function assertMapDrawn(pngBytes: Uint8Array, rect: readonly number[]): void {
  const png = PNG.sync.read(Buffer.from(pngBytes));
  const [free, block] = countColours(png, rect, [COLOURS.free, COLOURS.block]);
  const min = 50;
  assert.ok(free >= min, `heap map: only ${free} pixels of the free colour`);
  assert.ok(block >= min, `heap map: only ${block} pixels of the used-block colour`);
}

async function openDemo(browser: Browser, url: string): Promise<void> {
  await browser.send("Page.navigate", { url });
  // Bounded: 200 polls of 50 ms until the page's script has run.
  for (let i = 0; i < 200; i++) {
    const ok = await browser.evaluate<boolean>("typeof globalThis.demo === 'object'");
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await browser.evaluate<boolean>("demo.ready"), true);
}

async function screenshot(browser: Browser): Promise<Uint8Array> {
  const shot = await browser.send("Page.captureScreenshot", { format: "png" });
  return Uint8Array.from(atob(shot.data as string), (ch) => ch.charCodeAt(0));
}

async function sampleRun(browser: Browser): Promise<[Sample, Sample]> {
  const before = await browser.evaluate<Sample>("demo.sample()");
  const startSteps = before.steps;
  // Run for at least RUN_MS and until the workers made some steps (or 20 s passed).
  const started = performance.now();
  let after = before;
  while (performance.now() - started < 20_000) {
    await new Promise((r) => setTimeout(r, RUN_MS / 3));
    after = await browser.evaluate<Sample>("demo.sample()");
    if (performance.now() - started >= RUN_MS && after.steps > startSteps + 10) break;
  }
  return [before, after];
}

const skip = !hasBrowser();
if (skip) {
  console.log(
    `browser test skipped: no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}

Deno.test({
  name: "browser demo: isolated page, workers move records, check() passes, heap map drawn",
  ignore: skip,
  sanitizeResources: false, // the DevTools socket and the child's pipes close asynchronously
  sanitizeOps: false,
  fn: async () => {
    const server = startServer(0);
    // A hang guard only: every wait below is bounded on its own.
    let browser: Browser | undefined;
    const guard = setTimeout(() => {
      console.error("browser test: hang guard fired, stopping the browser");
      browser?.close();
    }, 110_000);
    try {
      browser = await launch();
      await browser.send("Emulation.setDeviceMetricsOverride", {
        width: 1280,
        height: 900,
        deviceScaleFactor: 1,
        mobile: false,
      });
      const base = `http://127.0.0.1:${server.port}/`;

      // 1. The demo with 4 workers.
      await openDemo(browser, `${base}?workers=4`);
      assert.equal(await browser.evaluate<boolean>("crossOriginIsolated"), true);
      assert.equal(await browser.evaluate<number>("demo.workers()"), 4);
      const [before, after] = await sampleRun(browser);
      assertRecordsMoved(before, after);
      assert.equal(await browser.evaluate<string>("demo.quietCheck()"), "ok");
      // Fragmentation and coalescing: a burst of big blocks, then free it; check() each time.
      assert.ok((await browser.evaluate<number>("demo.burst()")) > 0);
      assert.equal(await browser.evaluate<string>("demo.quietCheck()"), "ok");
      await browser.evaluate("demo.freeBursts()");
      assert.equal(await browser.evaluate<string>("demo.quietCheck()"), "ok");
      const f0 = await browser.evaluate<number>("demo.frames()");
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const f1 = await browser.evaluate<number>("demo.frames()");
      const fps = ((f1 - f0) * 1000) / (performance.now() - t0);
      const regionsMs = await browser.evaluate<number>("demo.regionsMs()");
      assert.ok(f1 > f0, "the page stopped drawing");
      assert.equal(await browser.evaluate<string>("demo.error()"), "");
      const png = await screenshot(browser);
      Deno.mkdirSync(new URL(".", SCREENSHOT), { recursive: true });
      Deno.writeFileSync(SCREENSHOT, png);
      const rect = await browser.evaluate<number[]>("demo.mapRect()");
      assertMapDrawn(png, rect);
      console.log(
        `browser demo: 4 workers, ${after.steps - before.steps} particle steps sampled, ` +
          `${fps.toFixed(1)} frames/s, last regions() ${regionsMs.toFixed(2)} ms; ` +
          `screenshot: ${SCREENSHOT.pathname}`,
      );
      // Workers can be removed and added again.
      await browser.evaluate("demo.removeWorker()");
      assert.equal(await browser.evaluate<number>("demo.workers()"), 3);
      await browser.evaluate("demo.addWorker()");
      assert.equal(await browser.evaluate<string>("demo.quietCheck()"), "ok");

      // 2. The checks fail when the workers do not move records ...
      await openDemo(browser, `${base}?workers=4&freeze=1`);
      const [fb, fa] = await sampleRun(browser);
      assert.throws(() => assertRecordsMoved(fb, fa), /records did not move/);

      // 3. ... and when the heap map is blank.
      await openDemo(browser, `${base}?workers=4&blank=1`);
      await new Promise((r) => setTimeout(r, 300));
      const blankPng = await screenshot(browser);
      const blankRect = await browser.evaluate<number[]>("demo.mapRect()");
      assert.throws(() => assertMapDrawn(blankPng, blankRect), /heap map: only/);
      await browser.send("Page.navigate", { url: "about:blank" });
    } finally {
      clearTimeout(guard);
      await browser?.close();
      await server.shutdown();
    }
  },
});
