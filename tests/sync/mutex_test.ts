import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Heap, InvalidPointerError } from "../../mod.ts";
import {
  Condition,
  type LockHost,
  LockStateError,
  LockTimeoutError,
  Mutex,
} from "../../src/sync/mod.ts";
import { remoteHost } from "./_remote.ts";

function setup(): { heap: Heap; other: Heap; mutex: Mutex; theirs: Mutex } {
  const heap = Heap.create({ initialBytes: 64 * 1024 });
  const other = Heap.attach(heap.buffer);
  const mutex = Mutex.create(heap);
  return { heap, other, mutex, theirs: Mutex.at(other, mutex.ptr) };
}

function isState(ownerId: number, callerId: number): (error: unknown) => boolean {
  return (error) =>
    error instanceof LockStateError && error.ownerId === ownerId && error.callerId === callerId;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("Mutex.create / Mutex.at / ptr", () => {
  it("allocates an unlocked mutex at an 8-aligned pointer", () => {
    const heap = Heap.create({ initialBytes: 64 * 1024 });
    const live = heap.stats().liveAllocations;
    const mutex = Mutex.create(heap);
    assert.equal(mutex.ptr % 8, 0);
    assert.ok(mutex.ptr > 0);
    assert.equal(mutex.owner, 0);
    assert.equal(heap.stats().liveAllocations, live + 1);
    heap.check();
  });

  it("opens the same mutex from another handle", () => {
    const { heap, other, mutex, theirs } = setup();
    assert.equal(theirs.ptr, mutex.ptr);
    theirs.lock();
    assert.equal(mutex.owner, other.workerId);
    assert.notEqual(mutex.owner, heap.workerId);
    theirs.unlock();
  });

  it("rejects pointers that do not hold a mutex with InvalidPointerError", () => {
    const { heap, mutex } = setup();
    const plain = heap.alloc(16);
    heap.u8.fill(0, plain, plain + 16);
    const condition = Condition.create(heap);
    const cases: [unknown, RegExp][] = [
      [plain, /does not hold a mutex: magic word is 0x00000000$/],
      [condition.ptr, /does not hold a mutex: magic word is 0x434f4e44$/],
      [mutex.ptr + 4, /is not 8-aligned$/],
      [mutex.ptr + 1, /is not 8-aligned$/],
      [0, /is not a positive integer offset$/],
      [-8, /is not a positive integer offset$/],
      [8.5, /is not a positive integer offset$/],
      ["64", /is not a positive integer offset$/],
      [heap.byteLength, /is outside the heap of \d+ bytes$/],
    ];
    for (const [ptr, message] of cases) {
      assert.throws(
        () => Mutex.at(heap, ptr as number),
        (error) =>
          error instanceof InvalidPointerError && error.ptr === ptr &&
          message.test(error.message) && error.message.startsWith("Cannot open a mutex at pointer"),
        `Mutex.at(${String(ptr)})`,
      );
    }
  });

  it("rejects a host whose worker id is out of range", () => {
    const { heap, mutex } = setup();
    for (const workerId of [0, -1, 1.5, 2 ** 29]) {
      const host: LockHost = {
        i32: heap.i32,
        workerId,
        alloc: (size, align) => heap.alloc(size, align),
        free: (ptr) => heap.free(ptr),
      };
      assert.throws(() => Mutex.create(host), RangeError);
      assert.throws(() => Mutex.at(host, mutex.ptr), /worker id must be an integer/);
    }
  });
});

describe("Mutex lock / tryLock / unlock", () => {
  it("locks and unlocks, recording the owner", () => {
    const { heap, mutex } = setup();
    mutex.lock();
    assert.equal(mutex.owner, heap.workerId);
    assert.equal(heap.i32[(mutex.ptr >>> 2) + 1], heap.workerId << 1);
    mutex.unlock();
    assert.equal(mutex.owner, 0);
    mutex.lock(0);
    mutex.unlock();
  });

  it("throws LockStateError when unlocked without being held", () => {
    const { heap, mutex } = setup();
    assert.throws(() => mutex.unlock(), isState(0, heap.workerId));
    assert.equal(mutex.owner, 0);
  });

  it("throws LockStateError when another worker unlocks, and keeps the lock", () => {
    const { heap, other, mutex, theirs } = setup();
    mutex.lock();
    assert.throws(() => theirs.unlock(), isState(heap.workerId, other.workerId));
    assert.throws(
      () => theirs.unlock(),
      {
        message:
          `Cannot unlock: held by worker ${heap.workerId}, not by the caller, worker ${other.workerId}`,
      },
    );
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("throws LockStateError instead of deadlocking on a double lock", () => {
    const { heap, mutex } = setup();
    mutex.lock();
    assert.throws(() => mutex.lock(), isState(heap.workerId, heap.workerId));
    assert.throws(() => mutex.lock(50), /locking again would deadlock/);
    // A second handle for the same worker id is the same owner.
    assert.throws(() => Mutex.at(heap, mutex.ptr).lock(), LockStateError);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("tryLock returns true when free, false when held elsewhere, throws when held here", () => {
    const { heap, mutex, theirs } = setup();
    assert.equal(mutex.tryLock(), true);
    assert.equal(theirs.tryLock(), false);
    assert.throws(() => mutex.tryLock(), isState(heap.workerId, heap.workerId));
    mutex.unlock();
    assert.equal(theirs.tryLock(), true);
    theirs.unlock();
  });

  it("times out with LockTimeoutError naming the holder", () => {
    const { heap, mutex } = setup();
    const other = remoteHost(heap); // a handle in another worker
    const theirs = Mutex.at(other, mutex.ptr);
    theirs.lock();
    const started = performance.now();
    assert.throws(
      () => mutex.lock(25),
      (error) =>
        error instanceof LockTimeoutError && error.ownerId === other.workerId &&
        error.timeoutMs === 25 &&
        error.message ===
          `Cannot acquire lock: timed out after 25 ms; held by worker ${other.workerId}`,
    );
    assert.ok(performance.now() - started >= 20);
    assert.throws(() => mutex.lock(0), LockTimeoutError);
    assert.equal(mutex.owner, other.workerId);
    theirs.unlock();
    mutex.lock(0);
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("rejects a negative or NaN timeout with RangeError and does not lock", () => {
    const { mutex } = setup();
    for (const timeoutMs of [-1, NaN, -Infinity]) {
      assert.throws(() => mutex.lock(timeoutMs), RangeError);
      assert.throws(() => mutex.guard(timeoutMs), /timeout must be a non-negative number/);
      assert.throws(() => mutex.lockAsync(timeoutMs), RangeError);
    }
    assert.equal(mutex.owner, 0);
  });
});

describe("Mutex guard", () => {
  it("unlocks at the end of a using block", () => {
    const { heap, mutex } = setup();
    {
      using _ = mutex.guard();
      assert.equal(mutex.owner, heap.workerId);
    }
    assert.equal(mutex.owner, 0);
  });

  it("unlocks when the block throws", () => {
    const { mutex } = setup();
    assert.throws(() => {
      using _ = mutex.guard(100);
      throw new Error("boom");
    }, /boom/);
    assert.equal(mutex.owner, 0);
  });

  it("times out like lock and then holds nothing", () => {
    const { heap, mutex } = setup();
    const other = remoteHost(heap);
    const theirs = Mutex.at(other, mutex.ptr);
    theirs.lock();
    assert.throws(
      () => {
        using _ = mutex.guard(5);
      },
      (error) => error instanceof LockTimeoutError && error.ownerId === other.workerId,
    );
    assert.equal(mutex.owner, other.workerId);
    theirs.unlock();
  });

  it("throws LockStateError when the guarded mutex is already held by the caller", () => {
    const { mutex } = setup();
    using _ = mutex.guard();
    assert.throws(() => mutex.guard(), LockStateError);
  });

  it("disposing a guard twice unlocks once: the second does nothing, even to a new holder", () => {
    const { other, mutex, theirs } = setup();
    const guard = mutex.guard();
    guard[Symbol.dispose]();
    theirs.lock();
    guard[Symbol.dispose]();
    assert.equal(mutex.owner, other.workerId);
    theirs.unlock();
  });

  it("guardAsync unlocks at the end of a using block", async () => {
    const { heap, mutex, theirs } = setup();
    theirs.lock();
    setTimeout(() => theirs.unlock(), 5);
    {
      using _ = await mutex.guardAsync(5000);
      assert.equal(mutex.owner, heap.workerId);
    }
    assert.equal(mutex.owner, 0);
  });
});

describe("Mutex lockAsync", () => {
  it("resolves at once when free", async () => {
    const { heap, mutex } = setup();
    await mutex.lockAsync();
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("resolves when the holder unlocks", async () => {
    const { heap, mutex, theirs } = setup();
    theirs.lock();
    const locked = mutex.lockAsync(5000);
    await delay(10);
    assert.equal(heap.i32[(mutex.ptr >>> 2) + 1] & 1, 1, "the waiter set the waiters bit");
    theirs.unlock();
    await locked;
    assert.equal(mutex.owner, heap.workerId);
    mutex.unlock();
  });

  it("serves several async waiters in turn", async () => {
    const { heap, mutex } = setup();
    const handles = [0, 1, 2, 3].map(() => Mutex.at(Heap.attach(heap.buffer), mutex.ptr));
    mutex.lock();
    const served: number[] = [];
    const waits = handles.map(async (handle, i) => {
      await handle.lockAsync(5000);
      served.push(i);
      assert.equal(mutex.owner, handle.owner);
      await delay(1);
      handle.unlock();
    });
    await delay(5);
    mutex.unlock();
    await Promise.all(waits);
    assert.deepEqual([...served].sort(), [0, 1, 2, 3]);
    assert.equal(mutex.owner, 0);
  });

  it("rejects with LockTimeoutError naming the holder", async () => {
    const { other, mutex, theirs } = setup();
    theirs.lock();
    await assert.rejects(
      mutex.lockAsync(20),
      (error) => error instanceof LockTimeoutError && error.ownerId === other.workerId,
    );
    theirs.unlock();
  });

  it("rejects with LockStateError on a double lock", async () => {
    const { heap, mutex } = setup();
    await mutex.lockAsync();
    await assert.rejects(mutex.lockAsync(), isState(heap.workerId, heap.workerId));
    mutex.unlock();
  });
});

describe("Mutex forceRelease", () => {
  it("releases a mutex left locked by a dead worker, and only that worker's", async () => {
    const { heap, other, mutex, theirs } = setup();
    theirs.lock();
    const waiting = mutex.lockAsync(5000);
    await delay(5);
    assert.equal(mutex.forceRelease(heap.workerId), false);
    assert.equal(mutex.owner, other.workerId);
    assert.equal(mutex.forceRelease(other.workerId), true);
    await waiting;
    assert.equal(mutex.owner, heap.workerId);
    assert.equal(mutex.forceRelease(other.workerId), false);
    mutex.unlock();
  });
});

describe("Mutex destroy", () => {
  it("frees the mutex; at() then rejects the pointer and the handle is unusable", () => {
    const { heap, mutex } = setup();
    const live = heap.stats().liveAllocations;
    const ptr = mutex.ptr;
    mutex.destroy();
    assert.equal(heap.stats().liveAllocations, live - 1);
    assert.throws(() => Mutex.at(heap, ptr), InvalidPointerError);
    assert.throws(() => mutex.lock(), InvalidPointerError);
    assert.throws(() => mutex.unlock(), InvalidPointerError);
    assert.throws(() => mutex.destroy(), InvalidPointerError);
    heap.check();
  });

  it("may be destroyed by its holder", () => {
    const { heap, mutex } = setup();
    mutex.lock();
    mutex.destroy();
    heap.check();
  });

  it("refuses while another worker holds it", () => {
    const { heap, other, mutex, theirs } = setup();
    theirs.lock();
    assert.throws(() => mutex.destroy(), isState(other.workerId, heap.workerId));
    assert.equal(Mutex.at(heap, mutex.ptr).owner, other.workerId);
    theirs.unlock();
  });
});
