import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { priceSchema } from "../config/schema.js";
import { OPENROUTER_SOURCE, pricesFromOpenRouter } from "./openrouter-import.js";
import { costOf, formatCost, unitPrice } from "./pricing.js";
import { emptyUsage } from "../providers/spec.js";

const fixture: unknown = JSON.parse(readFileSync(new URL("../../test/fixtures/openrouter/models.json", import.meta.url), "utf8"));
const DATE = "2026-11-30";

function imported() {
  const result = pricesFromOpenRouter(fixture, { effectiveDate: DATE });
  const byId = new Map(result.prices.map((p) => [p.model, p.price]));
  return { ...result, byId };
}

describe("pricesFromOpenRouter", () => {
  it("converts per-token prices to exact per-1M strings", () => {
    const { byId } = imported();
    // 0.0000025 × 1,000,000 = 2.5; 0.00001 × 1,000,000 = 10; 0.00000125 × 1,000,000 = 1.25
    expect(byId.get("openrouter/openai/gpt-4o")).toEqual({
      input: "2.5",
      output: "10",
      cachedInput: "1.25",
      per: "1M",
      source: OPENROUTER_SOURCE,
      effectiveDate: DATE,
    });
    // 0.00000015 → 0.15, 0.0000006 → 0.6, 0.000000075 → 0.075
    expect(byId.get("openrouter/openai/gpt-4o-mini")).toMatchObject({ input: "0.15", output: "0.6", cachedInput: "0.075" });
    // 0.00000025 → 0.25, 0.000002 → 2, 0.000000025 → 0.025
    expect(byId.get("openrouter/openai/gpt-5-mini")).toMatchObject({ input: "0.25", output: "2", cachedInput: "0.025" });
  });

  it("takes cache reads and writes when they are priced", () => {
    const { byId } = imported();
    // 0.000003 → 3, 0.000015 → 15, 0.0000003 → 0.3, 0.00000375 → 3.75
    expect(byId.get("openrouter/anthropic/claude-sonnet-4.5")).toMatchObject({ input: "3", output: "15", cachedInput: "0.3", cacheWrite: "3.75" });
    // 0.0000001833 → 0.1833: four significant digits survive, no float noise
    expect(byId.get("openrouter/google/gemini-2.0-flash-001")).toMatchObject({ input: "0.1", output: "0.4", cachedInput: "0.025", cacheWrite: "0.1833" });
    expect(byId.get("openrouter/google/gemini-2.5-flash")).toMatchObject({ cachedInput: "0.075", cacheWrite: "0.3833" });
    // No cache prices listed, none invented
    expect(byId.get("openrouter/meta-llama/llama-3.3-70b-instruct")).toEqual(expect.not.objectContaining({ cachedInput: expect.anything() }));
  });

  it("keeps reasoning only when it differs from completion", () => {
    const { byId } = imported();
    // internal_reasoning equals completion (0.0000025): nothing to add
    expect(byId.get("openrouter/google/gemini-2.5-flash")).not.toHaveProperty("reasoning");
    // 0.000003 ≠ 0.000008: reasoning tokens at 3 per 1M, output at 8
    expect(byId.get("openrouter/perplexity/sonar-deep-research")).toMatchObject({ input: "2", output: "8", reasoning: "3" });
  });

  it("keeps a per-request fee as USD per request, unscaled", () => {
    const { byId } = imported();
    expect(byId.get("openrouter/perplexity/sonar")).toMatchObject({ input: "1", output: "1", request: "0.005" });
    expect(byId.get("openrouter/openai/gpt-4o")).not.toHaveProperty("request");
  });

  it("skips the variable-priced auto router and keeps free models", () => {
    const { byId, skipped, prices } = imported();
    expect(byId.has("openrouter/openrouter/auto")).toBe(false);
    expect(skipped).toEqual([{ id: "openrouter/auto", reason: expect.stringMatching(/negative/) }]);
    expect(byId.get("openrouter/meta-llama/llama-3.3-70b-instruct:free")).toMatchObject({ input: "0", output: "0" });
    expect(prices).toHaveLength(11);
  });

  it("produces prices the config schema accepts and the ledger bills exactly", () => {
    const { prices, byId } = imported();
    for (const { model, price } of prices) {
      expect(model).toMatch(/^openrouter\/[^/]+\/.+/);
      expect(priceSchema.parse(price)).toEqual(price);
    }
    // 1,000 prompt tokens (400 cached, 100 written) + 200 completion on Claude Sonnet 4.5:
    // 500 × 3e-6 + 400 × 3e-7 + 100 × 3.75e-6 + 200 × 1.5e-5 = 0.0015 + 0.00012 + 0.000375 + 0.003
    const usage = { ...emptyUsage(), inputTokens: 1000, cachedInputTokens: 400, cacheWriteTokens: 100, outputTokens: 200 };
    expect(formatCost(costOf(usage, unitPrice(byId.get("openrouter/anthropic/claude-sonnet-4.5")!)))).toBe("0.004995");
  });

  it("converts tiny and exponent-form prices exactly", () => {
    const { prices } = pricesFromOpenRouter(
      {
        data: [
          { id: "google/gemini-flash-1.5-8b", pricing: { prompt: "0.0000000375", completion: "0.00000015", input_cache_read: "0.00000001" } },
          { id: "x/tiny", pricing: { prompt: "0.000000000001", completion: "3e-7" } },
          { id: "x/long", pricing: { prompt: "0.000000123456789012345678", completion: "0.00000006" } },
        ],
      },
      { effectiveDate: DATE },
    );
    expect(prices.map((p) => [p.price.input, p.price.output, p.price.cachedInput])).toEqual([
      ["0.0375", "0.15", "0.01"],
      ["0.000001", "0.3", undefined],
      ["0.123456789012345678", "0.06", undefined],
    ]);
  });

  it("skips models with missing or malformed prices, with the reason", () => {
    const { prices, skipped } = pricesFromOpenRouter(
      {
        data: [
          { id: "a/no-pricing", name: "no pricing" },
          { id: "a/no-prompt", pricing: { completion: "0.000001" } },
          { id: "a/words", pricing: { prompt: "free", completion: "0" } },
          { id: "a/number", pricing: { prompt: 0.000001, completion: "0.000001" } },
          { id: "a/bad-cache", pricing: { prompt: "0.000001", completion: "0.000001", input_cache_read: "NaN" } },
          { id: "a/negative-request", pricing: { prompt: "0.000001", completion: "0.000001", request: "-1" } },
          { name: "no id", pricing: { prompt: "0", completion: "0" } },
          "not an object",
          { id: "a/ok", pricing: { prompt: "0.000001", completion: "0.000002", image: "-1" } },
          { id: "a/ok", pricing: { prompt: "0.000009", completion: "0.000009" } },
        ],
      },
      { effectiveDate: DATE },
    );
    expect(prices.map((p) => [p.model, p.price.input, p.price.output])).toEqual([["openrouter/a/ok", "1", "2"]]);
    expect(skipped).toEqual([
      { id: "a/no-pricing", reason: "no pricing" },
      { id: "a/no-prompt", reason: "no pricing.prompt" },
      { id: "a/words", reason: expect.stringContaining("pricing.prompt is not a decimal string") },
      { id: "a/number", reason: expect.stringContaining("pricing.prompt is not a decimal string") },
      { id: "a/bad-cache", reason: expect.stringContaining("pricing.input_cache_read") },
      { id: "a/negative-request", reason: expect.stringContaining("pricing.request is negative") },
      { id: "data[6]", reason: "no id" },
      { id: "data[7]", reason: "not an object" },
      { id: "a/ok", reason: "duplicate id" },
    ]);
  });

  it("dates prices today (UTC) unless told", () => {
    const { prices } = pricesFromOpenRouter({ data: [{ id: "a/b", pricing: { prompt: "0", completion: "0" } }] });
    expect(prices[0]!.price.effectiveDate).toBe(new Date().toISOString().slice(0, 10));
    expect(() => pricesFromOpenRouter({ data: [] }, { effectiveDate: "30/11/2026" })).toThrow(/YYYY-MM-DD/);
  });

  it("rejects a payload that is not an OpenRouter models list", () => {
    expect(() => pricesFromOpenRouter({ object: "list", models: [] })).toThrow(/not an OpenRouter models list.*"data"/);
    expect(() => pricesFromOpenRouter([{ id: "a/b" }])).toThrow(/not an OpenRouter models list/);
    expect(() => pricesFromOpenRouter(null)).toThrow(/not an OpenRouter models list/);
    expect(() => pricesFromOpenRouter({ data: { id: "a/b" } })).toThrow(/not an OpenRouter models list/);
    expect(pricesFromOpenRouter({ data: [] })).toEqual({ prices: [], skipped: [] });
  });
});
