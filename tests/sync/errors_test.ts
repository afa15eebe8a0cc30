import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LockStateError, LockTimeoutError } from "../../src/sync/mod.ts";

describe("LockTimeoutError", () => {
  it("carries the owner and the timeout, and names the owner", () => {
    const error = new LockTimeoutError("lock", 5000, 3);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "LockTimeoutError");
    assert.equal(error.ownerId, 3);
    assert.equal(error.timeoutMs, 5000);
    assert.equal(error.message, "Cannot acquire lock: timed out after 5000 ms; held by worker 3");
  });

  it("leaves out the owner when there is none", () => {
    assert.equal(
      new LockTimeoutError("semaphore", 10, 0).message,
      "Cannot acquire semaphore: timed out after 10 ms",
    );
  });
});

describe("LockStateError", () => {
  it("describes each wrong state", () => {
    const cases: [string, number, number, string][] = [
      ["unlock", 0, 4, "Cannot unlock: not locked (caller is worker 4)"],
      ["unlock", 3, 4, "Cannot unlock: held by worker 3, not by the caller, worker 4"],
      [
        "acquire lock",
        4,
        4,
        "Cannot acquire lock: already held by the caller, worker 4; locking again would deadlock",
      ],
      [
        "destroy mutex",
        3,
        4,
        "Cannot destroy mutex: held by worker 3, not by the caller, worker 4",
      ],
    ];
    for (const [operation, ownerId, callerId, message] of cases) {
      const error = new LockStateError(operation, ownerId, callerId);
      assert.ok(error instanceof Error);
      assert.equal(error.name, "LockStateError");
      assert.equal(error.ownerId, ownerId);
      assert.equal(error.callerId, callerId);
      assert.equal(error.message, message);
    }
  });
});

describe("LockStateError detail", () => {
  it("replaces the derived description and keeps the ids", () => {
    const error = new LockStateError("acquire lock", 3, 4, "waiting would deadlock");
    assert.equal(error.message, "Cannot acquire lock: waiting would deadlock");
    assert.equal(error.ownerId, 3);
    assert.equal(error.callerId, 4);
  });
});
