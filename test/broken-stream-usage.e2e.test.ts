import { Decimal } from "decimal.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { countTokens } from "../src/calls/token-counter.js";
import { startFakeUpstream, type FakeScenario, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { tokenizerReady } from "./support/tokenizer.js";

/**
 * A stream that breaks, or that its client leaves, is billed from the usage its upstream had reported
 * by then: with its cache discounts and reasoning, not a guess at full price. Only what the upstream had
 * not counted yet (Anthropic's output before message_delta) is estimated, and then the row says so.
 * Prices are USD per 1M tokens.
 */
const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];

describe.each(STORE_KINDS)("usage of a broken stream on %s", (kind) => {
  let gw: TestGateway;
  const fakes: Record<"openai" | "anthropic" | "slowAnthropic" | "gemini", FakeUpstream> = {} as never;

  beforeAll(async () => {
    await tokenizerReady();
    [fakes.openai, fakes.anthropic, fakes.slowAnthropic, fakes.gemini] = await Promise.all([
      startFakeUpstream("openai"),
      startFakeUpstream("anthropic"),
      // 150 ms between events: time enough for a client to leave after its first chunks.
      startFakeUpstream("anthropic", { chunkDelayMs: 150 }),
      startFakeUpstream("gemini"),
    ]);
    const claude = { input: "3", cacheWrite: "3.75", cachedInput: "0.30", output: "15", per: "1M" as const };
    gw = await startTestGateway(kind, {
      providers: {
        openai: { type: "openai-compatible", baseUrl: fakes.openai.url },
        anthropic: { type: "anthropic", baseUrl: fakes.anthropic.url, apiKey: "k" },
        slow: { type: "anthropic", baseUrl: fakes.slowAnthropic.url, apiKey: "k" },
        gemini: { type: "gemini", baseUrl: fakes.gemini.url, apiKey: "k" },
      },
      models: [
        { id: "openai/o4-mini", price: { input: "1.10", cachedInput: "0.275", output: "4.40", per: "1M" } },
        { id: "anthropic/claude-sonnet-4", price: claude },
        { id: "slow/claude-sonnet-4", price: claude },
        { id: "gemini/gemini-2.5-flash", price: { input: "0.3", cachedInput: "0.03", output: "2.5", per: "1M" } },
      ],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(Object.values(fakes).map((f) => f.close()));
  });

  /** Streams one call whose upstream acts out `scenario`; the client reads to the end, the error event included. */
  async function brokenStream(upstream: FakeUpstream, model: string, scenario: FakeScenario) {
    upstream.push(scenario);
    const requestId = `broken-${Math.random().toString(36).slice(2)}`;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ model, messages: MESSAGES, stream: true }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    // The client was told the stream broke: an error event, no [DONE].
    expect(text).toContain('"code":"provider_error"');
    expect(text).not.toContain("[DONE]");
    return recordedRow(gw, requestId);
  }

  const micro = (perMillion: Decimal.Value) => new Decimal(perMillion).div(1_000_000);

  it("OpenAI: the usage chunk came, then the connection dropped before [DONE]: the row is billed from it, not estimated", async () => {
    const row = await brokenStream(fakes.openai, "openai/o4-mini", { kind: "cutAfterUsage" });
    expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", usageEstimated: false });
    expect(row).toMatchObject({ inputTokens: 1843, cachedInputTokens: 1536, outputTokens: 199, reasoningTokens: 192 });
    // 307 × 1.10 + 1536 × 0.275 + 199 × 4.40 = 1635.7 per 1M, as the whole stream costs
    expect(new Decimal(row.cost).equals(micro("1635.7"))).toBe(true);
  });

  it("Anthropic: an overloaded_error event mid-stream keeps message_start's input side with its cache split; the output is estimated and flagged", async () => {
    const row = await brokenStream(fakes.anthropic, "anthropic/claude-sonnet-4", { kind: "ok", fixture: "anthropic/overloaded-midstream" });
    expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", usageEstimated: true });
    // The attempt that opened the stream is not recorded as one that answered.
    expect(row.attempts.map((a) => [a.outcome, a.reason ?? null])).toEqual([["error", "protocol"]]);
    // input_tokens 21 + cache_creation_input_tokens 188 + cache_read_input_tokens 1800
    expect(row).toMatchObject({ inputTokens: 2009, cachedInputTokens: 1800, cacheWriteTokens: 188, reasoningTokens: 0 });
    const [generated] = await countTokens(["The capital of France"]);
    expect(row.outputTokens).toBe(Math.max(1, generated!));
    // 21 × 3 + 188 × 3.75 + 1800 × 0.30 + output × 15
    expect(new Decimal(row.cost).equals(micro(1308 + 15 * row.outputTokens))).toBe(true);
  });

  it("Anthropic: a client that leaves mid-stream is billed from message_start's input side, at its cache prices", async () => {
    const { data: stream, response } = await gw.client().chat.completions.create({ model: "slow/claude-sonnet-4", messages: MESSAGES, stream: true }).withResponse();
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (received === 2) break; // leaves: the SDK aborts the HTTP request
    }
    const row = await recordedRow(gw, response.headers.get("x-request-id"));
    expect(row).toMatchObject({ outcome: "error", errorCode: "client_closed", httpStatus: 499, usageEstimated: true });
    expect(row.attempts.map((a) => [a.outcome, a.reason ?? null])).toEqual([["error", "client_closed"]]);
    expect(row).toMatchObject({ inputTokens: 2009, cachedInputTokens: 1800, cacheWriteTokens: 188 });
    expect(row.outputTokens).toBeGreaterThanOrEqual(2);
    expect(new Decimal(row.cost).equals(micro(1308 + 15 * row.outputTokens))).toBe(true);
  });

  it("Anthropic: a client that leaves before the first chunk (the model still thinking) is billed message_start's input side, not $0", async () => {
    const requestId = `unopened-${Math.random().toString(36).slice(2)}`;
    const asked = fakes.slowAnthropic.requests.length;
    const leaving = new AbortController();
    const sent = gw
      .client()
      .chat.completions.create({ model: "slow/claude-sonnet-4", messages: MESSAGES, stream: true }, { signal: leaving.signal, headers: { "x-request-id": requestId } })
      .catch((err: unknown) => err);
    await vi.waitFor(() => expect(fakes.slowAnthropic.requests.length).toBe(asked + 1));
    // message_start has come; the first text is 450 ms away (content_block_start, ping, then the delta, 150 ms apart).
    await new Promise((resolve) => setTimeout(resolve, 200));
    leaving.abort();
    expect(await sent).toBeInstanceOf(Error);

    const row = await recordedRow(gw, requestId);
    expect(row).toMatchObject({ outcome: "error", errorCode: "client_closed", httpStatus: 499, usageEstimated: true, ttftMs: null });
    expect(row).toMatchObject({ inputTokens: 2009, cachedInputTokens: 1800, cacheWriteTokens: 188, outputTokens: 1 });
    // 21 × 3 + 188 × 3.75 + 1800 × 0.30 + message_start's 1 output token × 15
    expect(new Decimal(row.cost).equals(micro(1308 + 15))).toBe(true);
  });

  it("Gemini: a stream cut before its finishReason is billed from the last usageMetadata, cache and thinking included", async () => {
    const row = await brokenStream(fakes.gemini, "gemini/gemini-2.5-flash", { kind: "cutAfterUsage" });
    expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", usageEstimated: false });
    // promptTokenCount 2100 (2048 cached); candidatesTokenCount 28 + thoughtsTokenCount 120 so far
    expect(row).toMatchObject({ inputTokens: 2100, cachedInputTokens: 2048, outputTokens: 148, reasoningTokens: 120 });
    // 52 × 0.3 + 2048 × 0.03 + 148 × 2.5 = 15.6 + 61.44 + 370 = 447.04 per 1M
    expect(new Decimal(row.cost).equals(micro("447.04"))).toBe(true);
  });
});
