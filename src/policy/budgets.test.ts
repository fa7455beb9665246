import { describe, expect, it } from "vitest";
import { costUnitsText, Money, unitPrice } from "../ledger/pricing.js";
import { budgetExceeded, inputTokenBound, subjectKeys, windowAt, worstCost, worstCostUnits } from "./budgets.js";
import { fixedSequence } from "../../test/support/sequence.js";

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

  it("holds the last hour before a midnight that daylight saving skips, and starts the next day when the clocks jump", () => {
    // Santiago: on 2026-09-06 the clocks go from 00:00 (UTC-4) to 01:00 (UTC-3), so that day has no midnight.
    const lastHour = Date.parse("2026-09-06T03:30:00Z"); // 23:30 on the 5th
    const day = windowAt("daily", "America/Santiago", lastHour);
    expect(day.start <= lastHour && lastHour < day.end).toBe(true);
    expect(iso(day.end)).toBe("2026-09-06T04:00:00.000Z");
    const next = windowAt("daily", "America/Santiago", day.end);
    expect(iso(next.start)).toBe("2026-09-06T04:00:00.000Z");
    expect(next.end - next.start).toBe(23 * 3_600_000);
    // Havana skips its midnight on 2026-03-08 (UTC-5 to UTC-4).
    const havana = Date.parse("2026-03-08T04:59:59Z");
    const havanaDay = windowAt("daily", "America/Havana", havana);
    expect(havanaDay.start <= havana && havana < havanaDay.end).toBe(true);
    // And where clocks fall back at midnight, the day starts at the midnight that shows, the second one.
    const autumn = windowAt("daily", "America/Santiago", Date.parse("2026-04-05T12:00:00Z"));
    expect(iso(autumn.start)).toBe("2026-04-05T04:00:00.000Z");
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

  it("takes the dearest tier the prompt, a repair's included, could pass", () => {
    const tiered = unitPrice({ input: "1.25", output: "10", per: "1M", above: [{ inputTokens: 200_000, input: "2.5", output: "15" }] });
    // 150,000 × 1.25 + 1,000 × 10 per 1M: under the threshold, the base price.
    expect(worstCost(tiered, { inputTokens: 150_000, outputTokens: 1000, answers: 1 }).toFixed()).toBe("0.1975");
    // 250,000 × 2.5 + 1,000 × 15 per 1M.
    expect(worstCost(tiered, { inputTokens: 250_000, outputTokens: 1000, answers: 1 }).toFixed()).toBe("0.64");
    // 199,500 + a 1,000-token answer re-sent: the repair's prompt passes 200K, so both answers are reserved at the tier.
    // 2 × (199500 × 2.5 + 1000 × 15) + 1000 × 2.5 = 2 × 513750 + 2500 = 1030000 per 1M
    expect(worstCost(tiered, { inputTokens: 199_500, outputTokens: 1000, answers: 2 }).toFixed()).toBe("1.03");
    expect(costUnitsText(worstCostUnits(tiered, { inputTokens: 199_500, outputTokens: 1000, answers: 2 }))).toBe("1.03");
    // A tier cheaper than the base (none is, but a price may say so) never lowers the worst case.
    const cheaper = unitPrice({ input: "2", output: "8", per: "1M", above: [{ inputTokens: 10, input: "1", output: "4" }] });
    expect(worstCost(cheaper, { inputTokens: 1000, outputTokens: 1000, answers: 1 }).toFixed()).toBe("0.01");
  });

  it("prices characters and audio minutes when the price has them", () => {
    const audio = unitPrice({ input: "0", output: "0", audioMinute: "0.006", characters: "15", per: "1M" });
    expect(worstCost(audio, { inputTokens: 0, outputTokens: 0, audioSeconds: 90, answers: 1 }).toFixed()).toBe("0.009");
    expect(worstCost(audio, { inputTokens: 0, outputTokens: 0, characters: 1000, answers: 1 }).toFixed()).toBe("0.015");
  });
});

describe("worstCostUnits", () => {
  it("is worstCost rounded up to the store's twelve digits, for prices of every precision and calls of every size", () => {
    const prices = [
      unitPrice({ input: "1", output: "4", cacheWrite: "1.25", reasoning: "5", request: "0.001", per: "1M" }),
      unitPrice({ input: "2.50", output: "10.00", cachedInput: "1.25", per: "1M" }),
      unitPrice({ input: "1.234567891234567", output: "9.87654321", request: "0.0000001", per: "1M" }),
      unitPrice({ input: "0.00015", output: "0.0006", per: "1K" }),
      unitPrice({ input: "12", output: "34", per: "1" }),
      unitPrice({ input: "0", output: "0", per: "1M" }),
      unitPrice({ input: "1.25", cachedInput: "0.125", output: "10", per: "1M", above: [{ inputTokens: 200_000, input: "2.5", cachedInput: "0.25", output: "15" }] }),
      unitPrice({ input: "3", output: "15", per: "1M", above: [{ inputTokens: 100_000, input: "6", output: "22.5" }, { inputTokens: 1_500_000, input: "0.5", output: "100.123456789" }] }),
    ];
    const next = fixedSequence(54321);
    let compared = 0;
    for (const price of prices) {
      expect(price.fixed).toBeDefined();
      for (let i = 0; i < 200; i++) {
        const worst = { inputTokens: next(4) === 0 ? 0 : next(2_000_000), outputTokens: next(4) === 0 ? 0 : next(200_000), answers: 1 + next(3) };
        const expected = BigInt(worstCost(price, worst).mul("1e12").toDecimalPlaces(0, Money.ROUND_UP).toFixed());
        expect(worstCostUnits(price, worst), JSON.stringify(worst)).toBe(expected);
        compared++;
      }
    }
    expect(compared).toBe(1_600);
  });

  it("rounds a worst case finer than the store up, never down", () => {
    // 1 token at 1.234567891234567/1M = 0.000001234567891234567: 0.000001234568 once rounded up.
    const fine = unitPrice({ input: "1.234567891234567", output: "0", per: "1M" });
    expect(costUnitsText(worstCostUnits(fine, { inputTokens: 1, outputTokens: 0, answers: 1 }))).toBe("0.000001234568");
  });

  it("takes units and counts it cannot multiply exactly through decimal.js, with the same result", () => {
    const audio = unitPrice({ input: "0", output: "0", audioMinute: "0.006", characters: "15", per: "1M" });
    expect(costUnitsText(worstCostUnits(audio, { inputTokens: 0, outputTokens: 0, audioSeconds: 90, answers: 1 }))).toBe("0.009");
    expect(costUnitsText(worstCostUnits(audio, { inputTokens: 0, outputTokens: 0, characters: 1000, answers: 1 }))).toBe("0.015");
    const price = unitPrice({ input: "1", output: "4", per: "1M" });
    expect(costUnitsText(worstCostUnits(price, { inputTokens: 1.5, outputTokens: 1, answers: 1 }))).toBe("0.0000055");
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
