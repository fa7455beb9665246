import { describe, expect, it } from "vitest";
import { Money, unitPrice } from "../ledger/pricing.js";
import { budgetExceeded, inputTokenBound, subjectKeys, windowAt, worstCost } from "./budgets.js";

const iso = (ms: number) => new Date(ms).toISOString();

describe("windowAt", () => {
  it("bounds a UTC day and a UTC month", () => {
    const at = Date.parse("2026-11-30T23:59:59.999Z");
    expect(iso(windowAt("daily", "UTC", at).start)).toBe("2026-11-30T00:00:00.000Z");
    expect(iso(windowAt("daily", "UTC", at).end)).toBe("2026-12-01T00:00:00.000Z");
    expect(iso(windowAt("monthly", "UTC", at).start)).toBe("2026-11-01T00:00:00.000Z");
    expect(iso(windowAt("monthly", "UTC", at).end)).toBe("2026-12-01T00:00:00.000Z");
    expect(iso(windowAt("monthly", "UTC", Date.parse("2026-12-31T12:00:00Z")).end)).toBe("2027-01-01T00:00:00.000Z");
  });

  it("starts a zone's day at its own midnight, across a daylight-saving change", () => {
    // New York: UTC-5 in winter, UTC-4 in summer; DST began on 2026-03-08 at 02:00 local.
    const winter = windowAt("daily", "America/New_York", Date.parse("2026-01-15T03:00:00Z"));
    expect(iso(winter.start)).toBe("2026-01-14T05:00:00.000Z");
    const dstDay = windowAt("daily", "America/New_York", Date.parse("2026-03-08T12:00:00Z"));
    expect(iso(dstDay.start)).toBe("2026-03-08T05:00:00.000Z");
    expect(iso(dstDay.end)).toBe("2026-03-09T04:00:00.000Z");
    expect(dstDay.end - dstDay.start).toBe(23 * 3_600_000);
    const tokyoMonth = windowAt("monthly", "Asia/Tokyo", Date.parse("2026-11-30T16:00:00Z"));
    expect(iso(tokyoMonth.start)).toBe("2026-11-30T15:00:00.000Z");
  });
});

describe("inputTokenBound", () => {
  it("counts a UTF-8 byte per token at most, plus framing, and a fixed bound per attachment", () => {
    const plain = inputTokenBound([{ role: "user", content: "Hello" }], undefined);
    expect(plain).toBe(8 + 8 + 5);
    // "é" is two bytes, "日" three.
    expect(inputTokenBound([{ role: "user", content: "é日" }], undefined)).toBe(8 + 8 + 5);
    const withImage = inputTokenBound([{ role: "user", content: [{ type: "text", text: "Hi" }, { type: "image_url", image_url: { url: "data:..." } }] as never }], undefined);
    expect(withImage).toBe(8 + 8 + 2 + 10_000);
    expect(inputTokenBound([{ role: "user", content: "x" }], [{ type: "function" }])).toBe(8 + 8 + 1 + Buffer.byteLength('[{"type":"function"}]'));
  });
});

describe("worstCost", () => {
  const price = unitPrice({ input: "1", output: "4", cacheWrite: "1.25", reasoning: "5", request: "0.001", per: "1M" });

  it("charges every input token at the dearest input rate and every output token at the dearest output rate", () => {
    // 1000 × 1.25/1M + 200 × 5/1M + 0.001
    expect(worstCost(price, { inputTokens: 1000, outputTokens: 200, answers: 1 }).toFixed()).toBe("0.00325");
  });

  it("pays twice when a structured answer may be repaired, and re-sends the answer as input", () => {
    // 2 × 0.00325 + 200 × 1.25/1M
    expect(worstCost(price, { inputTokens: 1000, outputTokens: 200, answers: 2 }).toFixed()).toBe("0.00675");
  });

  it("prices characters and audio minutes when the price has them", () => {
    const audio = unitPrice({ input: "0", output: "0", audioMinute: "0.006", characters: "15", per: "1M" });
    expect(worstCost(audio, { inputTokens: 0, outputTokens: 0, audioSeconds: 90, answers: 1 }).toFixed()).toBe("0.009");
    expect(worstCost(audio, { inputTokens: 0, outputTokens: 0, characters: 1000, answers: 1 }).toFixed()).toBe("0.015");
  });
});

describe("subjectKeys", () => {
  it("lists a call's scopes from the most specific to global", () => {
    expect(subjectKeys({ principal: { keyId: "k1", userId: "u1", teamId: null, orgId: "o1" }, endUser: undefined, operation: "chat" })).toEqual(["key:k1", "user:u1", "org:o1", "operation:chat", "global"]);
  });

  it("holds the key's user and the named end user both, so naming another user escapes no budget", () => {
    expect(subjectKeys({ principal: { keyId: "k1", userId: "u1", teamId: "t1", orgId: null }, endUser: "alice", operation: undefined })).toEqual(["key:k1", "user:u1", "user:alice", "team:t1", "global"]);
    expect(subjectKeys({ principal: { keyId: "k1", userId: "alice", teamId: null, orgId: null }, endUser: "alice", operation: undefined })).toEqual(["key:k1", "user:alice", "global"]);
  });
});

describe("budgetExceeded", () => {
  it("is a 429 whose Retry-After runs to the window's end", () => {
    const def = { name: "daily", scope: "global" as const, target: "", period: "daily" as const, timezone: "UTC", limit: new Money("1"), warnAt: undefined };
    const err = budgetExceeded(def, { start: 0, end: 90_500 }, 30_000);
    expect(err.status).toBe(429);
    expect(err.code).toBe("budget_exceeded");
    expect(err.retryAfterSeconds).toBe(61);
    expect(err.toJSON().error).toMatchObject({ budget: "daily", resets_at: "1970-01-01T00:01:30.500Z" });
  });
});
