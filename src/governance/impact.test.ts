import { describe, expect, it } from "vitest";
import { unitPrice } from "../ledger/pricing.js";
import { replayCost } from "./impact.js";

describe("replayCost", () => {
  const totals = { calls: 4, inputTokens: 4_000, cachedInputTokens: 1_000, cacheWriteTokens: 0, cacheWrite1hTokens: 0, audioInputTokens: 0, audioOutputTokens: 0, outputTokens: 800, audioSeconds: "0", characters: 0, reasoningTokens: 200, cost: "0" };

  it("prices the totals as the calls one by one would be priced, the flat fee once per call", () => {
    const price = unitPrice({ input: "1", cachedInput: "0.1", output: "4", reasoning: "5", request: "0.002", per: "1M" });
    // 3000 × 1 + 1000 × 0.1 + 600 × 4 + 200 × 5 = 6500 per 1M, plus 4 × $0.002.
    expect(replayCost(totals, price).toFixed()).toBe("0.0145");
  });

  it("prices the 1-hour cache writes in the totals at their own rate", () => {
    const price = unitPrice({ input: "3", cacheWrite: "3.75", cacheWrite1h: "6", output: "15", per: "1M" });
    // 1000 plain × 3 + 300 five-minute × 3.75 + 700 one-hour × 6 + 10 × 15 = 3000 + 1125 + 4200 + 150 = 8475 per 1M.
    const writes = { calls: 1, inputTokens: 2_000, cachedInputTokens: 0, cacheWriteTokens: 1_000, cacheWrite1hTokens: 700, audioInputTokens: 0, audioOutputTokens: 0, outputTokens: 10, audioSeconds: "0", characters: 0, reasoningTokens: 0, cost: "0" };
    expect(replayCost(writes, price).toFixed()).toBe("0.008475");
  });

  it("prices the seconds of audio and the characters in the totals, for transcription and speech models", () => {
    const none = { ...totals, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };
    // whisper-1 at $0.012 a minute, 2 calls of 60.5 s: 0.012 × 121 / 60 = 0.0242
    expect(replayCost({ ...none, calls: 2, audioSeconds: "121.000" }, unitPrice({ input: "0", output: "0", audioMinute: "0.012", per: "1M" })).toFixed()).toBe("0.0242");
    // tts-1 at $30 per 1M characters, 1,234 characters: 0.03702
    expect(replayCost({ ...none, calls: 1, characters: 1234 }, unitPrice({ input: "0", output: "0", characters: "30", per: "1M" })).toFixed()).toBe("0.03702");
  });

  it("costs nothing when no call was made", () => {
    expect(replayCost({ ...totals, calls: 0 }, unitPrice({ input: "1", output: "1", request: "1", per: "1M" })).toFixed()).toBe("0");
  });
});
