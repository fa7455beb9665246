import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * A schema repair is a second upstream request on the same ledger row. Each request is billed as the
 * provider bills it: its own long-context tier (by its own prompt, not the two prompts added up) and its
 * own request fee. Prices are USD per 1M tokens.
 */
const SCHEMA = "{city: string}";
const INVALID = '{"town": "Paris"}';
const VALID = '{"city": "Paris"}';

describe.each(STORE_KINDS)("schema repairs priced request by request on %s", (kind) => {
  let gw: TestGateway;
  let anthropic: FakeUpstream;
  let openai: FakeUpstream;

  beforeAll(async () => {
    [anthropic, openai] = await Promise.all([startFakeUpstream("anthropic"), startFakeUpstream("openai")]);
    gw = await startTestGateway(kind, {
      providers: { anthropic: { type: "anthropic", baseUrl: anthropic.url, apiKey: "k" }, oai: { type: "openai-compatible", baseUrl: openai.url } },
      models: [
        { id: "anthropic/claude-sonnet-4-5" }, // the bundled catalog's price, with its tier above 200K prompt tokens
        { id: "oai/fee-model", price: { input: "1", output: "2", request: "0.01", per: "1M" } },
      ],
      operations: {
        city_long: { model: "anthropic/claude-sonnet-4-5", outputSchema: SCHEMA },
        city_fee: { model: "oai/fee-model", outputSchema: SCHEMA },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([anthropic?.close(), openai?.close()]);
  });

  async function repaired(operation: string): Promise<{ cost: string; header: string | null; attempts: number; input: number }> {
    const { data, response } = await gw
      .client()
      .chat.completions.create({ model: operation, messages: [{ role: "user", content: "Which city is the capital of France?" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe(VALID);
    const row = await recordedRow(gw, response.headers.get("x-request-id"));
    return { cost: row.cost.replace(/0+$/, "").replace(/\.$/, ""), header: response.headers.get("x-airlock-cost"), attempts: row.attemptCount, input: row.inputTokens };
  }

  it("charges each request at its own tier: two 110K-token prompts are not one 220K-token prompt", async () => {
    const usage = { input_tokens: 110_000, output_tokens: 100 };
    anthropic.push({ kind: "ok", content: INVALID, usage }, { kind: "ok", content: VALID, usage });
    // Each below 200K: 2 × (110000 × 3 + 100 × 15) = 2 × 331500 = 663000 per 1M
    expect(await repaired("city_long")).toEqual({ cost: "0.663", header: "0.663", attempts: 2, input: 220_000 });
  });

  it("charges the request fee once per request, the repair's too", async () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 10, total_tokens: 1010 };
    openai.push({ kind: "ok", content: INVALID, usage }, { kind: "ok", content: VALID, usage });
    // 2 × ((1000 × 1 + 10 × 2) / 1M + 0.01) = 2 × 0.01102 = 0.02204
    expect(await repaired("city_fee")).toEqual({ cost: "0.02204", header: "0.02204", attempts: 2, input: 2000 });
  });
});
