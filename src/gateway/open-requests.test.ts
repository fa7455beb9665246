import { describe, expect, it } from "vitest";
import { Cancellation } from "../core/cancel.js";
import { OpenRequests, type OpenRequest } from "./open-requests.js";

const openRequest = (cancellation: Cancellation): OpenRequest => ({ cancellation, prevOpen: undefined, nextOpen: undefined });

describe("OpenRequests", () => {
  it("counts the requests open, whichever ends first, and a request ended twice counts once", () => {
    const open = new OpenRequests();
    const [a, b, c] = [openRequest(new Cancellation()), openRequest(new Cancellation()), openRequest(new Cancellation())];
    for (const request of [a, b, c]) open.add(request);
    expect(open.size).toBe(3);
    open.remove(b);
    open.remove(b);
    expect(open.size).toBe(2);
    open.remove(a);
    open.remove(c);
    expect(open.size).toBe(0);
    open.add(b);
    expect(open.size).toBe(1);
  });

  it("cuts every request still open with the reason given, and none that ended", () => {
    const open = new OpenRequests();
    const requests = Array.from({ length: 5 }, () => openRequest(new Cancellation()));
    for (const request of requests) open.add(request);
    open.remove(requests[0]!);
    open.remove(requests[2]!);
    open.remove(requests[4]!);
    const reason = new Error("shut down");
    open.cutAll(() => reason);
    expect(requests.map((r) => r.cancellation.aborted)).toEqual([false, true, false, true, false]);
    expect(requests[1]!.cancellation.reason).toBe(reason);
    expect(requests[3]!.cancellation.reason).toBe(reason);
  });

  it("cuts them all even when cutting one ends another at once", () => {
    const open = new OpenRequests();
    const requests = Array.from({ length: 3 }, () => openRequest(new Cancellation()));
    for (const request of requests) open.add(request);
    requests[0]!.cancellation.addEventListener("abort", () => open.remove(requests[1]!));
    requests[1]!.cancellation.addEventListener("abort", () => open.remove(requests[2]!));
    open.cutAll(() => new Error("shut down"));
    expect(requests.map((r) => r.cancellation.aborted)).toEqual([true, true, true]);
  });
});
