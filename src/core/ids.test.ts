import { describe, expect, it } from "vitest";
import { newId, requestId, traceId } from "./ids.js";

describe("ids", () => {
  it("have their documented shapes", () => {
    expect(requestId()).toMatch(/^req_[A-Za-z0-9_-]{16}$/);
    expect(newId("call")).toMatch(/^call_[0-9a-f]{32}$/);
    expect(traceId()).toMatch(/^[0-9a-f]{32}$/);
  });

  it("sort by creation time, whatever their random part", async () => {
    const first = newId("call");
    const millis = Number.parseInt(first.slice("call_".length, "call_".length + 12), 16);
    expect(Math.abs(millis - Date.now())).toBeLessThan(1000);
    // Ids of the same millisecond are ordered only by chance: wait for the clock to move on.
    while (Date.now() <= millis) await new Promise((resolve) => setTimeout(resolve, 1));
    const later = Array.from({ length: 200 }, () => newId("call"));
    for (const id of later) expect(id > first).toBe(true);
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
