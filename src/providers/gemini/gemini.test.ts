import { afterEach, describe, expect, it } from "vitest";
import { fakeUpstreamHarness } from "../../../test/fakes/harness.js";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "../../../test/fakes/upstream.js";
import { geminiConfig, providerConfig, type GeminiConfig } from "../../config/providers.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_EMBED_REQUEST, CONFORMANCE_REQUEST, describeProviderConformance } from "../provider.conformance.js";
import { createProvider } from "../registry.js";
import type { ChatRequest, StreamEvent, Usage } from "../spec.js";
import { GeminiProvider } from "./provider.js";

const API_KEY = "AIzaSyTest-0000-gemini-51c0";
const ANSWER =
  "The capital of France is Paris, which sits on the Seine in the north of the country and has been the seat of French government for most of the past thousand years.";
/** generate.json's usageMetadata: prompt 2100 (2048 of it cached), candidates 40, thoughts 120. */
const GENERATE_USAGE: Usage = { inputTokens: 2100, outputTokens: 160, cachedInputTokens: 2048, cacheWriteTokens: 0, reasoningTokens: 120 };

function build(baseUrl: string, extra: Partial<GeminiConfig> = {}): GeminiProvider {
  return new GeminiProvider("gemini", geminiConfig.parse({ type: "gemini", baseUrl, apiKey: API_KEY, ...extra }));
}

describeProviderConformance(
  fakeUpstreamHarness({
    label: "gemini (gemini/generate)",
    flavor: "gemini",
    fixture: "gemini/generate",
    embeddings: true,
    features: { n: "sent", logprobs: "refused", legacyFunctions: "refused", functionMessage: "refused", imageUrl: "sent", pdfFile: "sent", inputAudio: "sent", seed: "sent", penalties: "refused", logitBias: "refused", audioOutput: "refused", singleToolCall: "refused", neutralValues: "sent", whitespaceStop: "sent", reasoningEffort: "sent" },
    expected: {
      content: ANSWER,
      usage: GENERATE_USAGE,
      // Gemini reports no embedding usage: the adapter says so, and the call counts the input itself.
      embeddingUsage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      embeddingUsageReported: false,
      // Cut before the last event: the one before it had counted 28 answer tokens and the 120 of thinking.
      usageAtCut: { usage: { inputTokens: 2100, outputTokens: 148, cachedInputTokens: 2048, cacheWriteTokens: 0, reasoningTokens: 120 }, outputCounted: true },
    },
    build: (baseUrl, overrides) => build(baseUrl, overrides),
  }),
);

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { location: { type: "string" }, unit: { type: "string" } }, required: ["location"], additionalProperties: false },
  },
};

describe("gemini adapter", () => {
  let fake: FakeUpstream;
  let provider: GeminiProvider | undefined;
  const signal = (): AbortSignal => new AbortController().signal;
  const setup = async (extra: Partial<GeminiConfig> = {}): Promise<GeminiProvider> => {
    fake = await startFakeUpstream("gemini");
    provider = build(fake.url, extra);
    return provider;
  };
  const request: ChatRequest = { ...CONFORMANCE_REQUEST, model: "gemini-2.5-flash" };
  afterEach(async () => {
    await provider?.close();
    await fake?.close();
    provider = undefined;
  });

  it("is what the registry builds for `type: gemini`, with Google's defaults", () => {
    const config = providerConfig.parse({ type: "gemini", apiKey: API_KEY });
    expect(config).toMatchObject({ baseUrl: "https://generativelanguage.googleapis.com", apiVersion: "v1beta" });
    const built = createProvider("google", config);
    expect(built).toBeInstanceOf(GeminiProvider);
    expect(built.type).toBe("gemini");
    return built.close();
  });

  it("posts generateContent with the key in x-goog-api-key, and streams from streamGenerateContent?alt=sse", async () => {
    const p = await setup({ headers: { "x-goog-user-project": "airlock-test" } });
    await p.chat(request, { signal: signal() });
    for await (const _ of await p.stream(request, { signal: signal() })) void _;
    const [plain, streamed] = fake.requests;
    expect(plain!.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    expect(streamed!.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    expect(plain!.headers).toMatchObject({ "x-goog-api-key": API_KEY, "x-goog-user-project": "airlock-test", "content-type": "application/json" });
    expect(plain!.headers.authorization).toBeUndefined();
    expect(plain!.body).toEqual({
      systemInstruction: { parts: [{ text: "You answer geography questions in one sentence." }] },
      contents: [{ role: "user", parts: [{ text: "What is the capital of France?" }] }],
      generationConfig: { maxOutputTokens: 64 },
    });
    expect(streamed!.body).toEqual(plain!.body);
  });

  it("puts the configured apiVersion in the path", async () => {
    const p = await setup({ apiVersion: "v1" });
    const err = await p.chat(request, { signal: signal() }).catch((e: unknown) => e);
    expect(fake.requests[0]!.path).toBe("/v1/models/gemini-2.5-flash:generateContent");
    expect(err).toMatchObject({ kind: "http", status: 404, providerCode: "NOT_FOUND", fallbackable: false }); // the fake serves v1beta only
  });

  it("counts cached and thinking tokens, keeps thought parts out of the content, and takes id and model from the answer", async () => {
    const p = await setup();
    const result = await p.chat(request, { signal: signal() });
    expect(result).toMatchObject({ id: "mGdFaPWkMLSZ1MkPkfyp8Ac", model: "gemini-2.5-flash", usage: GENERATE_USAGE, usageReported: true });
    expect(result.choices).toEqual([{ index: 0, message: { role: "assistant", content: ANSWER }, finish_reason: "stop" }]);

    const events = await drain(await p.stream(request, { signal: signal() }));
    const chunks = events.flatMap((e) => (e.type === "chunk" ? [e.chunk] : []));
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? "").join("")).toBe(ANSWER);
    expect(JSON.stringify(chunks)).not.toContain("Recalling");
    expect(chunks.every((c) => c.id === "nGdFaKfXJqT-1MkP3oOzsQw" && c.model === "gemini-2.5-flash")).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
    // usageMetadata rode on all four events; only the last (cumulative) one counts, once, at the end
    expect(events.filter((e) => e.type === "usage")).toEqual([{ type: "usage", usage: GENERATE_USAGE }]);
    expect(events.at(-1)!.type).toBe("usage");
  });

  it("maps function calls to OpenAI tool_calls with generated ids, the same streamed or not", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "gemini/function-call" }, { kind: "ok", fixture: "gemini/function-call" });
    const toolRequest = { ...request, tools: [WEATHER_TOOL] };
    const result = await p.chat(toolRequest, { signal: signal() });
    const calls = [
      { id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris, France","unit":"celsius"}' } },
      { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Rome, Italy","unit":"celsius"}' } },
    ];
    expect(result.choices).toEqual([{ index: 0, message: { role: "assistant", content: null, tool_calls: calls }, finish_reason: "tool_calls" }]);
    expect(result.usage).toEqual({ inputTokens: 96, outputTokens: 90, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 54 });

    const events = await drain(await p.stream(toolRequest, { signal: signal() }));
    const deltas = events.flatMap((e) => (e.type === "chunk" ? [e.chunk.choices[0]!] : []));
    expect(deltas[0]!.delta.role).toBe("assistant");
    expect(deltas.flatMap((d) => d.delta.tool_calls ?? [])).toEqual(calls.map((call, index) => ({ index, ...call })));
    expect(deltas.at(-1)!.finish_reason).toBe("tool_calls");
    expect(events.at(-1)).toEqual({ type: "usage", usage: result.usage });
  });

  it("names each tool result after the call just before it, when the ids it generated repeat across steps", async () => {
    const p = await setup();
    // Two steps of one agent loop, each answer's calls numbered from call_0 as this adapter numbers them.
    const call = (name: string) => ({ role: "assistant" as const, content: null, tool_calls: [{ id: "call_0", type: "function" as const, function: { name, arguments: '{"city":"Paris"}' } }] });
    await p.chat(
      {
        model: "gemini-2.5-flash",
        messages: [
          { role: "user", content: "Weather in Paris, then the time there?" },
          call("get_weather"),
          { role: "tool", tool_call_id: "call_0", content: '{"celsius":21}' },
          call("get_time"),
          { role: "tool", tool_call_id: "call_0", content: '{"time":"14:00"}' },
        ],
      },
      { signal: signal() },
    );
    const responses = (fake.requests[0]!.body.contents as Array<{ parts: Array<{ functionResponse?: unknown }> }>).flatMap((c) => c.parts.flatMap((part) => part.functionResponse ?? []));
    expect(responses).toEqual([
      { name: "get_weather", response: { celsius: 21 } },
      { name: "get_time", response: { time: "14:00" } },
    ]);
  });

  it("reads Google's 400 for a bad or expired key as refused credentials, not as a bad request", async () => {
    const p = await setup();
    // The recorded refusal of a bad key, and the same for an expired one.
    const invalid = fixtureJson("gemini/error-api-key-invalid");
    const expired = structuredClone(invalid);
    expired.error.message = "API key expired. Please renew the API key.";
    expired.error.details[0].reason = "API_KEY_EXPIRED";
    fake.push({ kind: "error", status: 400, body: invalid }, { kind: "error", status: 400, body: expired }, { kind: "error", status: 400 });
    await expect(p.chat(request, { signal: signal() })).rejects.toMatchObject({ status: 400, credentialsRefused: true, isRetryable: false });
    await expect(p.stream(request, { signal: signal() })).rejects.toMatchObject({ status: 400, credentialsRefused: true });
    // A request Google cannot read is still the caller's.
    await expect(p.chat(request, { signal: signal() })).rejects.toMatchObject({ status: 400, credentialsRefused: false });
  });

  it("reads Google's 429 body: RESOURCE_EXHAUSTED, retryable, RetryInfo's 30s as retryAfterMs", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 429 }, { kind: "error", status: 429, headers: { "retry-after": "3" } });
    await expect(p.chat(request, { signal: signal() })).rejects.toMatchObject({
      kind: "http",
      status: 429,
      providerCode: "RESOURCE_EXHAUSTED",
      isRetryable: true,
      retryAfterMs: 30_000,
    });
    // a Retry-After header, when there is one, is the more direct instruction
    await expect(p.stream(request, { signal: signal() })).rejects.toMatchObject({ status: 429, retryAfterMs: 3000 });
  });

  it("classifies Google's other statuses: NOT_FOUND model fallbackable, UNAVAILABLE retryable, INVALID_ARGUMENT final", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 404 }, { kind: "error", status: 503 }, { kind: "error", status: 400 });
    await expect(p.chat(request, { signal: signal() })).rejects.toMatchObject({ status: 404, providerCode: "NOT_FOUND", isRetryable: false, fallbackable: true });
    await expect(p.chat(request, { signal: signal() })).rejects.toMatchObject({ status: 503, providerCode: "UNAVAILABLE", isRetryable: true, retryAfterMs: undefined });
    await expect(p.chat(request, { signal: signal() })).rejects.toMatchObject({ status: 400, providerCode: "INVALID_ARGUMENT", isRetryable: false, fallbackable: false });
  });

  it("never repeats the API key or the prompt in an error", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 400, body: { error: { code: 400, message: `API key not valid: ${API_KEY}`, status: "INVALID_ARGUMENT" } } });
    const err = (await p.chat(request, { signal: signal() }).catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toBe("API key not valid: [redacted]");
    expect(JSON.stringify({ message: err.message, stack: err.stack })).not.toContain("capital of France");
  });

  it("throws a fallbackable ProviderError for an error event mid-stream, after the chunks before it", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "gemini/overloaded-midstream" });
    const events: StreamEvent[] = [];
    const err = await (async () => {
      for await (const event of await p.stream(request, { signal: signal() })) events.push(event);
    })().catch((e: unknown) => e);
    expect(events).toHaveLength(1);
    expect(err).toMatchObject({ kind: "protocol", providerCode: "UNAVAILABLE", fallbackable: true });
  });

  it("treats a stream that ends cleanly but without a finishReason as broken, with no usage", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "gemini/truncated" });
    const events: StreamEvent[] = [];
    const err = await (async () => {
      for await (const event of await p.stream(request, { signal: signal() })) events.push(event);
    })().catch((e: unknown) => e);
    expect(events.map((e) => e.type)).toEqual(["chunk", "chunk"]);
    expect(err).toMatchObject({ kind: "protocol", isRetryable: false });
  });

  it("embeds through batchEmbedContents, one request per input, and honours encoding_format base64", async () => {
    const p = await setup();
    const floats = await p.embed({ ...CONFORMANCE_EMBED_REQUEST, model: "gemini-embedding-001" }, { signal: signal() });
    expect(fake.requests[0]!.path).toBe("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect(fake.requests[0]!.body).toEqual({
      requests: [
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "The capital of France is Paris." }] }, outputDimensionality: 8 },
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "Berlin is in Germany." }] }, outputDimensionality: 8 },
      ],
    });
    expect(floats.data.map((d) => d.embedding)).toEqual(fixtureJson("gemini/embed").embeddings.map((e: { values: number[] }) => e.values));

    const encoded = await p.embed({ ...CONFORMANCE_EMBED_REQUEST, model: "gemini-embedding-001", encoding_format: "base64" }, { signal: signal() });
    const decoded = encoded.data.map((d) => Array.from(new Float32Array(Uint8Array.from(Buffer.from(d.embedding as string, "base64")).buffer)));
    const expected = floats.data.map((d) => Array.from(Float32Array.from(d.embedding as number[])));
    expect(decoded).toEqual(expected);

    await expect(p.embed({ model: "gemini-embedding-001", input: [[1, 2, 3]] }, { signal: signal() })).rejects.toMatchObject({ kind: "unsupported", fallbackable: true });
  });
});

async function drain(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}
