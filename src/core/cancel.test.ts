import { describe, expect, it } from "vitest";
import { Cancellation } from "./cancel.js";

describe("Cancellation", () => {
  it("aborts with the parent's own reason", () => {
    const parent = new AbortController();
    const child = new Cancellation(parent.signal, 10_000);
    const reason = new Error("client left");
    parent.abort(reason);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe(reason);
  });

  it("aborts with a TimeoutError when its deadline passes", async () => {
    const child = new Cancellation(undefined, 5);
    await new Promise((r) => setTimeout(r, 30));
    expect(child.signal.aborted).toBe(true);
    expect((child.signal.reason as DOMException).name).toBe("TimeoutError");
  });

  it("starts aborted when the parent already is", () => {
    const parent = new AbortController();
    parent.abort("gone");
    expect(new Cancellation(parent.signal, 1000).signal.reason).toBe("gone");
  });

  it("leaves no timer and no listener behind once disposed", async () => {
    const parent = new AbortController();
    const child = new Cancellation(parent.signal, 5);
    child.dispose();
    await new Promise((r) => setTimeout(r, 30));
    parent.abort("later");
    expect(child.signal.aborted).toBe(false);
  });
});
