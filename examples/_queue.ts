/**
 * The shared work queue of `examples/work_queue.ts`: a ring of job numbers (there: pointers to job records) in
 * heap words, guarded by a `Mutex`, with `Condition`s for "not empty" and
 * "not full". Every worker opens the same queue from its pointers.
 *
 * @module
 */
import { Condition, type Heap, Mutex } from "../mod.ts";

const HEAD = 0; // next slot to take
const TAIL = 1; // next slot to fill
const COUNT = 2; // jobs in the ring
const CLOSED = 3; // 1 once no more jobs will come
const SLOTS = 4;
/** Jobs the ring holds at once. */
export const CAPACITY = 64;

/** Where the queue's parts live, to send to a worker. */
export interface QueuePointers {
  words: number;
  mutex: number;
  notEmpty: number;
  notFull: number;
}

/** A bounded multi-producer, multi-consumer queue of non-negative integers. */
export class WorkQueue {
  private readonly heap: Heap;
  private readonly words: number;
  private readonly mutex: Mutex;
  private readonly notEmpty: Condition;
  private readonly notFull: Condition;

  private constructor(heap: Heap, p: QueuePointers) {
    this.heap = heap;
    this.words = p.words >>> 2;
    this.mutex = Mutex.at(heap, p.mutex);
    this.notEmpty = Condition.at(heap, p.notEmpty);
    this.notFull = Condition.at(heap, p.notFull);
  }

  /** Makes a new, empty queue in `heap`. */
  static create(heap: Heap): WorkQueue {
    const words = heap.allocZeroed((SLOTS + CAPACITY) * 4);
    return new WorkQueue(heap, {
      words,
      mutex: Mutex.create(heap).ptr,
      notEmpty: Condition.create(heap).ptr,
      notFull: Condition.create(heap).ptr,
    });
  }

  /** Opens a queue made by another worker. */
  static at(heap: Heap, pointers: QueuePointers): WorkQueue {
    return new WorkQueue(heap, pointers);
  }

  /** The pointers to send to a worker. */
  get pointers(): QueuePointers {
    return {
      words: this.words << 2,
      mutex: this.mutex.ptr,
      notEmpty: this.notEmpty.ptr,
      notFull: this.notFull.ptr,
    };
  }

  /** Adds a job, waiting while the ring is full. */
  push(job: number): void {
    const i32 = this.heap.i32;
    const w = this.words;
    using _ = this.mutex.guard(10_000);
    for (let waits = 0; i32[w + COUNT] === CAPACITY; waits++) {
      if (waits > 10_000) throw new Error("Queue stayed full: are the consumers running?");
      this.notFull.wait(this.mutex, 100);
    }
    i32[w + SLOTS + i32[w + TAIL]] = job;
    i32[w + TAIL] = (i32[w + TAIL] + 1) % CAPACITY;
    i32[w + COUNT]++;
    this.notEmpty.notifyOne();
  }

  /** Takes a job, waiting while the ring is empty; -1 once it is closed and drained. */
  take(): number {
    const i32 = this.heap.i32;
    const w = this.words;
    using _ = this.mutex.guard(10_000);
    for (let waits = 0; i32[w + COUNT] === 0; waits++) {
      if (i32[w + CLOSED] === 1) return -1;
      if (waits > 10_000) throw new Error("Queue stayed empty and open: is the producer running?");
      this.notEmpty.wait(this.mutex, 100);
    }
    const job = i32[w + SLOTS + i32[w + HEAD]];
    i32[w + HEAD] = (i32[w + HEAD] + 1) % CAPACITY;
    i32[w + COUNT]--;
    this.notFull.notifyOne();
    return job;
  }

  /** Says no more jobs will come and wakes every waiting consumer. */
  close(): void {
    using _ = this.mutex.guard(10_000);
    this.heap.i32[this.words + CLOSED] = 1;
    this.notEmpty.notifyAll();
  }
}
