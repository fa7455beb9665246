import { afterEach, describe, expect, it } from "vitest";
import { fakeUpstreamHarness } from "../../../test/fakes/harness.js";
import { startFakeUpstream, type FakeUpstream } from "../../../test/fakes/upstream.js";
import { anthropicConfig, type AnthropicConfig } from "../../config/providers.js";
import { AirlockError } from "../../core/errors.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_REQUEST, describeProviderConformance } from "../provider.conformance.js";
import type { ChatRequest, ContentPart, StreamEvent, Usage } from "../spec.js";
import { AnthropicProvider } from "./provider.js";
import { toAnthropicRequest } from "./request.js";
import { toFinishReason } from "./response.js";
import { normalizeAnthropicUsage, toChatResult } from "./response.js";

const MESSAGE_USAGE: Usage = { inputTokens: 2009, outputTokens: 10, cachedInputTokens: 1800, cacheWriteTokens: 188, reasoningTokens: 0 };

function build(baseUrl: string, extra: Partial<AnthropicConfig> = {}): AnthropicProvider {
  return new AnthropicProvider("anthropic", anthropicConfig.parse({ type: "anthropic", baseUrl, apiKey: "sk-ant-test-51c0", ...extra }));
}

describeProviderConformance(
  fakeUpstreamHarness({
    label: "anthropic (anthropic/message)",
    flavor: "anthropic",
    fixture: "anthropic/message",
    embeddings: false,
    features: { n: "refused", logprobs: "refused", legacyFunctions: "refused", functionMessage: "refused", imageUrl: "sent", pdfFile: "sent", inputAudio: "refused", seed: "refused", penalties: "refused", logitBias: "refused", audioOutput: "refused", singleToolCall: "sent", neutralValues: "sent", whitespaceStop: "refused", reasoningEffort: "sent" },
    // Cut before message_stop: message_delta has counted the output already.
    expected: { content: "The capital of France is Paris.", usage: MESSAGE_USAGE, usageAtCut: { usage: MESSAGE_USAGE, outputCounted: true } },
    build: (baseUrl, overrides) => build(baseUrl, overrides),
  }),
);

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { location: { type: "string" }, unit: { type: "string" } }, required: ["location"] },
  },
};

describe("anthropic request mapping", () => {
  it("hoists system and developer messages into `system` and defaults max_tokens", () => {
    const body = toAnthropicRequest(
      {
        model: "claude-sonnet-4-20250514",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "developer", content: [{ type: "text", text: "Answer in English." }] },
          { role: "user", content: "Capital of France?" },
        ],
        temperature: 0.2,
        top_p: 0.9,
        stop: "\n\nHuman:",
        user: "user-42",
      },
      "anthropic",
      4096,
    );
    expect(body).toEqual({
      model: "claude-sonnet-4-20250514",
      system: "Be brief.\n\nAnswer in English.",
      messages: [{ role: "user", content: "Capital of France?" }],
      max_tokens: 4096,
      temperature: 0.2,
      top_p: 0.9,
      stop_sequences: ["\n\nHuman:"],
      metadata: { user_id: "user-42" },
    });
  });

  it("asks for JSON in the system prompt for response_format json_object, and with the schema for json_schema", () => {
    const ask = (response_format: unknown) =>
      toAnthropicRequest({ model: "m", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Capital of France?" }], response_format }, "anthropic", 4096).system;
    expect(ask({ type: "json_object" })).toBe(
      "Be brief.\n\nRespond with only a JSON object.\nDo not add any prose or explanation, and do not wrap the JSON in Markdown code fences: the entire reply must parse as JSON.",
    );
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    expect(ask({ type: "json_schema", json_schema: { name: "capital", schema } })).toContain(`matches this JSON Schema:\n${JSON.stringify(schema)}\n`);
    expect(ask({ type: "text" })).toBe("Be brief.");
  });

  it("keeps cache_control marks on assistant text parts and image parts, and sends the system prompt as blocks only when a part is marked", () => {
    const mark = { type: "ephemeral" };
    const body = toAnthropicRequest(
      {
        model: "m",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/map.png" }, cache_control: mark } as ContentPart] },
          { role: "assistant", content: [{ type: "text", text: "A map of France." }, { type: "text", text: "" }, { type: "text", text: "Ask away.", cache_control: mark } as ContentPart] },
          { role: "user", content: "Where is Paris?" },
        ],
      },
      "anthropic",
      4096,
    );
    expect(body.system).toBe("Be brief.");
    expect(body.messages).toEqual([
      { role: "user", content: [{ type: "image", source: { type: "url", url: "https://example.com/map.png" }, cache_control: mark }] },
      { role: "assistant", content: [{ type: "text", text: "A map of France." }, { type: "text", text: "Ask away.", cache_control: mark }] },
      { role: "user", content: "Where is Paris?" },
    ]);
  });

  it("replays an assistant's refusal part as its text, so the turn stays in the history", () => {
    const body = toAnthropicRequest(
      {
        model: "m",
        messages: [
          { role: "user", content: "Help me pick a lock." },
          { role: "assistant", content: [{ type: "refusal", refusal: "I can't help with that." } as unknown as ContentPart] },
          { role: "user", content: "Then how do locks work?" },
        ],
      },
      "anthropic",
      4096,
    );
    expect(body.messages).toEqual([
      { role: "user", content: "Help me pick a lock." },
      { role: "assistant", content: "I can't help with that." },
      { role: "user", content: "Then how do locks work?" },
    ]);
  });

  it("prefers max_completion_tokens over max_tokens", () => {
    const body = toAnthropicRequest({ ...CONFORMANCE_REQUEST, max_tokens: 10, max_completion_tokens: 20 }, "anthropic", 4096);
    expect(body.max_tokens).toBe(20);
  });

  it("maps image parts: data URLs to base64 sources, http URLs to url sources", () => {
    const body = toAnthropicRequest(
      {
        model: "m",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is in these?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
              { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
            ],
          },
        ],
      },
      "anthropic",
      1024,
    );
    expect(body.messages[0]!.content).toEqual([
      { type: "text", text: "What is in these?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ]);
  });

  it("maps tools, tool_choice, assistant tool calls and tool results (grouped into one user turn)", () => {
    const request: ChatRequest = {
      model: "claude-sonnet-4-20250514",
      messages: [
        { role: "user", content: "Weather in Paris and Rome?" },
        {
          role: "assistant",
          content: "Checking both.",
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
            { id: "toolu_2", type: "function", function: { name: "get_weather", arguments: '{"location":"Rome"}' } },
          ],
        },
        { role: "tool", tool_call_id: "toolu_1", content: "18°C" },
        { role: "tool", tool_call_id: "toolu_2", content: [{ type: "text", text: "24°C" }] },
      ],
      tools: [WEATHER_TOOL],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
    };
    const body = toAnthropicRequest(request, "anthropic", 1024);
    expect(body.tools).toEqual([{ name: "get_weather", description: "Current weather for a city", input_schema: WEATHER_TOOL.function.parameters }]);
    expect(body.tool_choice).toEqual({ type: "tool", name: "get_weather", disable_parallel_tool_use: true });
    expect(body.messages).toEqual([
      { role: "user", content: "Weather in Paris and Rome?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking both." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } },
          { type: "tool_use", id: "toolu_2", name: "get_weather", input: { location: "Rome" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "18°C" },
          { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "24°C" }] },
        ],
      },
    ]);
  });

  it("gives every tool_use an id Anthropic takes, unique in the request, and each result the id of the call it answers", () => {
    // Two steps answered by an upstream that numbers its calls from call_0 each time, then one with a dotted id.
    const step = (id: string, name: string): ChatRequest["messages"] => [
      { role: "assistant", content: null, tool_calls: [{ id, type: "function", function: { name, arguments: "{}" } }] },
      { role: "tool", tool_call_id: id, content: `${name} done` },
    ];
    const body = toAnthropicRequest({ model: "m", messages: [{ role: "user", content: "go" }, ...step("call_0", "a"), ...step("call_0", "b"), ...step("functions.c:0", "c")] }, "anthropic", 1);
    const pairs = body.messages.flatMap((m) => (typeof m.content === "string" ? [] : m.content)).map((b) => (b.type === "tool_use" ? `use ${b.id}` : b.type === "tool_result" ? `result ${b.tool_use_id}` : b.type));
    expect(pairs).toEqual(["use call_0", "result call_0", "use call_0_2", "result call_0_2", "use functions_c_0", "result functions_c_0"]);
  });

  it("leaves out an assistant message with no text and no tool calls, which Anthropic refuses as an empty turn", () => {
    const body = toAnthropicRequest(
      { model: "m", messages: [{ role: "user", content: "q" }, { role: "assistant", content: null }, { role: "assistant", content: "" }, { role: "user", content: "again" }] },
      "anthropic",
      1,
    );
    expect(body.messages).toEqual([{ role: "user", content: [{ type: "text", text: "q" }, { type: "text", text: "again" }] }]);
  });

  it("refuses what it cannot translate", () => {
    const badArgs: ChatRequest = {
      model: "m",
      messages: [{ role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{oops" } }] }],
    };
    expect(() => toAnthropicRequest(badArgs, "anthropic", 1)).toThrow(AirlockError);
    expect(() => toAnthropicRequest({ ...CONFORMANCE_REQUEST, n: 2 }, "anthropic", 1)).toThrow(expect.objectContaining({ kind: "unsupported" }));
  });
});

describe("anthropic adapter", () => {
  let fake: FakeUpstream;
  let provider: AnthropicProvider | undefined;
  const signal = (): AbortSignal => new AbortController().signal;
  const setup = async (extra: Partial<AnthropicConfig> = {}): Promise<AnthropicProvider> => {
    fake = await startFakeUpstream("anthropic");
    provider = build(fake.url, extra);
    return provider;
  };
  afterEach(async () => {
    await provider?.close();
    await fake?.close();
    provider = undefined;
  });

  it("posts to /v1/messages with the key, version and configured headers", async () => {
    const p = await setup({ version: "2023-06-01", headers: { "anthropic-beta": "prompt-caching-2024-07-31" } });
    await p.chat(CONFORMANCE_REQUEST, { signal: signal() });
    const { path, headers, body } = fake.requests[0]!;
    expect(path).toBe("/v1/messages");
    expect(headers).toMatchObject({
      "x-api-key": "sk-ant-test-51c0",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "prompt-caching-2024-07-31",
      "content-type": "application/json",
    });
    expect(headers.authorization).toBeUndefined();
    expect(body).toMatchObject({ system: "You answer geography questions in one sentence.", max_tokens: 64 });
    expect(body.stream).toBeUndefined();
  });

  it("maps a tool_use answer to OpenAI tool_calls, and streams it as tool-call deltas", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "anthropic/tool-use" }, { kind: "ok", fixture: "anthropic/tool-use" });
    const request = { ...CONFORMANCE_REQUEST, tools: [WEATHER_TOOL] };
    const result = await p.chat(request, { signal: signal() });
    expect(result.choices[0]).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: "I'll check the current weather in Paris.",
        tool_calls: [
          { id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris, France","unit":"celsius"}' } },
        ],
      },
      finish_reason: "tool_calls",
    });
    expect(result.usage).toEqual({ inputTokens: 412, outputTokens: 68, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });

    const events = await drain(await p.stream(request, { signal: signal() }));
    expect(fake.requests[1]!.body.stream).toBe(true);
    const deltas = events.flatMap((e) => (e.type === "chunk" ? [e.chunk.choices[0]!] : []));
    const calls = deltas.flatMap((d) => (d.delta.tool_calls ?? []) as Array<{ index: number; id?: string; function: { name?: string; arguments: string } }>);
    expect(calls[0]).toEqual({ index: 0, id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: "" } });
    expect(calls.every((c) => c.index === 0)).toBe(true);
    expect(JSON.parse(calls.map((c) => c.function.arguments).join(""))).toEqual({ location: "Paris, France", unit: "celsius" });
    expect(deltas.map((d) => d.delta.content ?? "").join("")).toBe("I'll check the current weather in Paris.");
    expect(deltas.at(-1)!.finish_reason).toBe("tool_calls");
    expect(events.at(-1)).toEqual({ type: "usage", usage: result.usage });
  });

  it("treats 529 overloaded_error as retryable and fallbackable", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 529 });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({
      kind: "http",
      status: 529,
      providerCode: "overloaded_error",
      isRetryable: true,
      fallbackable: true,
    });
  });

  it("reads Anthropic's 429 retry-after", async () => {
    const p = await setup();
    fake.push({ kind: "error", status: 429 });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ status: 429, retryAfterMs: 7000, providerCode: "rate_limit_error" });
  });

  it("throws a fallbackable ProviderError for `event: error` mid-stream, after the chunks before it", async () => {
    const p = await setup();
    fake.push({ kind: "ok", fixture: "anthropic/overloaded-midstream" });
    const events: StreamEvent[] = [];
    const err = await (async () => {
      for await (const event of await p.stream(CONFORMANCE_REQUEST, { signal: signal() })) events.push(event);
    })().catch((e: unknown) => e);
    expect(events).toHaveLength(2);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: "protocol", providerCode: "overloaded_error", fallbackable: true });
  });
});

describe("an Anthropic answer of no usable shape", () => {
  it("is a protocol error when a content block is not an object", () => {
    const message = { id: "msg_1", type: "message", role: "assistant", model: "claude", content: [null], stop_reason: "end_turn", usage: { input_tokens: 5, output_tokens: 1 } };
    expect(() => toChatResult(message, "anthropic")).toThrow(expect.objectContaining({ kind: "protocol" }));
  });
});

describe("normalizeAnthropicUsage", () => {
  it("makes input inclusive of cache reads and writes", () => {
    expect(normalizeAnthropicUsage({ input_tokens: 21, cache_creation_input_tokens: 188, cache_read_input_tokens: 1800, output_tokens: 10 })).toEqual(MESSAGE_USAGE);
  });

  it("breaks out the cache writes kept for an hour, from the split by TTL", () => {
    const usage = normalizeAnthropicUsage({
      input_tokens: 21,
      cache_creation_input_tokens: 1188,
      cache_read_input_tokens: 1800,
      cache_creation: { ephemeral_5m_input_tokens: 188, ephemeral_1h_input_tokens: 1000 },
      output_tokens: 10,
    });
    expect(usage).toEqual({ inputTokens: 3009, outputTokens: 10, cachedInputTokens: 1800, cacheWriteTokens: 1188, cacheWrite1hTokens: 1000, reasoningTokens: 0 });
    // No 1-hour writes, or no split at all: every write is a 5-minute one.
    expect(normalizeAnthropicUsage({ input_tokens: 21, cache_creation_input_tokens: 188, cache_creation: { ephemeral_5m_input_tokens: 188, ephemeral_1h_input_tokens: 0 }, output_tokens: 1 })).not.toHaveProperty("cacheWrite1hTokens");
  });

  it("reads null cache fields as zero", () => {
    expect(normalizeAnthropicUsage({ input_tokens: 5, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: 1 })).toEqual({
      inputTokens: 5,
      outputTokens: 1,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
  });

  it("reads counts that are missing, strings or negative as no usage, a cache count among them", () => {
    for (const usage of [
      {},
      { input_tokens: null, output_tokens: null },
      { input_tokens: "21", output_tokens: "10" },
      { input_tokens: 21, output_tokens: -10 },
      { input_tokens: 21, cache_read_input_tokens: "1800", output_tokens: 10 },
    ]) {
      expect(normalizeAnthropicUsage(usage as never)).toBeUndefined();
    }
  });
});

async function drain(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe("anthropic stop reasons", () => {
  it("maps each to an OpenAI finish reason, a newer one to stop, never a finished choice without one", () => {
    expect(["end_turn", "stop_sequence", "pause_turn"].map(toFinishReason)).toEqual(["stop", "stop", "stop"]);
    expect(["max_tokens", "model_context_window_exceeded"].map(toFinishReason)).toEqual(["length", "length"]);
    expect(toFinishReason("tool_use")).toBe("tool_calls");
    expect(toFinishReason("refusal")).toBe("content_filter");
    expect(toFinishReason("a_reason_from_next_year")).toBe("stop");
    // message_start's stop_reason: the turn has not ended yet.
    expect(toFinishReason(null)).toBeNull();
  });
});
