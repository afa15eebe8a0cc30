// Run: deno run -A examples/pipeline.ts
/**
 * A 3-stage pipeline of workers over `SharedQueue`s, aggregating into a
 * `SharedMap`: stage 1 makes 50,000 sales records, stage 2 drops refunds and
 * adds tax, stage 3 adds the sales up per store. Nothing is copied through
 * `postMessage`: the records move through rings in one shared heap, and the
 * per-store totals are records inside the map. The totals are checked against
 * the same computation done directly.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { SharedMap, SharedQueue } from "../src/collections/mod.ts";
import { isRefund, Priced, Sale, saleOf, type StageStart, Total } from "./_pipeline_types.ts";

const COUNT = 50_000;

const heap = Heap.create();
const sales = SharedQueue.create(heap, { element: Sale, capacity: 256 });
const priced = SharedQueue.create(heap, { element: Priced, capacity: 256 });
const totals = SharedMap.create(heap, { key: "u32", value: Total });

const handled = await Promise.all(
  ([1, 2, 3] as const).map((stage) =>
    new Promise<number>((resolve, reject) => {
      const worker = new Worker(new URL("./_pipeline_worker.ts", import.meta.url).href, {
        type: "module",
      });
      worker.onmessage = (e: MessageEvent<number>): void => {
        worker.terminate();
        resolve(e.data);
      };
      worker.onerror = (e): void => {
        worker.terminate();
        reject(e.error ?? new Error(e.message));
      };
      const start: StageStart = {
        stage,
        buffer: heap.buffer,
        sales: sales.ptr,
        priced: priced.ptr,
        totals: totals.ptr,
        count: COUNT,
      };
      worker.postMessage(start);
    })
  ),
);
console.log(`records handled per stage: ${handled.join(", ")}`);

// The same totals, computed directly.
const expected = new Map<number, { count: number; amount: number }>();
for (let i = 0; i < COUNT; i++) {
  const { store, cents } = saleOf(i);
  if (isRefund(cents)) continue;
  const t = expected.get(store) ?? { count: 0, amount: 0 };
  t.count++;
  t.amount += (cents * 108) / 10_000;
  expected.set(store, t);
}
let kept = 0;
for (const c = totals.cursor(); c.next();) {
  const want = expected.get(c.key);
  const got = c.value;
  console.log(`store ${c.key}: ${got.count} sales, $${got.amount.toFixed(2)}`);
  if (want === undefined || want.count !== got.count || Math.abs(want.amount - got.amount) > 1e-6) {
    throw new Error(`Store ${c.key} does not add up: ${JSON.stringify(want)}`);
  }
  kept += got.count;
}
if (totals.size !== expected.size || handled[0] !== COUNT || handled[2] !== kept) {
  throw new Error("The pipeline lost or repeated records");
}
totals.check();
sales.check();
priced.check();
totals.destroy();
sales.destroy();
priced.destroy();
heap.check();
if (heap.stats().liveAllocations !== 0) throw new Error("The pipeline leaked records");
console.log(`all ${kept} priced sales add up across ${expected.size} stores`);
