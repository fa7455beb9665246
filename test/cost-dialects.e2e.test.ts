import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { tokenizerReady } from "./support/tokenizer.js";
import type { LedgerRow } from "../src/store/schema/index.js";

/**
 * Usage dialects of OpenAI-compatible upstreams that differ from OpenAI's own, each recorded as the
 * upstream sends it, through the `openai` client: every token must be billed once, at its rate, streamed
 * or not, and the row's cost must be what the spend report adds up. Prices are USD per 1M tokens.
 */
const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];
const PRICE = { input: "0.2", cachedInput: "0.05", output: "0.5", per: "1M" } as const;

beforeAll(tokenizerReady, 90_000);

describe.each(STORE_KINDS)("usage dialects on %s", (kind) => {
  let gw: TestGateway;
  let upstream: FakeUpstream;

  beforeAll(async () => {
    upstream = await startFakeUpstream("openai");
    gw = await startTestGateway(kind, {
      providers: { xai: { type: "openai-compatible", baseUrl: upstream.url } },
      models: [
        { id: "xai/grok-3-mini", price: PRICE },
        { id: "xai/embed", kind: "embedding", price: { input: "0.02", output: "0", per: "1M" } },
      ],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  async function call(usage: unknown, stream: boolean): Promise<{ row: LedgerRow; header: string | null; reported: { prompt_tokens: number; completion_tokens: number } | undefined }> {
    upstream.push({ kind: "ok", usage });
    const client = gw.client();
    if (!stream) {
      const { data, response } = await client.chat.completions.create({ model: "xai/grok-3-mini", messages: MESSAGES }).withResponse();
      return { row: await recordedRow(gw, response.headers.get("x-request-id")), header: response.headers.get("x-airlock-cost"), reported: data.usage };
    }
    const { data, response } = await client.chat.completions.create({ model: "xai/grok-3-mini", messages: MESSAGES, stream: true, stream_options: { include_usage: true } }).withResponse();
    let reported: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of data) if (chunk.usage) reported = chunk.usage;
    return { row: await recordedRow(gw, response.headers.get("x-request-id")), header: null, reported };
  }

  it("bills reasoning that an upstream counts outside completion_tokens (xAI: total = prompt + completion + reasoning)", async () => {
    // xAI's grok-3-mini, as recorded: completion_tokens is the answer alone, total_tokens adds reasoning.
    const xai = {
      prompt_tokens: 32,
      completion_tokens: 9,
      total_tokens: 341,
      prompt_tokens_details: { text_tokens: 32, audio_tokens: 0, image_tokens: 0, cached_tokens: 6 },
      completion_tokens_details: { reasoning_tokens: 300, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    // A reasoning count under the answer's, which only total_tokens tells apart from OpenAI's inclusive form.
    const smaller = { prompt_tokens: 500, completion_tokens: 500, total_tokens: 1200, completion_tokens_details: { reasoning_tokens: 200 } };
    for (const stream of [false, true]) {
      // 26 × 0.2 + 6 × 0.05 + (9 + 300) × 0.5 = 5.2 + 0.3 + 154.5 = 160 per 1M
      const a = await call(xai, stream);
      expect({ stream, cost: normalize(a.row.cost), out: a.row.outputTokens, reasoning: a.row.reasoningTokens, estimated: a.row.usageEstimated }).toEqual({
        stream,
        cost: "0.00016",
        out: 309,
        reasoning: 300,
        estimated: false,
      });
      expect(a.reported?.completion_tokens).toBe(309);
      // 500 × 0.2 + 700 × 0.5 = 100 + 350 = 450 per 1M
      const b = await call(smaller, stream);
      expect({ stream, cost: normalize(b.row.cost), out: b.row.outputTokens }).toEqual({ stream, cost: "0.00045", out: 700 });
    }
  });

  it("keeps OpenAI's inclusive form as it is: reasoning inside completion_tokens is not billed twice", async () => {
    const openai = { prompt_tokens: 500, completion_tokens: 500, total_tokens: 1000, completion_tokens_details: { reasoning_tokens: 200 } };
    for (const stream of [false, true]) {
      // 500 × 0.2 + 500 × 0.5 = 100 + 250 = 350 per 1M
      const { row } = await call(openai, stream);
      expect({ stream, cost: normalize(row.cost), out: row.outputTokens, reasoning: row.reasoningTokens }).toEqual({ stream, cost: "0.00035", out: 500, reasoning: 200 });
    }
  });

  it("reads Responses-style usage (input_tokens, output_tokens and their details) instead of estimating it", async () => {
    const responses = {
      input_tokens: 1843,
      input_tokens_details: { cached_tokens: 1536 },
      output_tokens: 199,
      output_tokens_details: { reasoning_tokens: 192 },
      total_tokens: 2042,
    };
    for (const stream of [false, true]) {
      // 307 × 0.2 + 1536 × 0.05 + 199 × 0.5 = 61.4 + 76.8 + 99.5 = 237.7 per 1M
      const { row, reported } = await call(responses, stream);
      expect({ stream, cost: normalize(row.cost), estimated: row.usageEstimated, cached: row.cachedInputTokens, reasoning: row.reasoningTokens }).toEqual({
        stream,
        cost: "0.0002377",
        estimated: false,
        cached: 1536,
        reasoning: 192,
      });
      expect(reported).toMatchObject({ prompt_tokens: 1843, completion_tokens: 199 });
    }
  });

  it("estimates and flags embeddings whose upstream reports zero prompt tokens, rather than booking them free", async () => {
    // A placeholder some OpenAI-compatible servers send: no input is zero tokens long.
    upstream.push({ kind: "ok", usage: { prompt_tokens: 0, total_tokens: 0 } });
    const { response } = await gw.client().embeddings.create({ model: "xai/embed", input: ["Hello, world!", "The capital of France is Paris."] }).withResponse();
    const row = await recordedRow(gw, response.headers.get("x-request-id"));
    // o200k_base: 4 + 7 tokens, at $0.02 per 1M
    expect({ estimated: row.usageEstimated, input: row.inputTokens, cost: normalize(row.cost) }).toEqual({ estimated: true, input: 11, cost: "0.00000022" });
  });

  it("gives each call one cost: the header, /admin/calls and the spend report's total agree with the rows", async () => {
    const { row, header } = await call({ prompt_tokens: 1234, completion_tokens: 56, total_tokens: 1290, prompt_tokens_details: { cached_tokens: 1024 } }, false);
    expect(header).toBe(normalize(row.cost));
    const admin = async (path: string) => {
      const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
      expect(res.status).toBe(200);
      return res.json() as Promise<Record<string, unknown>>;
    };
    const calls = (await admin("/admin/calls?limit=200")) as { data?: Array<{ id: string; cost: string }> };
    const listed = (calls.data ?? (calls as unknown as Array<{ id: string; cost: string }>)).find((c) => c.id === row.id);
    expect(normalize(String(listed?.cost))).toBe(normalize(row.cost));
    const rows = await gw.plane.reports.recentCalls(200);
    const sum = rows.reduce((total, r) => total + units(r.cost), 0n);
    const spend = (await admin("/admin/spend?by=model&since=1h")) as { total?: string; lines?: Array<{ cost: string }> };
    expect(units(String(spend.total))).toBe(sum);
    expect((spend.lines ?? []).reduce((total, l) => total + units(l.cost), 0n)).toBe(sum);
    // The dashboard's overview reads other rollups (by outcome, by endpoint): the same total.
    const overview = (await admin("/admin/overview?since=1h")) as { cost?: string; chat?: { cost?: string } };
    expect(units(String(overview.cost))).toBe(sum);
    expect(units(String(overview.chat?.cost))).toBe(rows.filter((r) => r.endpoint === "chat").reduce((total, r) => total + units(r.cost), 0n));
  });
});

/** `0.001635700000` → `0.0016357`: the column's scale is storage, not meaning. */
function normalize(decimal: string): string {
  return decimal.includes(".") ? decimal.replace(/0+$/, "").replace(/\.$/, "") : decimal;
}

/** An exact decimal in units of 10^-12 dollars. */
function units(decimal: string): bigint {
  const [whole, fraction = ""] = decimal.split(".");
  return BigInt(whole! + fraction.padEnd(12, "0").slice(0, 12));
}
