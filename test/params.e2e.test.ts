import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";

/**
 * What an OpenAI SDK user gets for each chat parameter that Claude or Gemini has no field for (see
 * docs/providers.md#openai-parameters-on-every-adapter): it is translated, refused with a 400 naming it
 * (after any later candidate was tried), or, when its value asks for nothing (a penalty of 0), taken.
 * And the usage a client reads carries every count the ledger prices, cache writes included.
 */
describe("OpenAI chat parameters and usage through anthropic and gemini", () => {
  let gw: TestGateway;
  let anthropic: FakeUpstream;
  let gemini: FakeUpstream;
  let openai: FakeUpstream;
  const models = { anthropic: "anthropic/claude-sonnet-4", gemini: "gemini/gemini-2.5-flash" } as const;
  const upstreamOf = (name: keyof typeof models) => (name === "anthropic" ? anthropic : gemini);
  const hi: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Hi" }];
  const tools: OpenAI.ChatCompletionTool[] = [{ type: "function", function: { name: "capital_of", parameters: { type: "object", properties: { country: { type: "string" } } } } }];

  beforeAll(async () => {
    [anthropic, gemini, openai] = await Promise.all([startFakeUpstream("anthropic"), startFakeUpstream("gemini"), startFakeUpstream("openai")]);
    gw = await startTestGateway("pglite", {
      providers: {
        anthropic: { type: "anthropic", baseUrl: anthropic.url, apiKey: "k" },
        gemini: { type: "gemini", baseUrl: gemini.url, apiKey: "k" },
        oai: { type: "openai-compatible", baseUrl: openai.url, apiKey: "k" },
      },
      models: [
        { id: models.anthropic, price: { input: "3", output: "15", cachedInput: "0.3", cacheWrite: "3.75", per: "1M" } },
        { id: models.gemini, price: { input: "0.3", output: "2.5", per: "1M" } },
        { id: "oai/gpt-4o-mini", price: { input: "0.15", output: "0.6", per: "1M" } },
      ],
      operations: { claude_then_openai: { model: models.anthropic, fallbacks: ["oai/gpt-4o-mini"] } },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([anthropic?.close(), gemini?.close(), openai?.close()]);
  });

  async function refusal(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.BadRequestError>> {
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    return err as InstanceType<typeof OpenAI.BadRequestError>;
  }

  const refused: Array<[keyof typeof models, string, Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>]> = [
    ["anthropic", "seed", { seed: 7 }],
    ["anthropic", "presence_penalty", { presence_penalty: 0.5 }],
    ["anthropic", "frequency_penalty", { frequency_penalty: -0.5 }],
    ["anthropic", "logit_bias", { logit_bias: { "50256": -100 } }],
    ["anthropic", "top_logprobs", { top_logprobs: 3 }],
    ["anthropic", "modalities", { modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } }],
    ["gemini", "presence_penalty", { presence_penalty: 0.5 }],
    ["gemini", "frequency_penalty", { frequency_penalty: 1 }],
    ["gemini", "logit_bias", { logit_bias: { "50256": -100 } }],
    ["gemini", "top_logprobs", { top_logprobs: 3 }],
    ["gemini", "parallel_tool_calls", { parallel_tool_calls: false, tools }],
    ["gemini", "modalities", { modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } }],
  ];
  it.each(refused)("%s: %s is refused with a 400 naming it, streamed or not, and nothing is sent upstream", async (name, param, extra) => {
    const before = upstreamOf(name).requests.length;
    const err = await refusal(gw.client().chat.completions.create({ model: models[name], messages: hi, ...extra }));
    expect(err.code).toBe("invalid_request");
    expect(err.message).toContain(param);
    const streamed = await refusal(gw.client().chat.completions.create({ model: models[name], messages: hi, ...extra, stream: true }));
    expect(streamed.message).toContain(param);
    expect(upstreamOf(name).requests.length).toBe(before);
  });

  it("a seed that Claude cannot take moves the call to the route's next candidate, which gets it", async () => {
    const before = anthropic.requests.length;
    const res = await gw.client().chat.completions.create({ model: "claude_then_openai", messages: hi, seed: 7 }).withResponse();
    expect(res.response.headers.get("x-airlock-model")).toBe("oai/gpt-4o-mini");
    expect(openai.requests.at(-1)!.body.seed).toBe(7);
    expect(anthropic.requests.length).toBe(before);
  });

  it.each(["anthropic", "gemini"] as const)("%s: values that ask for nothing (penalties 0, n 1, logprobs false, parallel_tool_calls true, nulls) are taken", async (name) => {
    const neutral = { presence_penalty: 0, frequency_penalty: 0, n: 1, logprobs: false, top_logprobs: 0, parallel_tool_calls: true, logit_bias: {}, modalities: ["text"], tools };
    const completion = await gw.client().chat.completions.create({ model: models[name], messages: hi, ...neutral } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(completion.choices[0]?.message.role).toBe("assistant");
    const nulls = { temperature: null, top_p: null, stop: null, user: null, seed: null, presence_penalty: null, max_tokens: null, n: null, tool_choice: null, parallel_tool_calls: null };
    await gw.client().chat.completions.create({ model: models[name], messages: hi, ...nulls } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    // null reads as not sent: it must not reach the upstream as a null field.
    expect(JSON.stringify(upstreamOf(name).requests.at(-1)!.body)).not.toContain("null");
  });

  it("gemini gets seed as generationConfig.seed; claude gets user as metadata.user_id and parallel_tool_calls false as disable_parallel_tool_use", async () => {
    await gw.client().chat.completions.create({ model: models.gemini, messages: hi, seed: 7 });
    expect(gemini.requests.at(-1)!.body.generationConfig.seed).toBe(7);
    await gw.client().chat.completions.create({ model: models.anthropic, messages: hi, user: "user-42", parallel_tool_calls: false, tools });
    expect(anthropic.requests.at(-1)!.body).toMatchObject({ metadata: { user_id: "user-42" }, tool_choice: { type: "auto", disable_parallel_tool_use: true } });
  });

  it("a Claude answer's usage carries its cache writes and reads, as OpenRouter and LiteLLM clients read them, streamed or not", async () => {
    const u = fixtureJson("anthropic/message").usage as { input_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number; output_tokens: number };
    const expected = {
      prompt_tokens: u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens,
      completion_tokens: u.output_tokens,
      prompt_tokens_details: { cached_tokens: u.cache_read_input_tokens, cache_write_tokens: u.cache_creation_input_tokens },
      cache_read_input_tokens: u.cache_read_input_tokens,
      cache_creation_input_tokens: u.cache_creation_input_tokens,
    };
    const completion = await gw.client().chat.completions.create({ model: models.anthropic, messages: hi });
    expect(completion.usage).toMatchObject(expected);
    const stream = await gw.client().chat.completions.create({ model: models.anthropic, messages: hi, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage).toMatchObject(expected);
  });

  it("audio tokens an upstream reports reach the client in both details, as OpenAI writes them", async () => {
    openai.push({
      kind: "ok",
      usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 800 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 150 } },
    });
    const completion = await gw.client().chat.completions.create({ model: "oai/gpt-4o-mini", messages: hi });
    expect(completion.usage).toMatchObject({ prompt_tokens_details: { audio_tokens: 800 }, completion_tokens_details: { audio_tokens: 150 } });
  });

  it("an OpenAI answer's predicted-output counts and service_tier reach the client, as OpenAI sent them", async () => {
    openai.push({
      kind: "ok",
      usage: { prompt_tokens: 100, completion_tokens: 60, total_tokens: 160, completion_tokens_details: { reasoning_tokens: 0, accepted_prediction_tokens: 40, rejected_prediction_tokens: 12 } },
    });
    const completion = await gw.client().chat.completions.create({ model: "oai/gpt-4o-mini", messages: hi, prediction: { type: "content", content: "Paris" }, service_tier: "default" });
    expect(openai.requests.at(-1)!.body).toMatchObject({ prediction: { type: "content", content: "Paris" }, service_tier: "default" });
    expect(completion.usage?.completion_tokens_details).toMatchObject({ accepted_prediction_tokens: 40, rejected_prediction_tokens: 12 });
    expect(completion.service_tier).toBe(fixtureJson("openai/chat").service_tier);
  });
});
