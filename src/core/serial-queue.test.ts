import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SerialQueue } from "./serial-queue.js";

function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * runWithin: one piece of work at a time, for callers that each wait at most so long, their wait for
 * their turn included. A caller that gives up leaves the queue as it was: what runs finishes before
 * the next piece starts, a piece whose caller has gone is skipped, and what it took late is given back.
 */
describe("SerialQueue.runWithin", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers what the work returned within the deadline, and gives nothing back", async () => {
    const queue = new SerialQueue();
    const giveBack = vi.fn();
    await expect(queue.runWithin(1_000, async () => 5, giveBack)).resolves.toBe(5);
    expect(giveBack).not.toHaveBeenCalled();
  });

  it("counts the wait behind the piece before toward the deadline, and never runs work whose caller gave up before its turn", async () => {
    const queue = new SerialQueue();
    const first = deferred();
    const running = queue.run(() => first.promise);
    const work = vi.fn(async () => "taken");
    const giveBack = vi.fn();
    const waiting = queue.runWithin(20, work, giveBack);
    const refused = expect(waiting).rejects.toThrow("no answer within 20 ms");
    await vi.advanceTimersByTimeAsync(20);
    await refused;

    first.resolve();
    await running;
    await queue.run(async () => undefined);
    expect(work).not.toHaveBeenCalled();
    expect(giveBack).not.toHaveBeenCalled();
  });

  it("lets work already running finish before the next piece starts, and hands back what it took after its caller gave up", async () => {
    const queue = new SerialQueue();
    const started = deferred();
    const answered = deferred();
    let gaveUpSeen: boolean | undefined;
    const giveBack = vi.fn();
    const waiting = queue.runWithin(
      20,
      async (gaveUp) => {
        started.resolve();
        await answered.promise;
        gaveUpSeen = gaveUp();
        return "taken";
      },
      giveBack,
    );
    const refused = expect(waiting).rejects.toThrow("no answer within 20 ms");
    await started.promise;
    const order: string[] = [];
    const next = queue.run(async () => void order.push("next"));
    await vi.advanceTimersByTimeAsync(20);
    await refused;
    expect(order).toEqual([]);

    answered.resolve();
    await next;
    expect(order).toEqual(["next"]);
    expect(gaveUpSeen).toBe(true);
    expect(giveBack).toHaveBeenCalledWith("taken");
  });

  it("rejects its caller with the work's own error, and the queue goes on", async () => {
    const queue = new SerialQueue();
    const giveBack = vi.fn();
    await expect(queue.runWithin(1_000, async () => Promise.reject(new Error("store refused")), giveBack)).rejects.toThrow("store refused");
    await expect(queue.runWithin(1_000, async (gaveUp) => gaveUp(), giveBack)).resolves.toBe(false);
    expect(giveBack).not.toHaveBeenCalled();
  });
});
