import { afterEach, describe, expect, it } from "vitest";
import { fakeUpstreamHarness } from "../../../test/fakes/harness.js";
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamOptions } from "../../../test/fakes/upstream.js";
import { Cancellation } from "../../core/cancel.js";
import { openAICompatibleConfig, type OpenAICompatibleConfig } from "../../config/providers.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_REQUEST, describeProviderConformance } from "../provider.conformance.js";
import type { StreamEvent, Usage } from "../spec.js";
import { OpenAICompatibleProvider } from "./provider.js";
import { normalizeOpenAIUsage, providerCost } from "./usage.js";

const ANSWER = "The capital of France is Paris.";
const OPENAI_USAGE: Usage = { inputTokens: 1843, outputTokens: 199, cachedInputTokens: 1536, cacheWriteTokens: 0, reasoningTokens: 192 };
const DEEPSEEK_USAGE: Usage = { inputTokens: 1290, outputTokens: 8, cachedInputTokens: 1280, cacheWriteTokens: 0, reasoningTokens: 0 };
const OPENROUTER_USAGE: Usage = {
  inputTokens: 1234,
  outputTokens: 73,
  cachedInputTokens: 1024,
  cacheWriteTokens: 0,
  reasoningTokens: 64,
  providerCost: "0.0002241",
};

function build(name: string, baseUrl: string, extra: Partial<OpenAICompatibleConfig> = {}): OpenAICompatibleProvider {
  const config = openAICompatibleConfig.parse({ type: "openai-compatible", baseUrl, apiKey: "sk-test-7f3a9c", ...extra });
  return new OpenAICompatibleProvider(name, config);
}

for (const [name, fixture, usage] of [
  ["openai", "openai/chat", OPENAI_USAGE],
  ["deepseek", "deepseek/chat", DEEPSEEK_USAGE],
  ["openrouter", "openrouter/chat", OPENROUTER_USAGE],
] as const) {
  describeProviderConformance(
    fakeUpstreamHarness({
      label: `openai-compatible (${fixture})`,
      flavor: "openai",
      fixture,
      embeddings: true,
      // An OpenAI-compatible upstream reads every OpenAI feature itself: all are passed on.
      features: { n: "sent", logprobs: "sent", legacyFunctions: "sent", functionMessage: "sent", imageUrl: "sent", pdfFile: "sent", inputAudio: "sent", seed: "sent", penalties: "sent", logitBias: "sent", audioOutput: "sent", singleToolCall: "sent", neutralValues: "sent", whitespaceStop: "sent", reasoningEffort: "sent" },
      expected: {
        content: ANSWER,
        usage,
        // Cut before [DONE]: the usage chunk had come, whole.
        usageAtCut: { usage, outputCounted: true },
        embeddingUsage: { inputTokens: 9, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      },
      build: (baseUrl, overrides) => build(name, baseUrl, overrides),
    }),
  );
}

describe("openai-compatible adapter", () => {
  let fake: FakeUpstream;
  let provider: OpenAICompatibleProvider | undefined;
  const signal = (): AbortSignal => new AbortController().signal;
  const setup = async (options: FakeUpstreamOptions = {}, extra: Partial<OpenAICompatibleConfig> = {}): Promise<OpenAICompatibleProvider> => {
    fake = await startFakeUpstream("openai", options);
    provider = build("openai", fake.url, extra);
    return provider;
  };
  afterEach(async () => {
    await provider?.close();
    await fake?.close();
    provider = undefined;
  });

  it("always asks for usage on streams, overriding the caller, and keeps the rest of the body as sent", async () => {
    const p = await setup();
    const request = { ...CONFORMANCE_REQUEST, stream_options: { include_usage: false }, seed: 7, tools: [{ type: "function", function: { name: "f" } }] };
    await drain(await p.stream(request, { signal: signal() }));
    expect(fake.requests[0]!.path).toBe("/v1/chat/completions");
    expect(fake.requests[0]!.body).toEqual({ ...request, stream: true, stream_options: { include_usage: true } });
  });

  it("listens to the call's Cancellation itself and never asks for an AbortSignal, answering or cancelled", async () => {
    const p = await setup();
    class CountingCancellation extends Cancellation {
      signalReads = 0;
      override get signal(): AbortSignal {
        this.signalReads++;
        return super.signal;
      }
    }
    const answered = new CountingCancellation();
    expect((await p.chat(CONFORMANCE_REQUEST, answered)).choices[0]?.message.content).toBe(ANSWER);
    await drain(await p.stream(CONFORMANCE_REQUEST, answered));
    fake.push({ kind: "hang" });
    const cancelled = new CountingCancellation();
    const reason = new Error("client went away");
    setTimeout(() => cancelled.cancellation.abort(reason), 20);
    await expect(p.chat(CONFORMANCE_REQUEST, cancelled)).rejects.toBe(reason);
    expect(answered.signalReads + cancelled.signalReads).toBe(0);
  });

  it("reuses the upstream connection for the next call after a stream read up to [DONE]", async () => {
    // The body ends 20 ms after [DONE]: the consumer stops first, and the rest must still be read.
    const p = await setup({ chunkDelayMs: 20 });
    for (let i = 0; i < 3; i++) {
      const events = await drain(await p.stream(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(events.at(-1)?.type).toBe("usage");
      // The stream's last bytes (after [DONE]) are read in the background before the connection is free.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(fake.requests).toHaveLength(3);
    expect(fake.connections).toBe(1);
  });

  it("forwards a chat request as is, without a pass-through stream flag", async () => {
    const p = await setup();
    await p.chat({ ...CONFORMANCE_REQUEST, stream: true, response_format: { type: "json_object" } }, { signal: signal() });
    expect(fake.requests[0]!.body).toEqual({ ...CONFORMANCE_REQUEST, response_format: { type: "json_object" } });
  });

  it("sends OpenAI's reasoning models their output limit as max_completion_tokens, which they take, not max_tokens, which they refuse", async () => {
    const p = await setup();
    await p.chat({ ...CONFORMANCE_REQUEST, model: "gpt-5-mini" }, { signal: signal() });
    await drain(await p.stream({ ...CONFORMANCE_REQUEST, model: "o3" }, { signal: signal() }));
    await p.chat({ ...CONFORMANCE_REQUEST, model: "o4-mini", max_completion_tokens: 32 }, { signal: signal() });
    await p.chat({ ...CONFORMANCE_REQUEST, model: "gpt-4.1" }, { signal: signal() });
    const limits = fake.requests.map((r) => [r.body.model, r.body.max_tokens, r.body.max_completion_tokens]);
    expect(limits).toEqual([
      ["gpt-5-mini", undefined, 64],
      ["o3", undefined, 64],
      ["o4-mini", undefined, 32],
      ["gpt-4.1", 64, undefined],
    ]);
  });

  it("sends the bearer key and the configured headers", async () => {
    const p = await setup({}, { headers: { "HTTP-Referer": "https://airlock.example", "X-Title": "Airlock" } });
    await p.chat(CONFORMANCE_REQUEST, { signal: signal() });
    const headers = fake.requests[0]!.headers;
    expect(headers.authorization).toBe("Bearer sk-test-7f3a9c");
    expect(headers["http-referer"]).toBe("https://airlock.example");
    expect(headers["x-title"]).toBe("Airlock");
    expect(headers["content-type"]).toBe("application/json");
  });

  it("sends no Authorization header when no key is configured (local Ollama, vLLM)", async () => {
    fake = await startFakeUpstream("openai");
    provider = new OpenAICompatibleProvider("ollama", openAICompatibleConfig.parse({ type: "openai-compatible", baseUrl: fake.url }));
    await provider.chat(CONFORMANCE_REQUEST, { signal: signal() });
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("keeps the key out of error messages", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 401 });
    const err = await p.chat(CONFORMANCE_REQUEST, { signal: signal() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "http", status: 401, isRetryable: false, providerCode: "invalid_api_key" });
    expect(String((err as Error).message)).not.toContain("sk-test-7f3a9c");
  });

  it("reads OpenAI's default 429 retry-after header", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 429 });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ status: 429, retryAfterMs: 1000, providerCode: "rate_limit_exceeded" });
  });

  it("classifies a proxy's HTML error page by its status", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 502, body: "<html><body>502 Bad Gateway</body></html>" });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ kind: "http", status: 502, isRetryable: true });
  });

  it("carries OpenRouter's cost through chat and stream as the exact decimal string", async () => {
    const p = await setup({ chatFixture: "openrouter/chat" });
    const result = await p.chat(CONFORMANCE_REQUEST, { signal: signal() });
    expect(result.usage.providerCost).toBe("0.0002241");
    const events = await drain(await p.stream(CONFORMANCE_REQUEST, { signal: signal() }));
    expect(events.at(-1)).toEqual({ type: "usage", usage: OPENROUTER_USAGE });
  });

  it("keeps the upstream's id, model and fingerprint", async () => {
    const p = await setup();
    const result = await p.chat(CONFORMANCE_REQUEST, { signal: signal() });
    expect(result).toMatchObject({
      id: "chatcmpl-C3bQd8Zk1mT4vXyRf7uNh2LsPqW9e",
      model: "o4-mini-2025-04-16",
      created: 1754925061,
      system_fingerprint: "fp_7d2b3f1c8e",
    });
    expect(result.choices[0]!.finish_reason).toBe("stop");
  });

  it("asked for chunks as text, passes each content chunk on so, and parses the chunks it must read: usage, tool calls", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "openai/chat" }, { kind: "ok", fixture: "openai/tool-calls" }, { kind: "ok", fixture: "openai/chat" });
    const asText = { signal: signal(), chunksAsText: true };
    const plain = await drain(await p.stream(CONFORMANCE_REQUEST, asText));
    const wires = plain.flatMap((e) => (e.type === "wire" ? e.chunks : []));
    expect(wires.length).toBeGreaterThan(2);
    expect(plain.filter((e) => e.type === "chunk")).toHaveLength(0);
    expect(wires.flatMap((w) => w.contents).join("")).toBe(ANSWER);
    const tools = await drain(await p.stream(CONFORMANCE_REQUEST, asText));
    const withCalls = tools.flatMap((e) => (e.type === "chunk" && e.chunk.choices.some((c) => c.delta.tool_calls) ? [e] : []));
    expect(withCalls.length).toBeGreaterThan(0);
    expect(tools.flatMap((e) => (e.type === "wire" ? e.chunks : [])).some((w) => w.text.includes("tool_calls"))).toBe(false);
    // Not asked, it parses every chunk.
    const objects = await drain(await p.stream(CONFORMANCE_REQUEST, { signal: signal() }));
    expect(objects.filter((e) => e.type === "chunk")).toHaveLength(wires.length);
    expect(objects.some((e) => e.type === "wire")).toBe(false);
  });

  it("turns an error payload mid-stream (OpenRouter) into a protocol ProviderError after the chunks before it", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "openrouter/stream-error" });
    const iterator = (await p.stream(CONFORMANCE_REQUEST, { signal: signal() }))[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ type: "chunk" });
    expect((await iterator.next()).value).toMatchObject({ type: "chunk" });
    const err = await iterator.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: "protocol", providerCode: "server_error" });
  });

  it("marks an error object in a 200 answer fallbackable when it says the provider failed or is overloaded, never retryable", async () => {
    const p = await setup();
    fake.push(
      { kind: "body", body: { error: { code: 502, message: "Provider returned error" } } },
      { kind: "body", body: { error: { code: "overloaded", message: "The model is overloaded. Please try again later." } } },
      { kind: "body", body: { error: { code: "invalid_prompt", message: "Your prompt was flagged" } } },
    );
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ kind: "protocol", providerCode: "502", fallbackable: true, isRetryable: false });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ kind: "protocol", fallbackable: true, isRetryable: false });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ kind: "protocol", fallbackable: false });
  });

  it("treats a stream that ends without [DONE] as broken", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "openai/truncated" });
    const err = await drain(await p.stream(CONFORMANCE_REQUEST, { signal: signal() })).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "protocol" });
  });

  it("applies timeoutMs to streams as an idle timeout, not a cap on total length", async () => {
    const slow = await setup({ chunkDelayMs: 15 }, { timeoutMs: 150 });
    const events = await drain(await slow.stream(CONFORMANCE_REQUEST, { signal: signal() }));
    expect(events.at(-1)).toEqual({ type: "usage", usage: OPENAI_USAGE }); // ~11 events × 15 ms > 150 ms in total
    await slow.close();
    await fake.close();

    const patient = await setup({}, { timeoutMs: 40 });
    const consumed: StreamEvent[] = [];
    for await (const event of await patient.stream(CONFORMANCE_REQUEST, { signal: signal() })) {
      if (consumed.push(event) === 1) await new Promise((resolve) => setTimeout(resolve, 80)); // a slow client is not a silent upstream
    }
    expect(consumed.at(-1)).toEqual({ type: "usage", usage: OPENAI_USAGE });
    await patient.close();
    await fake.close();

    const stalled = await setup({ chunkDelayMs: 200 }, { timeoutMs: 40 });
    const err = await drain(await stalled.stream(CONFORMANCE_REQUEST, { signal: signal() })).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "timeout", isRetryable: true });
  });
});

describe("normalizeOpenAIUsage", () => {
  it("returns undefined when the upstream sent no usage", () => {
    expect(normalizeOpenAIUsage(undefined)).toBeUndefined();
    expect(normalizeOpenAIUsage(null)).toBeUndefined();
  });

  it.each([
    ["an empty object", {}],
    ["null counts", { prompt_tokens: null, completion_tokens: null }],
    ["counts as strings", { prompt_tokens: "120", completion_tokens: "8" }],
    ["only a total", { total_tokens: 128 }],
    ["a negative count", { prompt_tokens: 120, completion_tokens: -8 }],
  ])("reads usage with %s as no usage", (_, raw) => {
    expect(normalizeOpenAIUsage(raw)).toBeUndefined();
  });

  it("keeps good totals with odd details, reading the details as 0", () => {
    expect(normalizeOpenAIUsage({ prompt_tokens: 120, completion_tokens: 8, prompt_tokens_details: { cached_tokens: "64" }, completion_tokens_details: { reasoning_tokens: -1 } })).toEqual({
      inputTokens: 120,
      outputTokens: 8,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
  });

  it("breaks out audio tokens in and out (gpt-4o-audio-preview), which are billed at their own rates", () => {
    const raw = {
      prompt_tokens: 1000,
      completion_tokens: 200,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 800, text_tokens: 200 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 150, text_tokens: 50 },
    };
    expect(normalizeOpenAIUsage(raw)).toEqual({ inputTokens: 1000, outputTokens: 200, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioInputTokens: 800, audioOutputTokens: 150 });
  });

  it("reads DeepSeek's cache hits when prompt_tokens_details is absent", () => {
    expect(normalizeOpenAIUsage({ prompt_tokens: 100, completion_tokens: 5, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 })).toEqual({
      inputTokens: 100,
      outputTokens: 5,
      cachedInputTokens: 64,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
  });

  it("treats null details (Groq, vLLM) as zero", () => {
    expect(normalizeOpenAIUsage({ prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: null, completion_tokens_details: null })).toEqual({
      inputTokens: 12,
      outputTokens: 3,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
  });

  it("reads OpenRouter's cache writes", () => {
    const usage = normalizeOpenAIUsage({ prompt_tokens: 3000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 2048 }, cost: 0.0115 });
    expect(usage).toMatchObject({ cacheWriteTokens: 2048, providerCost: "0.0115" });
  });
});

describe("providerCost", () => {
  it.each([
    [0.0002241, "0.0002241"],
    [1e-7, "0.0000001"],
    [0.1 + 0.2, "0.30000000000000004"], // the upstream's own number, digit for digit: no rounding either way
    [0, "0"],
    ["0.00012", "0.00012"],
  ])("%s → %s", (raw, text) => {
    expect(providerCost(raw)).toBe(text);
  });

  it.each([[null], [undefined], [Number.NaN], [-1], ["n/a"]])("ignores %s", (raw) => {
    expect(providerCost(raw)).toBeUndefined();
  });
});

async function drain(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}
