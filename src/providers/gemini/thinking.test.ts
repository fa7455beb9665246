import { afterEach, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "../../../test/fakes/upstream.js";
import { geminiConfig } from "../../config/providers.js";
import { AirlockError } from "../../core/errors.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_REQUEST } from "../provider.conformance.js";
import type { ChatRequest } from "../spec.js";
import { GeminiProvider } from "./provider.js";

/** OpenAI's reasoning_effort as Gemini receives it: generationConfig.thinkingConfig in the body the fake upstream was sent. */
describe("gemini reasoning_effort", () => {
  let fake: FakeUpstream | undefined;
  let provider: GeminiProvider | undefined;
  afterEach(async () => {
    await provider?.close();
    await fake?.close();
  });
  const setup = async () => {
    fake = await startFakeUpstream("gemini");
    provider = new GeminiProvider("gemini", geminiConfig.parse({ type: "gemini", baseUrl: fake.url, apiKey: "k" }));
    return provider;
  };
  const signal = () => new AbortController().signal;
  /** The thinkingConfig of one chat and one stream call, each checked to have gone to its model's URL. */
  const thinkingSent = async (gemini: GeminiProvider, model: string, reasoning_effort: unknown) => {
    const request: ChatRequest = { ...CONFORMANCE_REQUEST, model, reasoning_effort };
    await gemini.chat(request, { signal: signal() });
    for await (const _ of await gemini.stream(request, { signal: signal() })) void _;
    const [chat, stream] = fake!.requests.slice(-2);
    expect(chat!.path).toContain(`/models/${model}:generateContent`);
    expect(stream!.path).toContain(`/models/${model}:streamGenerateContent`);
    expect(stream!.body).toEqual(chat!.body);
    expect(chat!.body).not.toHaveProperty("reasoning_effort");
    return chat!.body.generationConfig?.thinkingConfig;
  };

  it("Gemini 2.5 takes a thinking budget, as Google's OpenAI endpoint sets it: low 1024, medium 8192, high 24576, none 0", async () => {
    const gemini = await setup();
    for (const model of ["gemini-2.5-flash", "gemini-2.5-flash-lite"]) {
      for (const [effort, budget] of [["none", 0], ["minimal", 1024], ["low", 1024], ["medium", 8192], ["high", 24576], ["xhigh", 24576]] as const) {
        expect(await thinkingSent(gemini, model, effort)).toEqual({ thinkingBudget: budget });
      }
    }
  });

  it("Gemini 2.5 Pro cannot stop thinking: none gets its least budget, 128", async () => {
    const gemini = await setup();
    expect(await thinkingSent(gemini, "gemini-2.5-pro", "none")).toEqual({ thinkingBudget: 128 });
    expect(await thinkingSent(gemini, "gemini-2.5-pro", "high")).toEqual({ thinkingBudget: 24576 });
  });

  it("Gemini 3 takes a thinking level: low or high on Pro, and minimal and medium as well on Flash", async () => {
    const gemini = await setup();
    const levels = {
      "gemini-3-pro-preview": { none: "low", minimal: "low", low: "low", medium: "high", high: "high" },
      "gemini-3-flash-preview": { none: "minimal", minimal: "minimal", low: "low", medium: "medium", high: "high" },
    };
    for (const [model, byEffort] of Object.entries(levels)) {
      for (const [effort, level] of Object.entries(byEffort)) expect(await thinkingSent(gemini, model, effort)).toEqual({ thinkingLevel: level });
    }
  });

  it("a model id that names no version gets a budget, which Gemini 3 takes as well", async () => {
    const gemini = await setup();
    expect(await thinkingSent(gemini, "gemini-flash-latest", "medium")).toEqual({ thinkingBudget: 8192 });
  });

  it("a model that cannot think (before 2.5) refuses it before any call; none asks for nothing and is taken", async () => {
    const gemini = await setup();
    for (const model of ["gemini-2.0-flash", "gemini-1.5-pro"]) {
      const request: ChatRequest = { ...CONFORMANCE_REQUEST, model, reasoning_effort: "low" };
      for (const call of [() => gemini.chat(request, { signal: signal() }), () => gemini.stream(request, { signal: signal() })]) {
        const err = await call().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ProviderError);
        expect(err).toMatchObject({ kind: "unsupported", fallbackable: true, provider: "gemini" });
        expect((err as Error).message).toContain("reasoning_effort");
      }
    }
    expect(fake!.requests).toHaveLength(0);
    expect(await thinkingSent(gemini, "gemini-2.0-flash", "none")).toBeUndefined();
  });

  it("a value OpenAI does not define is the caller's error", async () => {
    const gemini = await setup();
    const err = await gemini.chat({ ...CONFORMANCE_REQUEST, model: "gemini-2.5-flash", reasoning_effort: "max" }, { signal: signal() }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AirlockError);
    expect(err).toMatchObject({ code: "invalid_request", param: "reasoning_effort" });
    expect(fake!.requests).toHaveLength(0);
  });
});
