// Run: deno run -A examples/persist.ts
/**
 * A heap that outlives its process: this program builds a linked list of
 * `Node` records, names its head with a root, saves a snapshot of the heap to
 * a file, and starts itself again as a second process that restores the file,
 * finds the list by its root name, walks it, and keeps allocating.
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { Node } from "./_list_node.ts";

const LENGTH = 100_000;

function walk(heap: Heap, headPtr: number): { count: number; sum: number } {
  let count = 0;
  let sum = 0;
  for (let node = headPtr === 0 ? null : Node.at(heap, headPtr); node !== null; node = node.next) {
    sum += node.value;
    if (++count > LENGTH) throw new Error("The list has a cycle");
  }
  return { count, sum };
}

if (Deno.args[0] === "load") {
  // The second process: restore, find the list by name, check, go on.
  const bytes = await Deno.readFile(Deno.args[1]);
  const heap = Heap.restore(bytes);
  const { count, sum } = walk(heap, heap.getRoot("list"));
  console.log(`load: restored ${bytes.length} bytes; walked ${count} nodes, sum ${sum}`);
  if (count !== LENGTH || sum !== (LENGTH * (LENGTH + 1)) / 2) {
    throw new Error("The restored list is not the saved one");
  }
  const more = Node.create(heap, { value: -1, next: Node.at(heap, heap.getRoot("list")) });
  heap.setRoot("list", more);
  heap.check();
  console.log(`load: pushed one more node; ${heap.stats().liveAllocations} blocks live`);
} else {
  // The first process: build, name, save, and start the second process.
  const heap = Heap.create();
  let head = null;
  for (let i = LENGTH; i >= 1; i--) head = Node.create(heap, { value: i, next: head });
  if (head === null) throw new Error("Empty list");
  heap.setRoot("list", head);
  const snapshot = heap.snapshot();
  const file = await Deno.makeTempFile({ suffix: ".heap" });
  try {
    await Deno.writeFile(file, snapshot);
    console.log(
      `save: ${LENGTH} nodes in a ${heap.byteLength}-byte heap; snapshot of ${snapshot.length} bytes`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename ?? new URL(import.meta.url).pathname, "load", file],
      stdout: "inherit",
      stderr: "inherit",
    });
    const { code } = await child.output();
    if (code !== 0) throw new Error(`The loading process failed with exit code ${code}`);
  } finally {
    await Deno.remove(file);
  }
}
