import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import type { LedgerRow } from "../src/store/schema/index.js";

/**
 * Golden costs: each provider's recorded payload, priced by hand below, must cost exactly that on the
 * ledger, streamed (with or without the client asking for usage) and not. Prices are USD per 1M tokens.
 */
interface Golden {
  model: string;
  /** The hand computation, so that a reader can check it. */
  worked: string;
  cost: string;
  providerCost?: string;
  /** The recorded payload to answer with, when not the upstream's default. */
  fixture?: string;
}

const GOLDEN: Golden[] = [
  {
    // prompt 1843 of which cached 1536; completion 199 of which reasoning 192 (billed as output).
    model: "openai/o4-mini",
    worked: "307 × 1.10 + 1536 × 0.275 + 199 × 4.40 = 337.7 + 422.4 + 875.6 = 1635.7 per 1M",
    cost: "0.0016357",
  },
  {
    // input_tokens 21 (uncached), cache_creation_input_tokens 188, cache_read_input_tokens 1800, output 10.
    model: "anthropic/claude-sonnet-4",
    worked: "21 × 3 + 188 × 3.75 + 1800 × 0.30 + 10 × 15 = 63 + 705 + 540 + 150 = 1458 per 1M",
    cost: "0.001458",
  },
  {
    // input_tokens 12 (uncached), cache_read_input_tokens 4000, cache_creation_input_tokens 2500 of which
    // cache_creation.ephemeral_1h_input_tokens 2000 (2x input) and 500 five-minute (1.25x), output 30.
    // Priced from the bundled catalog.
    model: "anthropic/claude-haiku-4-5",
    fixture: "anthropic/message-cache-1h",
    worked: "12 × 1 + 4000 × 0.1 + 500 × 1.25 + 2000 × 2 + 30 × 5 = 12 + 400 + 625 + 4000 + 150 = 5187 per 1M",
    cost: "0.005187",
  },
  {
    // prompt_cache_hit_tokens 1280, prompt_cache_miss_tokens 10, completion 8.
    model: "deepseek/deepseek-chat",
    worked: "10 × 0.28 + 1280 × 0.028 + 8 × 0.42 = 2.8 + 35.84 + 3.36 = 42 per 1M",
    cost: "0.000042",
  },
  {
    // prompt 1234 of which cached 1024; completion 73 of which reasoning 64; OpenRouter reports usage.cost 0.0002241.
    model: "openrouter/openai/gpt-5-mini",
    worked: "210 × 0.25 + 1024 × 0.025 + 73 × 2 = 52.5 + 25.6 + 146 = 224.1 per 1M",
    cost: "0.0002241",
    providerCost: "0.0002241",
  },
  {
    // promptTokenCount 2100 of which cachedContentTokenCount 2048; candidates 40 plus thoughts 120 (billed as
    // output). Priced from the bundled catalog (catalog/prices.yaml), not from this file.
    model: "gemini/gemini-2.5-flash",
    worked: "(2100 − 2048) × 0.3 + 2048 × 0.03 + (40 + 120) × 2.5 = 15.6 + 61.44 + 400 = 477.04 per 1M",
    cost: "0.00047704",
  },
];

describe.each(STORE_KINDS)("golden costs on %s", (kind) => {
  let gw: TestGateway;
  const fakes: FakeUpstream[] = [];
  const byProvider = new Map<string, FakeUpstream>();

  beforeAll(async () => {
    const [openai, anthropic, deepseek, openrouter, gemini] = await Promise.all([
      startFakeUpstream("openai"),
      startFakeUpstream("anthropic"),
      startFakeUpstream("openai", { chatFixture: "deepseek/chat" }),
      startFakeUpstream("openai", { chatFixture: "openrouter/chat" }),
      startFakeUpstream("gemini"),
    ]);
    fakes.push(openai, anthropic, deepseek, openrouter, gemini);
    byProvider.set("anthropic", anthropic).set("openai", openai).set("gemini", gemini);
    gw = await startTestGateway(kind, {
      providers: {
        openai: { type: "openai-compatible", baseUrl: openai.url },
        anthropic: { type: "anthropic", baseUrl: anthropic.url },
        deepseek: { type: "openai-compatible", baseUrl: deepseek.url },
        openrouter: { type: "openai-compatible", baseUrl: openrouter.url },
        gemini: { type: "gemini", baseUrl: gemini.url },
      },
      models: [
        { id: "openai/gpt-4o-audio-preview", price: { input: "2.5", audioInput: "40", output: "10", audioOutput: "80", per: "1M" } },
        { id: "openai/o4-mini", price: { input: "1.10", cachedInput: "0.275", output: "4.40", per: "1M" } },
        { id: "anthropic/claude-sonnet-4", price: { input: "3", cacheWrite: "3.75", cachedInput: "0.30", output: "15", per: "1M" } },
        { id: "anthropic/claude-haiku-4-5" }, // no price: the bundled catalog's applies, 1-hour cache writes and all
        { id: "deepseek/deepseek-chat", price: { input: "0.28", cachedInput: "0.028", output: "0.42", per: "1M" } },
        { id: "openrouter/openai/gpt-5-mini", price: { input: "0.25", cachedInput: "0.025", output: "2", per: "1M" } },
        { id: "gemini/gemini-2.5-flash" }, // no price: the bundled catalog's applies
        { id: "gemini/gemini-2.5-pro" }, // the bundled catalog's, with its tier above 200K prompt tokens
        { id: "anthropic/claude-sonnet-4-5" }, // likewise
      ],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(fakes.map((f) => f.close()));
  });

  async function call(model: string, mode: "plain" | "stream" | "stream-with-usage", fixture?: string, usage?: unknown): Promise<LedgerRow> {
    if (fixture || usage) byProvider.get(model.split("/")[0]!)!.push({ kind: "ok", ...(fixture ? { fixture } : {}), ...(usage ? { usage } : {}) });
    const requestId = `golden-${mode}-${Math.random().toString(36).slice(2)}`;
    const body: Record<string, unknown> = { model, messages: [{ role: "user", content: "What is the capital of France?" }] };
    if (mode !== "plain") body.stream = true;
    if (mode === "stream-with-usage") body.stream_options = { include_usage: true };
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    if (mode !== "plain") expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const row = (await gw.plane.reports.recentCalls(50)).find((r) => r.requestId === requestId);
    if (!row) throw new Error(`no ledger row for ${requestId}`);
    return row;
  }

  for (const golden of GOLDEN) {
    it(`${golden.model}: ${golden.worked} → $${golden.cost}, streamed or not`, async () => {
      for (const mode of ["plain", "stream", "stream-with-usage"] as const) {
        const row = await call(golden.model, mode, golden.fixture);
        expect({ mode, cost: normalize(row.cost), estimated: row.usageEstimated }).toEqual({ mode, cost: golden.cost, estimated: false });
        if (golden.providerCost) expect(normalize(row.providerCost ?? "")).toBe(golden.providerCost);
      }
    });
  }

  it("keeps the 1-hour cache writes on the row, so that its cost can be checked from it", async () => {
    for (const mode of ["plain", "stream"] as const) {
      const row = await call("anthropic/claude-haiku-4-5", mode, "anthropic/message-cache-1h");
      expect({ mode, input: row.inputTokens, cached: row.cachedInputTokens, writes: row.cacheWriteTokens, oneHour: row.cacheWrite1hTokens }).toEqual({
        mode,
        input: 6512,
        cached: 4000,
        writes: 2500,
        oneHour: 2000,
      });
    }
  });

  it("bills audio tokens at their own rates, streamed or not: OpenAI's audio details and Gemini's AUDIO modality", async () => {
    const openaiUsage = {
      prompt_tokens: 1000,
      completion_tokens: 200,
      total_tokens: 1200,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 800 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 150 },
    };
    const geminiUsage = {
      promptTokenCount: 3000,
      cachedContentTokenCount: 1000,
      candidatesTokenCount: 50,
      thoughtsTokenCount: 100,
      totalTokenCount: 3150,
      promptTokensDetails: [
        { modality: "TEXT", tokenCount: 1000 },
        { modality: "AUDIO", tokenCount: 2000 },
      ],
      cacheTokensDetails: [{ modality: "TEXT", tokenCount: 1000 }],
    };
    for (const mode of ["plain", "stream"] as const) {
      // 200 text × 2.5 + 800 audio × 40 + 50 text × 10 + 150 audio × 80 = 500 + 32000 + 500 + 12000 = 45000 per 1M
      const audio = await call("openai/gpt-4o-audio-preview", mode, undefined, openaiUsage);
      expect({ mode, cost: normalize(audio.cost), audioIn: audio.audioInputTokens, audioOut: audio.audioOutputTokens }).toEqual({ mode, cost: "0.045", audioIn: 800, audioOut: 150 });
      // Bundled gemini-2.5-flash: 2000 audio × 1 + 1000 cached × 0.03 + 150 × 2.5 = 2000 + 30 + 375 = 2405 per 1M
      const gemini = await call("gemini/gemini-2.5-flash", mode, undefined, geminiUsage);
      expect({ mode, cost: normalize(gemini.cost), audioIn: gemini.audioInputTokens }).toEqual({ mode, cost: "0.002405", audioIn: 2000 });
    }
  });

  it("charges a long prompt at the provider's higher tier, counting cached tokens in the prompt, streamed or not", async () => {
    const gemini = (prompt: number) => ({ promptTokenCount: prompt, cachedContentTokenCount: 50_000, candidatesTokenCount: 800, thoughtsTokenCount: 200, totalTokenCount: prompt + 1000 });
    // 10,000 fresh tokens, far below 200K, but 210,000 in the prompt with the cache's.
    const claude = { input_tokens: 10_000, cache_creation_input_tokens: 40_000, cache_read_input_tokens: 160_000, output_tokens: 2000 };
    for (const mode of ["plain", "stream"] as const) {
      // Bundled gemini-2.5-pro, 250K prompt tokens: (250000 − 50000) × 2.5 + 50000 × 0.25 + (800 + 200) × 15 = 500000 + 12500 + 15000 = 527500 per 1M
      const long = await call("gemini/gemini-2.5-pro", mode, undefined, gemini(250_000));
      expect({ mode, cost: normalize(long.cost), input: long.inputTokens }).toEqual({ mode, cost: "0.5275", input: 250_000 });
      // 150K prompt tokens: 100000 × 1.25 + 50000 × 0.125 + 1000 × 10 = 125000 + 6250 + 10000 = 141250 per 1M
      const short = await call("gemini/gemini-2.5-pro", mode, undefined, gemini(150_000));
      expect({ mode, cost: normalize(short.cost) }).toEqual({ mode, cost: "0.14125" });
      // Bundled claude-sonnet-4-5 above 200K: 10000 × 6 + 40000 × 7.5 + 160000 × 0.6 + 2000 × 22.5 = 60000 + 300000 + 96000 + 45000 = 501000 per 1M
      const sonnet = await call("anthropic/claude-sonnet-4-5", mode, undefined, claude);
      expect({ mode, cost: normalize(sonnet.cost), input: sonnet.inputTokens }).toEqual({ mode, cost: "0.501", input: 210_000 });
    }
  });

  // Runs last: it changes the OpenRouter model's price.
  it("reconciles Airlock's cost with the provider's own: equal at the right price, and the gap shown when the catalog is wrong", async () => {
    const report = async () => {
      const res = await fetch(`${gw.url}/admin/reports/reconciliation?since=1h`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { lines: Array<{ model: string; calls: number; cost: string; providerCost: string; difference: string; mismatched: number }> };
      return body.lines.find((l) => l.model === "openrouter/openai/gpt-5-mini");
    };
    await call("openrouter/openai/gpt-5-mini", "plain");
    const before = (await report())!;
    expect(before).toMatchObject({ difference: "0", mismatched: 0 });
    expect(before.cost).toBe(before.providerCost);

    // A catalog price twice the real one: the next call costs 0.0004482 here against 0.0002241 there.
    const set = await fetch(`${gw.url}/admin/prices`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "openrouter/openai/gpt-5-mini", price: { input: "0.5", cachedInput: "0.05", output: "4", per: "1M" } }),
    });
    expect(set.status).toBe(200);
    expect((await call("openrouter/openai/gpt-5-mini", "plain")).cost).toBe("0.000448200000");
    const after = (await report())!;
    expect(after).toMatchObject({ calls: before.calls + 1, mismatched: 1, difference: "-0.0002241" });
  });
});

/** `0.001635700000` → `0.0016357`: the column's scale is storage, not meaning. */
function normalize(decimal: string): string {
  return decimal.includes(".") ? decimal.replace(/0+$/, "").replace(/\.$/, "") : decimal;
}
