/// <reference lib="deno.worker" />
// Worker side of tests/_support/pool_test.ts: does what each message asks.

/** What pool_test.ts asks of the worker. */
export type PoolTestMessage =
  | { do: "echo"; value: number }
  | { do: "twice"; value: number }
  | { do: "fail"; value: number }
  | { do: "throw"; value: number }
  | { do: "silent"; value: number };

/** The worker's reply. */
export interface PoolTestReply {
  ok: boolean;
  value: number;
  error?: string;
  errorName?: string;
}

self.onmessage = (event: MessageEvent<PoolTestMessage>) => {
  const m = event.data;
  switch (m.do) {
    case "echo":
      self.postMessage({ ok: true, value: m.value } satisfies PoolTestReply);
      break;
    case "twice":
      self.postMessage({ ok: true, value: m.value } satisfies PoolTestReply);
      self.postMessage({ ok: true, value: m.value + 1 } satisfies PoolTestReply);
      break;
    case "fail":
      self.postMessage(
        {
          ok: false,
          value: m.value,
          error: "asked to fail",
          errorName: "RangeError",
        } satisfies PoolTestReply,
      );
      break;
    case "throw":
      throw new TypeError(`thrown on request ${m.value}`);
    case "silent":
      break;
  }
};
