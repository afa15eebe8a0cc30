/**
 * The one worker harness of the tests and benches: start module workers, send
 * them messages, await their replies in order under a generous hang guard, and
 * terminate them all at the end.
 *
 * - Replies are read in the order the worker posted them: `send(m).next()`
 *   awaits the reply to `m` when the worker answers each message once, and a
 *   worker that posts several replies per message ("waiting", then "done") is
 *   read with several `next()` calls.
 * - A reply that takes longer than `replyTimeoutMs` rejects with an error that
 *   names the worker and the last message sent to it. The guard is for hangs
 *   only: tests are bounded by their work, never by this time.
 * - An uncaught error in the worker (or a message that cannot be read) rejects
 *   the waiting `next()` and every later one, naming the worker and the message.
 * - `terminate()` only asks the worker to stop: in Deno, `Worker.terminate()`
 *   returns before a worker that is running synchronous code has stopped, and a
 *   worker parked in `Atomics.wait` may run on until its wait ends. Never assume
 *   a terminated worker has stopped touching shared memory; wait for proof in
 *   the shared memory itself (e.g. `heap.recover()` refusing with
 *   `WorkerAliveError` until it has).
 *
 * Uses the web `Worker` (Deno and browsers), so a test that imports this file
 * is Deno-only (scripts/test_node.ts skips it under Node).
 *
 * @module
 */

import { describeMessage } from "./describe.ts";

export { describeMessage };

/** Options of {@linkcode startWorkers} and {@linkcode withWorkers}. */
export interface PoolOptions<Reply> {
  /**
   * Hang guard: a `next()` that waits longer than this rejects. Default 60,000 ms
   * (generous on purpose: the machine may be loaded; it only turns a hang into a failure).
   */
  replyTimeoutMs?: number;
  /**
   * Says whether a reply reports a failure, for {@linkcode PoolWorker.ok} and
   * {@linkcode PoolWorker.failure}: a description of the failure, or `undefined`
   * when the reply is a success. Default {@linkcode failedReply}: a reply object
   * with `ok: false` is a failure, described by its `errorName` and `error`.
   */
  failureOf?: (reply: Reply) => string | undefined;
}

/** Default hang guard of a reply, in ms. */
export const DEFAULT_REPLY_TIMEOUT_MS = 60_000;

/**
 * The default failure test: a reply object `{ ok: false, error?, errorName? }`
 * is a failure; anything else is a success.
 *
 * @param reply A reply posted by a worker.
 * @returns `"ErrorName: message"` for a failure, else `undefined`.
 */
export function failedReply(reply: unknown): string | undefined {
  if (typeof reply !== "object" || reply === null) return undefined;
  const r = reply as { ok?: unknown; error?: unknown; errorName?: unknown };
  if (r.ok !== false) return undefined;
  return `${r.errorName ?? "Error"}: ${r.error ?? "(no message)"}`;
}

/** What a worker posted: a reply, or an error that ends its replies. */
type Event<Reply> = { reply: Reply } | { error: Error };

interface Waiter<Reply> {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  promise: Promise<Reply>;
  timer: ReturnType<typeof setTimeout>;
}

/** One module worker of a pool and the replies it posted, read in order. */
export class PoolWorker<Message, Reply> {
  /** Its position in the pool. */
  readonly index: number;
  /** How errors name it: the script's file name and its index (`_heap_worker.ts #1`). */
  readonly name: string;
  readonly #worker: Worker;
  readonly #timeoutMs: number;
  readonly #failureOf: (reply: Reply) => string | undefined;
  readonly #events: Event<Reply>[] = [];
  readonly #waiters: Waiter<Reply>[] = [];
  #lastMessage = "no message";
  #sent = 0;
  #read = 0;
  #error: Error | undefined;
  #failure: string | undefined;
  #terminated = false;

  /**
   * Starts the worker (`type: "module"`).
   *
   * @param url The worker script.
   * @param index Its position in the pool (used in its name).
   * @param options Hang guard and failure test.
   */
  constructor(url: URL | string, index: number, options: PoolOptions<Reply> = {}) {
    this.index = index;
    const path = typeof url === "string" ? url : url.href;
    this.name = `${path.slice(path.lastIndexOf("/") + 1)} #${index}`;
    this.#timeoutMs = options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    this.#failureOf = options.failureOf ?? failedReply;
    this.#worker = new Worker(url, { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<Reply>) => this.#push({ reply: event.data });
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault(); // reported through the promises, not as an uncaught error
      const where = event.filename ? ` (${event.filename}:${event.lineno})` : "";
      this.#fail(`threw while handling ${this.#lastMessage}: ${event.message}${where}`);
    };
    this.#worker.onmessageerror = () => {
      this.#fail(`posted a reply that cannot be read, after ${this.#lastMessage}`);
    };
  }

  /**
   * Posts a message to the worker.
   *
   * @param message The message.
   * @param transfer Objects to transfer with it.
   * @returns This worker, so that `send(m).next()` reads the reply.
   */
  send(message: Message, transfer: Transferable[] = []): this {
    if (this.#terminated) throw new Error(`Cannot send to worker ${this.name}: it was terminated`);
    this.#sent++;
    this.#lastMessage = `message ${this.#sent} ${describeMessage(message)}`;
    this.#worker.postMessage(message, transfer);
    return this;
  }

  /**
   * The next reply the worker posted, in order.
   *
   * @returns The reply; rejects when the worker failed, was terminated, or did
   *   not reply within the hang guard.
   */
  next(): Promise<Reply> {
    const event = this.#events.shift();
    if (event !== undefined) {
      this.#read++;
      return "reply" in event ? Promise.resolve(event.reply) : Promise.reject(event.error);
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#terminated) {
      return Promise.reject(new Error(`Worker ${this.name} was terminated: no more replies`));
    }
    const nth = this.#read + this.#waiters.length + 1;
    let resolve: (reply: Reply) => void = () => {};
    let reject: (error: Error) => void = () => {};
    const promise = new Promise<Reply>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter: Waiter<Reply> = {
      resolve,
      reject,
      promise,
      timer: setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `Worker ${this.name} did not reply within ${this.#timeoutMs} ms ` +
              `(reply ${nth} awaited; last sent: ${this.#lastMessage})`,
          ),
        );
      }, this.#timeoutMs),
    };
    this.#waiters.push(waiter);
    return promise;
  }

  /**
   * The next reply, which must be a success (see {@linkcode PoolOptions.failureOf}).
   *
   * @returns The reply; rejects like {@linkcode next}, and when the reply reports a failure.
   */
  async ok(): Promise<Reply> {
    const reply = await this.next();
    const failure = this.#failureOf(reply);
    if (failure !== undefined) {
      throw new Error(`Worker ${this.name} failed (${this.#lastMessage}): ${failure}`);
    }
    return reply;
  }

  /**
   * The first failure seen so far without waiting: an error of the worker, or
   * the first reply that reported a failure (read or not).
   *
   * @returns Its description, or `undefined` while all is well.
   */
  get failure(): string | undefined {
    return this.#error?.message ?? this.#failure;
  }

  /** @returns Whether {@linkcode terminate} was called (not whether the worker has stopped). */
  get terminated(): boolean {
    return this.#terminated;
  }

  /**
   * Asks the worker to stop and rejects any `next()` still waiting. The worker
   * may run on for a while (see the module doc); never assume it has stopped.
   */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker.terminate();
    const error = new Error(`Worker ${this.name} was terminated while a reply was awaited`);
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      // Handled here too: a test that stopped early may no longer await it.
      waiter.promise.catch(() => {});
      waiter.reject(error);
    }
  }

  #push(event: Event<Reply>): void {
    if ("reply" in event && this.#failure === undefined) {
      this.#failure = this.#failureOf(event.reply);
    }
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#events.push(event);
      return;
    }
    this.#read++;
    clearTimeout(waiter.timer);
    if ("reply" in event) waiter.resolve(event.reply);
    else waiter.reject(event.error);
  }

  #fail(what: string): void {
    if (this.#error !== undefined) return;
    this.#error = new Error(`Worker ${this.name} ${what}`);
    this.#push({ error: this.#error });
    // Every later waiter gets the same error (the first one was just served).
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(this.#error);
    }
  }
}

/**
 * Starts `count` module workers on one script.
 *
 * @param url The worker script.
 * @param count How many.
 * @param options Hang guard and failure test.
 * @returns The workers, index `i` at position `i`; terminate them with {@linkcode terminateAll}.
 */
export function startWorkers<Message, Reply>(
  url: URL | string,
  count: number,
  options: PoolOptions<Reply> = {},
): PoolWorker<Message, Reply>[] {
  return Array.from({ length: count }, (_, i) => new PoolWorker<Message, Reply>(url, i, options));
}

/**
 * Terminates every worker (see {@linkcode PoolWorker.terminate}: they may still run a while).
 *
 * @param workers The workers.
 */
export function terminateAll<Message, Reply>(
  workers: readonly PoolWorker<Message, Reply>[],
): void {
  for (const worker of workers) worker.terminate();
}

/**
 * Runs `body` with `count` fresh workers and terminates them all afterwards,
 * whether it succeeds or throws.
 *
 * @param url The worker script.
 * @param count How many workers.
 * @param body What to do with them.
 * @param options Hang guard and failure test.
 * @returns What `body` returns.
 */
export async function withWorkers<Message, Reply, T>(
  url: URL | string,
  count: number,
  body: (workers: PoolWorker<Message, Reply>[]) => Promise<T>,
  options: PoolOptions<Reply> = {},
): Promise<T> {
  const workers = startWorkers<Message, Reply>(url, count, options);
  try {
    return await body(workers);
  } finally {
    terminateAll(workers);
  }
}
