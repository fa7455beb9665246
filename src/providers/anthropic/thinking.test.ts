import { afterEach, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "../../../test/fakes/upstream.js";
import { anthropicConfig } from "../../config/providers.js";
import { AirlockError } from "../../core/errors.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_REQUEST } from "../provider.conformance.js";
import type { ChatRequest, StreamEvent } from "../spec.js";
import { AnthropicProvider } from "./provider.js";

/** OpenAI's reasoning_effort as Claude receives it: the body the fake upstream was sent, chat and stream alike. */
describe("anthropic reasoning_effort", () => {
  let fake: FakeUpstream | undefined;
  let provider: AnthropicProvider | undefined;
  afterEach(async () => {
    await provider?.close();
    await fake?.close();
  });
  const setup = async (chatFixture?: string) => {
    fake = await startFakeUpstream("anthropic", chatFixture === undefined ? {} : { chatFixture });
    provider = new AnthropicProvider("claude", anthropicConfig.parse({ type: "anthropic", baseUrl: fake.url, apiKey: "k" }));
    return provider;
  };
  const signal = () => new AbortController().signal;
  const drain = async (claude: AnthropicProvider, request: ChatRequest): Promise<StreamEvent[]> => {
    const events: StreamEvent[] = [];
    for await (const event of await claude.stream(request, { signal: signal() })) events.push(event);
    return events;
  };
  /** The bodies of one chat and one stream call. */
  const sent = async (claude: AnthropicProvider, request: ChatRequest) => {
    await claude.chat(request, { signal: signal() });
    await drain(claude, request);
    const [chat, stream] = fake!.requests.slice(-2).map((r) => r.body);
    expect(stream.stream).toBe(true);
    return [chat, stream];
  };
  const refusal = async (claude: AnthropicProvider, request: ChatRequest) => {
    for (const call of [() => claude.chat(request, { signal: signal() }), () => claude.stream(request, { signal: signal() })]) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ kind: "unsupported", fallbackable: true, provider: "claude" });
      expect((err as Error).message).toContain("reasoning_effort");
    }
  };
  const sonnet = (extra: Partial<ChatRequest>): ChatRequest => ({ ...CONFORMANCE_REQUEST, model: "claude-sonnet-4-5-20250929", max_tokens: 8000, ...extra });

  it("low, medium and high turn on extended thinking with LiteLLM's budgets (1024, 2048, 4096), inside max_tokens", async () => {
    const claude = await setup();
    for (const [effort, budget] of [["low", 1024], ["medium", 2048], ["high", 4096], ["minimal", 1024], ["xhigh", 4096]] as const) {
      for (const body of await sent(claude, sonnet({ reasoning_effort: effort }))) {
        expect(body.thinking).toEqual({ type: "enabled", budget_tokens: budget });
        expect(body.max_tokens).toBe(8000);
        expect(body).not.toHaveProperty("reasoning_effort");
      }
    }
  });

  it("without a limit from the request, max_tokens is the default plus the budget, so the answer keeps its room", async () => {
    const claude = await setup();
    const { max_tokens: _, ...unbounded } = sonnet({ reasoning_effort: "high" });
    for (const body of await sent(claude, unbounded as ChatRequest)) {
      expect(body.thinking).toEqual({ type: "enabled", budget_tokens: 4096 });
      expect(body.max_tokens).toBe(4096 + 4096);
    }
  });

  it("a limit below the budget is kept, the budget made to fit under it; one that leaves no room for 1024 thinking tokens is refused", async () => {
    const claude = await setup();
    for (const body of await sent(claude, sonnet({ reasoning_effort: "high", max_completion_tokens: 3000 }))) {
      expect(body.thinking).toEqual({ type: "enabled", budget_tokens: 2999 });
      expect(body.max_tokens).toBe(3000);
    }
    const before = fake!.requests.length;
    await refusal(claude, sonnet({ reasoning_effort: "low", max_tokens: 1024 }));
    expect(fake!.requests).toHaveLength(before);
  });

  it("none asks for no thinking, and is taken by every model, one that cannot think too", async () => {
    const claude = await setup();
    for (const model of ["claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022"]) {
      for (const body of await sent(claude, sonnet({ model, reasoning_effort: "none" }))) {
        expect(body).not.toHaveProperty("thinking");
        expect(body).not.toHaveProperty("output_config");
      }
    }
  });

  it("Claude 4.6 and later think adaptively, at the effort asked for", async () => {
    const claude = await setup();
    for (const [model, effort, level] of [["claude-opus-4-6", "medium", "medium"], ["claude-sonnet-4-6", "minimal", "low"], ["claude-opus-4-7", "high", "high"]] as const) {
      for (const body of await sent(claude, sonnet({ model, reasoning_effort: effort }))) {
        expect(body.thinking).toEqual({ type: "adaptive" });
        expect(body.output_config).toEqual({ effort: level });
        expect(body.max_tokens).toBe(8000);
      }
    }
  });

  it("a model that cannot think (Claude 3.5 and older) refuses it before any call, so the route's next candidate can take it", async () => {
    const claude = await setup();
    for (const model of ["claude-3-5-haiku-20241022", "claude-3-5-sonnet-latest", "claude-3-opus-20240229"]) await refusal(claude, sonnet({ model, reasoning_effort: "low" }));
    expect(fake!.requests).toHaveLength(0);
  });

  it("a turn that replays a tool call (no thinking blocks to send back) runs without thinking; a new user turn after it thinks", async () => {
    const claude = await setup();
    const loop: ChatRequest["messages"] = [
      { role: "user", content: "What is the capital of France?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "capital_of", arguments: '{"country":"France"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "Paris" },
    ];
    for (const body of await sent(claude, sonnet({ messages: loop, reasoning_effort: "high" }))) {
      expect(body).not.toHaveProperty("thinking");
      expect(body.max_tokens).toBe(8000);
    }
    const next = [...loop, { role: "assistant" as const, content: "Paris." }, { role: "user" as const, content: "And of Germany?" }];
    for (const body of await sent(claude, sonnet({ messages: next, reasoning_effort: "high" }))) expect(body.thinking).toEqual({ type: "enabled", budget_tokens: 4096 });
  });

  it("sampling Claude refuses with thinking on (temperature other than 1, top_p below 0.95) and a forced tool are refused, not dropped", async () => {
    const claude = await setup();
    const tools = [{ type: "function", function: { name: "capital_of", parameters: { type: "object", properties: {} } } }];
    for (const extra of [{ temperature: 0.2 }, { top_p: 0.5 }, { tools, tool_choice: "required" }, { tools, tool_choice: { type: "function", function: { name: "capital_of" } } }]) {
      await refusal(claude, sonnet({ reasoning_effort: "low", ...extra }));
    }
    expect(fake!.requests).toHaveLength(0);
    for (const body of await sent(claude, sonnet({ reasoning_effort: "low", temperature: 1, top_p: 0.95, tools, tool_choice: "auto" }))) {
      expect(body.thinking).toEqual({ type: "enabled", budget_tokens: 1024 });
      expect(body.temperature).toBe(1);
      expect(body.top_p).toBe(0.95);
    }
  });

  it("a value OpenAI does not define is the caller's error", async () => {
    const claude = await setup();
    for (const effort of ["extreme", 3, ""]) {
      const err = await claude.chat(sonnet({ reasoning_effort: effort }), { signal: signal() }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(AirlockError);
      expect(err).toMatchObject({ code: "invalid_request", param: "reasoning_effort" });
    }
    expect(fake!.requests).toHaveLength(0);
  });

  it("thinking stays out of the answer, and is billed as the output it is", async () => {
    const claude = await setup("anthropic/thinking");
    const events = await drain(claude, sonnet({ reasoning_effort: "low" }));
    const text = events.flatMap((e) => (e.type === "chunk" ? [e.chunk.choices[0]?.delta.content ?? ""] : [])).join("");
    expect(text).toBe("The capital of France is Paris.");
    expect(events.find((e) => e.type === "usage")).toMatchObject({ usage: { outputTokens: 96, reasoningTokens: 0 } });
  });

  it("a stream cut while Claude thinks is billed for the thinking it streamed", async () => {
    const claude = await setup("anthropic/thinking");
    fake!.push({ kind: "cut", afterChunks: 4 });
    const stream = await claude.stream(sonnet({ reasoning_effort: "low" }), { signal: signal() });
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    const thought = "The user asks for the capital of France. That is Paris. I should answer in one sentence, and perhaps say where it lies:";
    const soFar = stream.usageSoFar?.();
    expect(soFar?.outputCounted).toBe(false);
    expect(soFar?.usage.reasoningTokens).toBe(Math.ceil(thought.length / 4));
  });
});
