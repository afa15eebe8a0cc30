/**
 * A minimal Chrome DevTools Protocol client over Deno's built-in WebSocket:
 * launches a headless Chromium, opens one page target and sends commands.
 * Every wait is bounded.
 *
 * @module
 */

/** Where the test looks for a browser (Debian's `chromium` package). */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** The flags the browser test runs Chromium with. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--window-size=1280,900",
];

/** True when a browser is installed at {@linkcode CHROMIUM}. */
export function hasBrowser(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** A launched browser with one page. */
export interface Browser {
  /** Sends a CDP command to the page and resolves with its result. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Closes the page connection, the browser and its profile directory. */
  close(): Promise<void>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Reads stderr until Chromium prints its DevTools port. */
async function devtoolsPort(stderr: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stderr.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Chromium exited before listening:\n${text}`);
    text += decoder.decode(value, { stream: true });
    const m = text.match(/DevTools listening on ws:\/\/[^:]+:(\d+)\//);
    if (m) {
      // Keep draining stderr so the browser never blocks on a full pipe.
      (async () => {
        try {
          while (!(await reader.read()).done) { /* drain */ }
        } catch { /* closed */ }
      })();
      return Number(m[1]);
    }
  }
}

/** Launches Chromium headless with a fresh profile and connects to its first page. */
export async function launch(timeoutMs = 30_000): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "typedheap-chromium-" });
  const child = new Deno.Command(CHROMIUM, {
    args: [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const kill = async (): Promise<void> => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await withTimeout(child.status, 10_000, "Chromium to exit").catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const port = await withTimeout(devtoolsPort(child.stderr), timeoutMs, "Chromium to start");
    const targets = await withTimeout(
      fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json()),
      timeoutMs,
      "the DevTools target list",
    ) as { type: string; webSocketDebuggerUrl: string }[];
    const page = targets.find((t) => t.type === "page");
    if (page === undefined) throw new Error("Chromium has no page target");
    const socket = new WebSocket(page.webSocketDebuggerUrl);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.onopen = (): void => resolve();
        socket.onerror = (): void => reject(new Error("CDP socket failed"));
      }),
      timeoutMs,
      "the CDP socket",
    );
    let nextId = 1;
    const pending = new Map<
      number,
      { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
    >();
    socket.onmessage = (e): void => {
      const msg = JSON.parse(e.data);
      const waiter = pending.get(msg.id);
      if (waiter === undefined) return;
      pending.delete(msg.id);
      if (msg.error) waiter.reject(new Error(`CDP: ${msg.error.message}`));
      else waiter.resolve(msg.result);
    };
    const send = (
      method: string,
      params: Record<string, unknown> = {},
    ): Promise<Record<string, unknown>> => {
      const id = nextId++;
      socket.send(JSON.stringify({ id, method, params }));
      return withTimeout(
        new Promise((resolve, reject) => pending.set(id, { resolve, reject })),
        timeoutMs,
        method,
      );
    };
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await send("Runtime.evaluate", {
        expression,
        awaitPromise: true,
        returnByValue: true,
      });
      if (r.exceptionDetails) {
        const d = r.exceptionDetails as { text: string; exception?: { description?: string } };
        throw new Error(`In the page: ${d.exception?.description ?? d.text}`);
      }
      return (r.result as { value: T }).value;
    };
    const close = async (): Promise<void> => {
      await send("Browser.close").catch(() => {});
      socket.close();
      await kill();
    };
    return { send, evaluate, close };
  } catch (e) {
    await kill();
    throw e;
  }
}
