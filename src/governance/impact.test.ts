import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { unitPrice } from "../ledger/pricing.js";
import type { Catalog } from "../routing/catalog.js";
import { insertLedgerRows, type LedgerRecord } from "../store/queries/ledger.js";
import { estimateImpact, replayCost } from "./impact.js";

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

describe.each(STORE_KINDS)("estimateImpact on %s", (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(async () => {
    await store.cleanup();
  });

  function call(i: number, inputTokens: number, cost: string): LedgerRecord {
    return { id: `call_${i}`, ts: Date.now() - 60_000 * i, requestId: `req_${i}`, endpoint: "chat", stream: false, cost, inputTokens, outputTokens: 1000, latencyMs: 10, outcome: "success", httpStatus: 200, model: "gemini/gemini-2.5-pro", provider: "gemini" };
  }

  it("replays each call at the long-context tier its own prompt reaches, not at the tier of the summed prompts", async () => {
    // A 250K-token call and a 100K-token one, as charged at a flat $1.25 in and $10 out per 1M.
    await insertLedgerRows(store.database, [call(1, 250_000, "0.3225"), call(2, 100_000, "0.135"), call(3, 200_000, "0.26")]);
    const world = { db: store.database.db, catalog: () => ({}) as Catalog, flushLedger: async () => {} };
    const tiered = { input: "1.25", output: "10", per: "1M", above: [{ inputTokens: 200_000, input: "2.5", output: "15" }] };
    const impact = await estimateImpact(world, "price", "gemini/gemini-2.5-pro", tiered, 30);
    // 250000 × 2.5 + 1000 × 15 = 640000; 100000 × 1.25 + 1000 × 10 = 135000; at the threshold itself, 200000 × 1.25 + 1000 × 10 = 260000 per 1M.
    expect(impact).toMatchObject({ calls: 3, currentCostUsd: "0.7175", projectedCostUsd: "1.035" });
    // Priced at one tier for the sums, the replay would say 1.3125 (all three above 200K) or 0.7175 (none).
    const flat = await estimateImpact(world, "price", "gemini/gemini-2.5-pro", { input: "1.25", output: "10", per: "1M" }, 30);
    expect(flat).toMatchObject({ calls: 3, projectedCostUsd: "0.7175" });
  });
});
