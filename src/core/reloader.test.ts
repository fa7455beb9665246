import { describe, expect, it } from "vitest";
import { Reloader } from "./reloader.js";

/** A read that finishes only when the test lets it, counting how many began. */
function gatedReads() {
  const gates: Array<() => void> = [];
  let began = 0;
  const reloader = new Reloader(() => {
    began++;
    return new Promise<void>((resolve) => gates.push(resolve));
  });
  const finishNext = async () => {
    gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { reloader, began: () => began, finishNext };
}

describe("Reloader", () => {
  it("runs one more read after the running one for a reload asked for meanwhile, shared by every caller", async () => {
    const { reloader, began, finishNext } = gatedReads();
    const first = reloader.reload();
    const second = reloader.reload();
    const third = reloader.reload();
    expect(second).toBe(third);
    expect(began()).toBe(1);
    await finishNext();
    await first;
    expect(began()).toBe(2);
    await finishNext();
    await second;
    expect(began()).toBe(2);
  });

  it("lets a tick join the read running or queued, and start one only when none is", async () => {
    const { reloader, began, finishNext } = gatedReads();
    const running = reloader.tick();
    expect(reloader.tick()).toBe(running);
    const queued = reloader.reload();
    expect(reloader.tick()).toBe(queued);
    await finishNext();
    await finishNext();
    await queued;
    expect(began()).toBe(2);
    const next = reloader.tick();
    expect(began()).toBe(3);
    await finishNext();
    await next;
  });

  it("settles once the reads running or queued have ended, a failed one included", async () => {
    const reloader = new Reloader(() => Promise.reject(new Error("store down")));
    const failing = reloader.reload();
    await expect(failing).rejects.toThrow("store down");
    await expect(reloader.settled()).resolves.toBeUndefined();
    const { reloader: gated, finishNext } = gatedReads();
    void gated.reload();
    void gated.reload();
    let settled = false;
    void gated.settled().then(() => (settled = true));
    await finishNext();
    expect(settled).toBe(false);
    await finishNext();
    expect(settled).toBe(true);
  });
});
