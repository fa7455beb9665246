import { describe, expect, it } from "vitest";
import { newId, requestId, traceId } from "./ids.js";

describe("ids", () => {
  it("have their documented shapes", () => {
    expect(requestId()).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
    expect(newId("call")).toMatch(/^call_[0-9a-f]{32}$/);
    expect(traceId()).toMatch(/^[0-9a-f]{32}$/);
  });

  it("never repeat, across many pool refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      seen.add(newId("call"));
      seen.add(requestId());
    }
    expect(seen.size).toBe(40_000);
  });
});
