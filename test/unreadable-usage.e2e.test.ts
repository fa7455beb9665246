import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeFlavor, FakeUpstream } from "./fakes/upstream.js";
import { gatewayOnEveryFlavor, recordedRow, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * An upstream that answers 200 with a usage object whose counts cannot be read has reported no usage:
 * the call is estimated and flagged, never booked as free. A usage with good totals and odd details is
 * still the upstream's own.
 */
const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];

const UNREADABLE: Record<FakeFlavor, Array<[string, unknown]>> = {
  openai: [
    ["an empty object", {}],
    ["null counts", { prompt_tokens: null, completion_tokens: null, total_tokens: null }],
    ["counts as strings", { prompt_tokens: "120", completion_tokens: "8", total_tokens: "128" }],
    ["only a total", { total_tokens: 128 }],
    ["negative counts", { prompt_tokens: -120, completion_tokens: -8, total_tokens: -128 }],
  ],
  anthropic: [
    ["an empty object", {}],
    ["counts as strings", { input_tokens: "21", output_tokens: "10" }],
    ["a cache count as a string", { input_tokens: 21, cache_read_input_tokens: "1800", output_tokens: 10 }],
  ],
  gemini: [
    ["an empty object", {}],
    ["counts as strings", { promptTokenCount: "12", candidatesTokenCount: "8", totalTokenCount: "20" }],
    ["a negative thoughts count", { promptTokenCount: 12, candidatesTokenCount: 8, thoughtsTokenCount: -3 }],
  ],
};

const MODEL: Record<FakeFlavor, string> = { openai: "oai/o4-mini", anthropic: "claude/sonnet", gemini: "gem/flash" };

describe.each(STORE_KINDS)("usage without readable counts on %s", (kind) => {
  let gw: TestGateway;
  let fakes: Record<FakeFlavor, FakeUpstream>;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const priced = (id: string) => ({ id, price: { input: "1", output: "2", per: "1M" as const } });
    ({ gw, fakes, close } = await gatewayOnEveryFlavor(kind, { openai: priced(MODEL.openai), anthropic: priced(MODEL.anthropic), gemini: priced(MODEL.gemini) }));
  });
  afterAll(async () => {
    await close?.();
  });

  async function call(flavor: FakeFlavor, usage: unknown, stream: boolean) {
    fakes[flavor].push({ kind: "ok", usage });
    const client = gw.client();
    if (!stream) {
      const { response } = await client.chat.completions.create({ model: MODEL[flavor], messages: MESSAGES }).withResponse();
      return recordedRow(gw, response.headers.get("x-request-id"));
    }
    const { data, response } = await client.chat.completions.create({ model: MODEL[flavor], messages: MESSAGES, stream: true }).withResponse();
    for await (const _ of data) void _;
    return recordedRow(gw, response.headers.get("x-request-id"));
  }

  for (const flavor of ["openai", "anthropic", "gemini"] as const) {
    for (const [what, usage] of UNREADABLE[flavor]) {
      it(`${flavor}: usage with ${what} is estimated and flagged, streamed or not`, async () => {
        for (const stream of [false, true]) {
          const row = await call(flavor, usage, stream);
          expect({ stream, outcome: row.outcome, estimated: row.usageEstimated }).toEqual({ stream, outcome: "success", estimated: true });
          expect(row.inputTokens).toBeGreaterThan(0);
          expect(row.outputTokens).toBeGreaterThan(0);
          expect(Number(row.cost)).toBeGreaterThan(0);
        }
      });
    }
  }

  it("openai: good totals with odd details are the upstream's own, not estimated", async () => {
    const usage = { prompt_tokens: 120, completion_tokens: 8, prompt_tokens_details: { cached_tokens: "lots" }, completion_tokens_details: null };
    for (const stream of [false, true]) {
      const row = await call("openai", usage, stream);
      expect(row).toMatchObject({ outcome: "success", usageEstimated: false, inputTokens: 120, outputTokens: 8, cachedInputTokens: 0 });
      // 120 × 1 + 8 × 2 = 136 per 1M
      expect(row.cost).toBe("0.000136000000");
    }
  });
});
