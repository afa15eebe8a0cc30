import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  forceReleaseWord,
  lockWord,
  lockWordAsync,
  tryLockWord,
  unlockWord,
  wordOwner,
} from "../../src/sync/lock_word.ts";
import { LockStateError, LockTimeoutError } from "../../src/sync/errors.ts";
import { _setCanBlockForTesting, canBlock } from "../../src/sync/_blocking.ts";

function words(count = 4): Int32Array {
  return new Int32Array(new SharedArrayBuffer(count * 4, { maxByteLength: count * 8 }));
}

function isState(ownerId: number, callerId: number): (error: unknown) => boolean {
  return (error) =>
    error instanceof LockStateError && error.ownerId === ownerId && error.callerId === callerId;
}

describe("lockWord / unlockWord", () => {
  it("stores the owner shifted left by one, without the waiters bit when uncontended", () => {
    const i32 = words();
    lockWord(i32, 2, 7, 100);
    assert.equal(i32[2], 7 << 1);
    assert.equal(wordOwner(i32, 2), 7);
    unlockWord(i32, 2, 7);
    assert.equal(i32[2], 0);
    assert.equal(wordOwner(i32, 2), 0);
    assert.deepEqual([...i32], [0, 0, 0, 0]);
  });

  it("accepts the largest worker id", () => {
    const i32 = words();
    const id = 2 ** 29 - 1;
    lockWord(i32, 0, id, 100);
    assert.equal(wordOwner(i32, 0), id);
    assert.ok(i32[0] > 0);
    unlockWord(i32, 0, id);
    assert.equal(i32[0], 0);
  });

  it("throws LockStateError when the holder locks again, and leaves the word alone", () => {
    const i32 = words();
    lockWord(i32, 0, 3, 100);
    assert.throws(() => lockWord(i32, 0, 3, 100), isState(3, 3));
    assert.throws(
      () => lockWord(i32, 0, 3, 100),
      {
        message:
          "Cannot acquire lock: already held by the caller, worker 3; locking again would deadlock",
      },
    );
    assert.equal(i32[0], 3 << 1);
  });

  it("throws LockStateError when unlocking a free word", () => {
    const i32 = words();
    assert.throws(() => unlockWord(i32, 0, 4), isState(0, 4));
    assert.throws(() => unlockWord(i32, 0, 4), {
      name: "LockStateError",
      message: "Cannot unlock: not locked (caller is worker 4)",
    });
    assert.equal(i32[0], 0);
  });

  it("throws LockStateError when another worker unlocks, with or without waiters", () => {
    const i32 = words();
    lockWord(i32, 0, 3, 100);
    assert.throws(() => unlockWord(i32, 0, 5), isState(3, 5));
    assert.throws(() => unlockWord(i32, 0, 5), {
      message: "Cannot unlock: held by worker 3, not by the caller, worker 5",
    });
    i32[0] |= 1;
    assert.throws(() => unlockWord(i32, 0, 5), isState(3, 5));
    assert.equal(i32[0], (3 << 1) | 1);
  });

  it("times out with LockTimeoutError naming the holder", () => {
    const i32 = words();
    lockWord(i32, 1, 3, 100);
    const started = performance.now();
    assert.throws(
      () => lockWord(i32, 1, 4, 30),
      (error) =>
        error instanceof LockTimeoutError && error.ownerId === 3 && error.timeoutMs === 30 &&
        error.message === "Cannot acquire lock: timed out after 30 ms; held by worker 3",
    );
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs >= 25, `waited only ${elapsedMs} ms`);
    assert.ok(elapsedMs < 1000, `waited ${elapsedMs} ms`);
    // The failed waiter announced itself: the word now carries the waiters bit.
    assert.equal(i32[1], (3 << 1) | 1);
    unlockWord(i32, 1, 3);
    assert.equal(i32[1], 0);
  });

  it("gives up at once with a zero timeout", () => {
    const i32 = words();
    lockWord(i32, 0, 3, 100);
    const started = performance.now();
    assert.throws(() => lockWord(i32, 0, 4, 0), LockTimeoutError);
    assert.ok(performance.now() - started < 50);
  });

  it("acquires a free word after a timeout elsewhere, taking it without waiters", () => {
    const i32 = words();
    lockWord(i32, 0, 3, 100);
    assert.throws(() => lockWord(i32, 0, 4, 5), LockTimeoutError);
    unlockWord(i32, 0, 3);
    lockWord(i32, 0, 4, 5);
    assert.equal(i32[0], 4 << 1);
  });
});

describe("tryLockWord", () => {
  it("returns true on a free word and false on a held one", () => {
    const i32 = words();
    assert.equal(tryLockWord(i32, 0, 1), true);
    assert.equal(tryLockWord(i32, 0, 2), false);
    assert.equal(wordOwner(i32, 0), 1);
  });

  it("throws LockStateError when the holder tries again", () => {
    const i32 = words();
    assert.equal(tryLockWord(i32, 0, 1), true);
    assert.throws(() => tryLockWord(i32, 0, 1), isState(1, 1));
  });
});

describe("lockWordAsync", () => {
  it("resolves at once on a free word", async () => {
    const i32 = words();
    await lockWordAsync(i32, 0, 2, 100);
    assert.equal(wordOwner(i32, 0), 2);
  });

  it("resolves once the holder unlocks", async () => {
    const i32 = words();
    lockWord(i32, 0, 1, 100);
    const acquired = lockWordAsync(i32, 0, 2, 5000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(i32[0], (1 << 1) | 1, "the async waiter set the waiters bit");
    unlockWord(i32, 0, 1);
    await acquired;
    assert.equal(wordOwner(i32, 0), 2);
  });

  it("rejects with LockTimeoutError", async () => {
    const i32 = words();
    lockWord(i32, 0, 1, 100);
    await assert.rejects(
      lockWordAsync(i32, 0, 2, 20),
      (error) => error instanceof LockTimeoutError && error.ownerId === 1,
    );
  });

  it("takes the word from its sleep with the waiters bit, and times out as lockWord does", async () => {
    const i32 = words();
    lockWord(i32, 0, 1, 100);
    const acquired = lockWordAsync(i32, 0, 2, 5000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    unlockWord(i32, 0, 1);
    await acquired;
    // Others may sleep on the word, so the sleeper takes it with the bit set.
    assert.equal(i32[0], (2 << 1) | 1);
    await assert.rejects(
      lockWordAsync(i32, 0, 3, 30),
      (error) =>
        error instanceof LockTimeoutError && error.ownerId === 2 && error.timeoutMs === 30 &&
        error.message === "Cannot acquire lock: timed out after 30 ms; held by worker 2",
    );
    assert.equal(i32[0], (2 << 1) | 1);
    unlockWord(i32, 0, 2);
    assert.equal(i32[0], 0);
  });

  it("rejects with LockStateError when the holder locks again", async () => {
    const i32 = words();
    lockWord(i32, 0, 1, 100);
    await assert.rejects(lockWordAsync(i32, 0, 1, 20), isState(1, 1));
  });
});

describe("forceReleaseWord", () => {
  it("releases only a word held by the expected owner", () => {
    const i32 = words();
    assert.equal(forceReleaseWord(i32, 0, 3), false);
    lockWord(i32, 0, 3, 100);
    assert.equal(forceReleaseWord(i32, 0, 4), false);
    assert.equal(wordOwner(i32, 0), 3);
    assert.equal(forceReleaseWord(i32, 0, 3), true);
    assert.equal(i32[0], 0);
  });

  it("releases a word with the waiters bit and wakes the waiters", async () => {
    const i32 = words();
    lockWord(i32, 0, 3, 100);
    const first = lockWordAsync(i32, 0, 4, 5000);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(i32[0] & 1, 1);
    assert.equal(forceReleaseWord(i32, 0, 3), true);
    await first;
    assert.equal(wordOwner(i32, 0), 4);
  });

  it("rejects an expected owner that is not a worker id", () => {
    const i32 = words();
    for (const id of [0, -1, 1.5, 2 ** 29, NaN]) {
      assert.throws(() => forceReleaseWord(i32, 0, id), RangeError);
    }
  });
});

describe("spinning fallback (threads that may not block)", () => {
  it("detects that this thread may block", () => {
    assert.equal(canBlock(), true);
  });

  it("locks, unlocks and times out without Atomics.wait", () => {
    _setCanBlockForTesting(false);
    try {
      const i32 = words();
      lockWord(i32, 0, 1, 100);
      assert.throws(() => lockWord(i32, 0, 1, 100), isState(1, 1));
      const started = performance.now();
      assert.throws(
        () => lockWord(i32, 0, 2, 20),
        (error) => error instanceof LockTimeoutError && error.ownerId === 1,
      );
      assert.ok(performance.now() - started >= 15);
      assert.equal(i32[0], 1 << 1, "a spinner does not set the waiters bit");
      unlockWord(i32, 0, 1);
      lockWord(i32, 0, 2, 20);
      assert.equal(wordOwner(i32, 0), 2);
    } finally {
      _setCanBlockForTesting(undefined);
    }
    assert.equal(canBlock(), true);
  });
});

describe("lock word model (property)", () => {
  it("agrees with a model of owner and errors over random operation sequences", () => {
    type Op = { kind: "lock" | "try" | "unlock" | "force"; owner: number };
    const op = fc.record({
      kind: fc.constantFrom<Op["kind"][]>("lock", "try", "unlock", "force"),
      owner: fc.integer({ min: 1, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const i32 = words(2);
        let owner = 0;
        for (const { kind, owner: id } of ops) {
          if (kind === "lock") {
            if (owner === 0) {
              lockWord(i32, 1, id, 0);
              owner = id;
            } else if (owner === id) {
              assert.throws(() => lockWord(i32, 1, id, 0), isState(id, id));
            } else {
              assert.throws(() => lockWord(i32, 1, id, 0), LockTimeoutError);
            }
          } else if (kind === "try") {
            if (owner === id) assert.throws(() => tryLockWord(i32, 1, id), LockStateError);
            else if (tryLockWord(i32, 1, id)) owner = id;
            else assert.notEqual(owner, 0);
          } else if (kind === "unlock") {
            if (owner === id) {
              unlockWord(i32, 1, id);
              owner = 0;
            } else {
              assert.throws(() => unlockWord(i32, 1, id), isState(owner, id));
            }
          } else {
            assert.equal(forceReleaseWord(i32, 1, id), owner === id);
            if (owner === id) owner = 0;
          }
          assert.equal(wordOwner(i32, 1), owner);
          if (owner === 0) assert.equal(i32[1], 0);
          assert.equal(i32[0], 0, "neighbouring words are untouched");
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("words that hold no lock state", () => {
  it("lockWord and lockWordAsync refuse at once instead of waiting for the timeout", async () => {
    const i32 = new Int32Array(new SharedArrayBuffer(8));
    i32[0] = -1; // what a destroyed Mutex leaves: owner 2^31 - 1, not a worker id
    const started = performance.now();
    assert.throws(
      () => lockWord(i32, 0, 1, 20_000),
      (error) => error instanceof LockStateError && /no lock state/.test(error.message),
    );
    await assert.rejects(lockWordAsync(i32, 0, 1, 20_000), /no lock state/);
    assert.ok(performance.now() - started < 10_000);
    assert.equal(i32[0], -1, "left alone");
  });
});
