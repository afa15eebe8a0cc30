/// <reference lib="deno.worker" />
/**
 * Worker of `examples/linked_list.ts`: builds the list 1 → 2 → … → n in the
 * heap it is sent and replies with the head's pointer.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { Node } from "./_list_node.ts";

self.onmessage = (e: MessageEvent<{ buffer: SharedArrayBuffer; length: number }>): void => {
  const heap = Heap.attach(e.data.buffer);
  let head = null;
  for (let value = e.data.length; value >= 1; value--) {
    head = Node.create(heap, { value, next: head });
  }
  heap.detach(); // the nodes stay valid; this worker's slab pages are handed over
  self.postMessage(head === null ? 0 : head.ptr);
};
