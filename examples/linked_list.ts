// Run: deno run -A examples/linked_list.ts
/**
 * A linked structure shared between workers: a worker builds a singly linked
 * list of `Node` records (each `next` field a typed reference) in the shared
 * heap and sends back one pointer; the main thread walks the list, sums it,
 * and frees it. Nothing is copied or serialised but that one number.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { Node } from "./_list_node.ts";

const LENGTH = 10_000;

const heap = Heap.create();
const worker = new Worker(new URL("./_list_worker.ts", import.meta.url).href, { type: "module" });
const headPtr = await new Promise<number>((resolve, reject) => {
  worker.onmessage = (e: MessageEvent<number>): void => resolve(e.data);
  worker.onerror = (e): void => reject(e.error ?? new Error(e.message));
  worker.postMessage({ buffer: heap.buffer, length: LENGTH });
});
worker.terminate();

// Walk the list the worker built.
let count = 0;
let sum = 0;
const head = Node.at(heap, headPtr);
for (let node: typeof head | null = head; node !== null; node = node.next) {
  sum += node.value;
  count++;
  if (count > LENGTH) throw new Error("The list has a cycle");
}
const expected = (LENGTH * (LENGTH + 1)) / 2;
console.log(`walked ${count} nodes built by another worker; sum ${sum} (expected ${expected})`);
if (count !== LENGTH || sum !== expected) throw new Error("The list is not what the worker built");

// Free it from this thread: any worker may free any block.
let ptr = headPtr;
while (ptr !== 0) {
  const next = Node.at(heap, ptr).next;
  Node.destroy(heap, ptr);
  ptr = next === null ? 0 : next.ptr;
}
heap.check();
console.log(`freed; ${heap.stats().liveAllocations} blocks live`);
