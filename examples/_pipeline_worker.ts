/// <reference lib="deno.worker" />
/**
 * One stage of `examples/pipeline.ts`: 1 makes sales, 2 prices them, 3 adds
 * them up per store in a `SharedMap`. Each stage closes its output queue when
 * its input is exhausted, which ends the next stage.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { QueueClosedError, SharedMap, SharedQueue } from "../src/collections/mod.ts";
import { isRefund, Priced, Sale, saleOf, type StageStart, Total } from "./_pipeline_types.ts";

const WAIT_MS = 30_000;

self.onmessage = (e: MessageEvent<StageStart>): void => {
  const start = e.data;
  const heap = Heap.attach(start.buffer);
  const sales = SharedQueue.at(heap, start.sales, Sale);
  const priced = SharedQueue.at(heap, start.priced, Priced);
  let handled = 0;
  if (start.stage === 1) {
    const sale = Sale.create(heap);
    for (let i = 0; i < start.count; i++) {
      const { store, cents } = saleOf(i);
      sale.id = i;
      sale.store = store;
      sale.cents = cents;
      if (!sales.push(sale, WAIT_MS)) throw new Error("Stage 2 stopped taking sales");
      handled++;
    }
    sales.close();
    Sale.destroy(heap, sale);
  } else if (start.stage === 2) {
    const sale = Sale.create(heap);
    const out = Priced.create(heap);
    // Bounded: stage 1 pushes `count` sales and closes the queue.
    for (;;) {
      try {
        if (!sales.popInto(sale, WAIT_MS)) throw new Error("Stage 1 stalled");
      } catch (error) {
        if (error instanceof QueueClosedError) break;
        throw error;
      }
      if (isRefund(sale.cents)) continue;
      out.store = sale.store;
      out.amount = (sale.cents * 108) / 10_000; // in dollars, with 8% tax
      if (!priced.push(out, WAIT_MS)) throw new Error("Stage 3 stopped taking sales");
      handled++;
    }
    priced.close();
    Sale.destroy(heap, sale);
    Priced.destroy(heap, out);
  } else {
    const totals = SharedMap.at(heap, start.totals, Total);
    const sale = Priced.create(heap);
    for (;;) {
      try {
        if (!priced.popInto(sale, WAIT_MS)) throw new Error("Stage 2 stalled");
      } catch (error) {
        if (error instanceof QueueClosedError) break;
        throw error;
      }
      const amount = sale.amount;
      totals.update(sale.store, (t) => {
        t.count++;
        t.amount += amount;
      });
      handled++;
    }
    Priced.destroy(heap, sale);
  }
  self.postMessage(handled);
};
