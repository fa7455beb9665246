import { compileOutputSchema } from "../../structured/schema.js";
import { nativeResponseFormat } from "../../structured/output.js";
import { describe, expect, it } from "vitest";
import { mockConfig, type MockStep } from "../../config/providers.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_REQUEST, describeProviderConformance, type ConformanceScenario } from "../provider.conformance.js";
import type { StreamEvent } from "../spec.js";
import { MOCK_MAX_DIMENSIONS, MockProvider } from "./provider.js";

function toStep(scenario: ConformanceScenario): MockStep {
  switch (scenario.kind) {
    case "ok":
      return {};
    case "error":
      return { status: scenario.status, retryAfterSeconds: scenario.retryAfterSeconds };
    case "modelNotFound":
      return { status: 404 };
    case "hang":
      return { hang: true };
    case "cut":
      return { cutAfterChunks: scenario.afterChunks };
    case "cutAfterUsage":
      return { cutAfterChunks: 2 }; // the mock counts its usage as it streams
    case "noUsage":
      throw new Error("the mock always reports usage");
  }
}

function mock(input: Record<string, unknown> = {}): MockProvider {
  return new MockProvider("mock", mockConfig.parse({ type: "mock", ...input }));
}

describeProviderConformance({
  label: "mock",
  capabilities: {
    embeddings: true,
    // A scripted answer takes every parameter (seed, penalties and stops change nothing in a script), but has no logprobs or audio to give.
    features: {
      n: "sent", logprobs: "refused", legacyFunctions: "sent", functionMessage: "sent", imageUrl: "sent", pdfFile: "sent", inputAudio: "sent",
      seed: "sent", penalties: "sent", logitBias: "sent", audioOutput: "refused", singleToolCall: "sent", neutralValues: "sent", whitespaceStop: "sent", reasoningEffort: "sent",
    },
  },
  // the trailing plain step keeps calls after the scripted ones succeeding (the last step repeats)
  create: (scenarios, overrides = {}) => mock({ script: [...scenarios.map(toStep), {}], ...overrides }),
});

const signal = (): AbortSignal => new AbortController().signal;

describe("mock provider", () => {
  it("follows its script call by call and repeats the last step", async () => {
    const p = mock({ script: [{ status: 503 }, { reply: "second" }, { reply: "again" }] });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ status: 503 });
    expect((await p.chat(CONFORMANCE_REQUEST, { signal: signal() })).choices[0]!.message.content).toBe("second");
    expect((await p.chat(CONFORMANCE_REQUEST, { signal: signal() })).choices[0]!.message.content).toBe("again");
    expect((await p.chat(CONFORMANCE_REQUEST, { signal: signal() })).choices[0]!.message.content).toBe("again");
  });

  it("by default names the model and the prompt length, never the prompt itself", async () => {
    const p = mock();
    const secret = "my card number is 4111 1111 1111 1111";
    const result = await p.chat({ model: "gpt-demo", messages: [{ role: "user", content: secret }] }, { signal: signal() });
    expect(result.choices[0]!.message.content).toBe(`This is a mock reply from gpt-demo. Your prompt was ${secret.length} characters long.`);
    expect(result.choices[0]!.message.content).not.toContain("4111");
  });

  it("estimates usage deterministically from text length", async () => {
    const p = mock({ reply: "12345678" });
    const result = await p.chat({ model: "m", messages: [{ role: "user", content: "x".repeat(41) }] }, { signal: signal() });
    expect(result.usage).toEqual({ inputTokens: 11, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
    expect(result.usageReported).toBe(true);
  });

  it("streams the configured reply word by word, then its usage", async () => {
    const p = mock({ reply: "Paris is the capital." });
    const events: StreamEvent[] = [];
    for await (const event of await p.stream(CONFORMANCE_REQUEST, { signal: signal() })) events.push(event);
    const contents = events.flatMap((e) => (e.type === "chunk" ? [e.chunk.choices[0]!.delta.content ?? ""] : []));
    expect(contents).toEqual(["Paris ", "is ", "the ", "capital.", ""]);
    expect(events.at(-1)).toMatchObject({ type: "usage", usage: { outputTokens: 6 } });
  });

  it("waits latencyMs and chunkDelayMs", async () => {
    const p = mock({ reply: "a b c", latencyMs: 30, chunkDelayMs: 10 });
    const started = performance.now();
    for await (const _ of await p.stream(CONFORMANCE_REQUEST, { signal: signal() })) void _;
    // 30 ms + 3 gaps of 10 ms; each of the four timers may fire up to a millisecond early by this clock.
    expect(performance.now() - started).toBeGreaterThanOrEqual(56);
  });

  it("carries retryAfterSeconds into retryAfterMs", async () => {
    const p = mock({ script: [{ status: 429, retryAfterSeconds: 1.5 }] });
    const err = await p.chat(CONFORMANCE_REQUEST, { signal: signal() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: "http", status: 429, retryAfterMs: 1500, isRetryable: true });
  });

  it("treats 529 as overloaded: retryable and fallbackable", async () => {
    const p = mock({ script: [{ status: 529 }] });
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: signal() })).rejects.toMatchObject({ isRetryable: true, fallbackable: true });
  });

  it("embeds deterministically: equal inputs equal unit vectors, different inputs different ones", async () => {
    const p = mock({ embeddingDimensions: 16 });
    const a = await p.embed({ model: "e", input: ["alpha", "beta", "alpha"] }, { signal: signal() });
    const b = await mock({ embeddingDimensions: 16 }).embed({ model: "e", input: "alpha" }, { signal: signal() });
    const [first, second, third] = a.data.map((d) => d.embedding as number[]);
    expect(first).toHaveLength(16);
    expect(first).toEqual(third);
    expect(first).toEqual(b.data[0]!.embedding);
    expect(first).not.toEqual(second);
    expect(Math.hypot(...first!)).toBeCloseTo(1, 10);
    expect(a.usage.inputTokens).toBe(5); // ceil(chars / 4) per input: 2 + 1 + 2
  });

  it("refuses more dimensions than any real model has, before building a vector", async () => {
    const p = mock();
    const asked = p.embed({ model: "e", input: "alpha", dimensions: 1_000_000 }, { signal: signal() });
    await expect(asked).rejects.toMatchObject({ code: "invalid_request", param: "dimensions" });
    const most = await p.embed({ model: "e", input: "alpha", dimensions: MOCK_MAX_DIMENSIONS }, { signal: signal() });
    expect(most.data[0]!.embedding).toHaveLength(MOCK_MAX_DIMENSIONS);
  });

  it("answers a json_schema response_format with a value that fits the schema", async () => {
    const schema = compileOutputSchema("{name: string, tags: string[], kind: \"a\" | \"b\", owner: {id: integer, email: string | null}, score?: number}");
    const result = await mock().chat({ ...CONFORMANCE_REQUEST, response_format: nativeResponseFormat(schema) }, { signal: signal() });
    const answer = JSON.parse(result.choices[0]!.message.content!);
    expect(schema.validate(answer)).toEqual([]);
    expect(answer).toMatchObject({ name: "example", tags: ["example"], kind: "a", owner: { id: 1, email: "example" } });
    const scripted = await mock({ reply: "fixed" }).chat({ ...CONFORMANCE_REQUEST, response_format: nativeResponseFormat(schema) }, { signal: signal() });
    expect(scripted.choices[0]!.message.content).toBe("fixed");
  });
});
