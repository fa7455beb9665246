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

  it("lets go of its listeners once disposed, so an attempt still tied to its call is released with it", () => {
    const call = new Cancellation(undefined, 60_000);
    const attempt = new Cancellation(call, 30_000);
    const heard: string[] = [];
    call.addEventListener("abort", () => heard.push("call listener"));
    attempt.addEventListener("abort", () => heard.push("attempt listener"));
    call.dispose();
    call.abort("after the work");
    expect(call.aborted).toBe(true);
    expect(attempt.aborted).toBe(false);
    expect(heard).toEqual([]);
  });

  it("still tells every listener when it aborts, once", () => {
    const call = new Cancellation(undefined, 60_000);
    const heard: unknown[] = [];
    call.addEventListener("abort", () => heard.push(call.reason));
    call.addEventListener("abort", () => heard.push("second"));
    call.abort("deadline");
    call.abort("again");
    expect(heard).toEqual(["deadline", "second"]);
  });
});

describe("Cancellation chains", () => {
  it("follows a parent Cancellation, and hands a real AbortSignal to whoever asks", () => {
    const client = new Cancellation();
    const call = new Cancellation(client, 60_000);
    const attempt = new Cancellation(call, 30_000);
    const signal = attempt.signal;
    const heard: unknown[] = [];
    attempt.addEventListener("abort", () => heard.push(attempt.reason));
    client.abort("client left");
    expect([call.reason, attempt.reason, signal.aborted, signal.reason]).toEqual(["client left", "client left", true, "client left"]);
    expect(heard).toEqual(["client left"]);
    call.dispose();
  });

  it("makes an already aborted signal when asked after the abort", () => {
    const call = new Cancellation();
    call.abort("deadline");
    expect(call.signal.aborted).toBe(true);
    expect(call.signal.reason).toBe("deadline");
  });

  it("after clearDeadline still follows its parent, but its own deadline no longer fires", async () => {
    const call = new Cancellation();
    const attempt = new Cancellation(call, 5);
    attempt.clearDeadline();
    await new Promise((r) => setTimeout(r, 30));
    expect(attempt.aborted).toBe(false);
    call.abort("client left");
    expect(attempt.reason).toBe("client left");
  });

  it("calls a removed listener no more, and aborts only once", () => {
    const call = new Cancellation();
    const heard: string[] = [];
    const listener = () => heard.push("first");
    call.addEventListener("abort", listener);
    call.addEventListener("abort", () => heard.push("second"));
    call.removeEventListener("abort", listener);
    call.abort("one");
    call.abort("two");
    expect(heard).toEqual(["second"]);
    expect(call.reason).toBe("one");
  });
});
