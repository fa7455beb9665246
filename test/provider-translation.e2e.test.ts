import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * What an OpenAI SDK user gets when a request goes to Claude or Gemini through Airlock: each feature is
 * translated into the provider's own wire format (checked on what the fake upstream received), or
 * refused with a 400 that names it; never dropped, leaving an answer without what was asked for.
 */
describe.each(STORE_KINDS)("OpenAI features sent to anthropic and gemini on %s", (kind) => {
  let gw: TestGateway;
  let anthropic: FakeUpstream;
  let gemini: FakeUpstream;
  const models = { anthropic: "anthropic/claude-sonnet-4", gemini: "gemini/gemini-2.5-flash" } as const;
  const upstreamOf = (name: keyof typeof models) => (name === "anthropic" ? anthropic : gemini);

  beforeAll(async () => {
    [anthropic, gemini] = await Promise.all([startFakeUpstream("anthropic"), startFakeUpstream("gemini")]);
    gw = await startTestGateway(kind, {
      providers: {
        anthropic: { type: "anthropic", baseUrl: anthropic.url, apiKey: "k" },
        gemini: { type: "gemini", baseUrl: gemini.url, apiKey: "k" },
      },
      models: [
        { id: models.anthropic, price: { input: "3", output: "15", per: "1M" } },
        { id: models.gemini, price: { input: "0.3", output: "2.5", per: "1M" } },
      ],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([anthropic?.close(), gemini?.close()]);
  });

  async function refusal(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.BadRequestError>> {
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    return err as InstanceType<typeof OpenAI.BadRequestError>;
  }

  it.each(["anthropic", "gemini"] as const)("%s: logprobs is refused with a 400 that names it, and nothing is sent upstream", async (name) => {
    const before = upstreamOf(name).requests.length;
    const err = await refusal(
      gw.client().chat.completions.create({ model: models[name], messages: [{ role: "user", content: "Hi" }], logprobs: true, top_logprobs: 2 }),
    );
    expect(err.code).toBe("invalid_request");
    expect(err.message).toContain("logprobs");
    const streamed = await refusal(
      gw.client().chat.completions.create({ model: models[name], messages: [{ role: "user", content: "Hi" }], logprobs: true, stream: true }),
    );
    expect(streamed.message).toContain("logprobs");
    expect(upstreamOf(name).requests.length).toBe(before);
  });

  it.each(["anthropic", "gemini"] as const)("%s: a conversation with a deprecated function message is refused with a 400 saying to send tool messages", async (name) => {
    const before = upstreamOf(name).requests.length;
    const err = await refusal(
      gw.client().chat.completions.create({
        model: models[name],
        messages: [
          { role: "user", content: "What is the capital of France?" },
          { role: "assistant", content: null, function_call: { name: "capital_of", arguments: '{"country":"France"}' } },
          { role: "function", name: "capital_of", content: "Paris" },
        ],
      }),
    );
    expect(err.code).toBe("invalid_request");
    expect(err.message).toContain("tool messages");
    expect(upstreamOf(name).requests.length).toBe(before);
  });

  it("an image by its https URL goes to Claude as a url image block and to Gemini as fileData, which each upstream fetches", async () => {
    const url = "https://upload.wikimedia.org/wikipedia/commons/a/a8/Tour_Eiffel_Wikimedia_Commons.jpg";
    const content: OpenAI.ChatCompletionContentPart[] = [
      { type: "text", text: "Where is this?" },
      { type: "image_url", image_url: { url } },
    ];
    for (const name of ["anthropic", "gemini"] as const) {
      const answer = await gw.client().chat.completions.create({ model: models[name], messages: [{ role: "user", content }] });
      expect(answer.choices[0]?.message.content).toMatch(/Paris/);
    }
    expect(anthropic.requests.at(-1)?.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Where is this?" }, { type: "image", source: { type: "url", url } }] },
    ]);
    expect(gemini.requests.at(-1)?.body.contents).toEqual([
      { role: "user", parts: [{ text: "Where is this?" }, { fileData: { fileUri: url, mimeType: "image/jpeg" } }] },
    ]);
  });

  it("response_format json_object asks Claude, which has no such switch, for a JSON object in its system prompt, and Gemini with responseMimeType", async () => {
    for (const name of ["anthropic", "gemini"] as const) {
      await gw.client().chat.completions.create({
        model: models[name],
        messages: [
          { role: "system", content: "You answer geography questions." },
          { role: "user", content: "The capital of France, as {city}?" },
        ],
        response_format: { type: "json_object" },
      });
    }
    const claude = anthropic.requests.at(-1)?.body;
    expect(claude.system).toMatch(/^You answer geography questions\.\n\n/);
    expect(claude.system).toContain("Respond with only a JSON object");
    expect(claude).not.toHaveProperty("response_format");
    expect(gemini.requests.at(-1)?.body.generationConfig).toEqual({ responseMimeType: "application/json" });
  });

  /** A stream as the openai SDK's own helper reads it: deltas added up into a whole completion. */
  async function streamed(name: keyof typeof models, fixture: string) {
    upstreamOf(name).push({ kind: "ok", fixture });
    const stream = gw.client().chat.completions.stream({
      model: models[name],
      messages: [{ role: "user", content: "Weather in Paris and Rome?" }],
      stream_options: { include_usage: true },
    });
    return stream.finalChatCompletion();
  }

  it("Claude's parallel tool calls, streamed as input_json_delta pieces, add up in the SDK to two calls with whole JSON arguments, finish tool_calls, usage with the cache read", async () => {
    const completion = await streamed("anthropic", "anthropic/parallel-tool-use");
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBe("I'll look up the weather in both cities.");
    expect(choice.message.tool_calls?.map((call) => call.type === "function" && [call.id, call.function.name, JSON.parse(call.function.arguments)])).toEqual([
      ["toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", { location: "Paris, France" }],
      ["toolu_01Kd9QcGZ4rT8mW2xVbN5pLs", "get_weather", { location: "Rome, Italy" }],
    ]);
    // 57 uncached + 1450 read from the cache
    expect(completion.usage).toMatchObject({ prompt_tokens: 1507, completion_tokens: 112, prompt_tokens_details: { cached_tokens: 1450 } });
  });

  it("a Claude stream stopped by max_tokens finishes length", async () => {
    const completion = await streamed("anthropic", "anthropic/max-tokens");
    expect(completion.choices[0]).toMatchObject({ finish_reason: "length", message: { content: "The capital of France is" } });
    expect(completion.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 5 });
  });

  it("a Gemini stream that ends on finishReason SAFETY finishes content_filter, with its thinking counted as reasoning", async () => {
    const completion = await streamed("gemini", "gemini/safety");
    expect(completion.choices[0]).toMatchObject({ finish_reason: "content_filter", message: { content: "Here is how the" } });
    expect(completion.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 68, completion_tokens_details: { reasoning_tokens: 64 } });
  });

  it("cache_control marks on system, user and tool-result parts and on tools reach Claude on the same blocks, so prompt caching works from the openai SDK", async () => {
    const ephemeral = { type: "ephemeral" };
    const hour = { type: "ephemeral", ttl: "1h" };
    const body = {
      model: models.anthropic,
      messages: [
        { role: "system", content: [{ type: "text", text: "You are a travel agent." }, { type: "text", text: "<the 40-page handbook>", cache_control: hour }] },
        { role: "user", content: [{ type: "text", text: "<the booking history>", cache_control: ephemeral }, { type: "text", text: "Weather in Paris?" }] },
        { role: "assistant", content: null, tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
        { role: "tool", tool_call_id: "toolu_1", content: [{ type: "text", text: "18°C, clear", cache_control: ephemeral }] },
      ],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } }, cache_control: ephemeral }],
    };
    // cache_control is not in the SDK's types (Portkey and LiteLLM read it there too): sent as the SDK sends any extra field.
    await gw.client().chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const sent = anthropic.requests.at(-1)?.body;
    expect(sent.system).toEqual([
      { type: "text", text: "You are a travel agent." },
      { type: "text", text: "<the 40-page handbook>", cache_control: hour },
    ]);
    expect(sent.messages[0]).toEqual({
      role: "user",
      content: [{ type: "text", text: "<the booking history>", cache_control: ephemeral }, { type: "text", text: "Weather in Paris?" }],
    });
    expect(sent.messages[2]).toEqual({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "18°C, clear", cache_control: ephemeral }] }],
    });
    expect(sent.tools).toEqual([{ name: "get_weather", input_schema: { type: "object", properties: { location: { type: "string" } } }, cache_control: ephemeral }]);
  });

  it("a PDF file part goes to Claude as a document block and to Gemini as inlineData; audio goes to Gemini as inlineData and is refused for Claude with a 400", async () => {
    const pdf = "JVBERi0xLjQKJcfsj6IKNSAwIG9iago=";
    const file: OpenAI.ChatCompletionContentPart = { type: "file", file: { filename: "report.pdf", file_data: `data:application/pdf;base64,${pdf}` } };
    const audio: OpenAI.ChatCompletionContentPart = { type: "input_audio", input_audio: { data: "UklGRiQAAABXQVZFZm10IBAAAAAB", format: "wav" } };
    for (const name of ["anthropic", "gemini"] as const) {
      await gw.client().chat.completions.create({ model: models[name], messages: [{ role: "user", content: [{ type: "text", text: "Summarise this." }, file] }] });
    }
    expect(anthropic.requests.at(-1)?.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Summarise this." }, { type: "document", source: { type: "base64", media_type: "application/pdf", data: pdf }, title: "report.pdf" }] },
    ]);
    expect(gemini.requests.at(-1)?.body.contents).toEqual([{ role: "user", parts: [{ text: "Summarise this." }, { inlineData: { mimeType: "application/pdf", data: pdf } }] }]);

    await gw.client().chat.completions.create({ model: models.gemini, messages: [{ role: "user", content: [audio] }] });
    expect(gemini.requests.at(-1)?.body.contents).toEqual([{ role: "user", parts: [{ inlineData: { mimeType: "audio/wav", data: "UklGRiQAAABXQVZFZm10IBAAAAAB" } }] }]);
    const before = anthropic.requests.length;
    const err = await refusal(gw.client().chat.completions.create({ model: models.anthropic, messages: [{ role: "user", content: [audio] }] }));
    expect(err.message).toContain("input_audio");
    expect(anthropic.requests.length).toBe(before);
  });
});

