import { describe, expect, it } from "vitest";
import { mockConfig } from "../../config/providers.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_REQUEST } from "../provider.conformance.js";
import type { ChatChunk, StreamEvent } from "../spec.js";
import { MockProvider } from "./provider.js";

/** The mock answers OpenAI's parameters as an upstream would: `n` choices for `n`, and no logprobs it cannot give. */
describe("mock provider parameters", () => {
  const mock = () => new MockProvider("demo", mockConfig.parse({ type: "mock", reply: "Paris is the capital." }));
  const signal = () => new AbortController().signal;

  it("n: 3 answers three choices, indexed 0 to 2, and bills the output of each", async () => {
    const one = await mock().chat(CONFORMANCE_REQUEST, { signal: signal() });
    const three = await mock().chat({ ...CONFORMANCE_REQUEST, n: 3 }, { signal: signal() });
    expect(three.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([0, 1, 2].map((i) => [i, "Paris is the capital.", "stop"]));
    expect(three.usage.inputTokens).toBe(one.usage.inputTokens);
    expect(three.usage.outputTokens).toBe(3 * one.usage.outputTokens);
  });

  it("n: 2 streams both choices, each to its finish, then the usage of both", async () => {
    const events: StreamEvent[] = [];
    for await (const event of await mock().stream({ ...CONFORMANCE_REQUEST, n: 2 }, { signal: signal() })) events.push(event);
    const chunks = events.flatMap((e) => (e.type === "chunk" ? [e.chunk as ChatChunk] : []));
    for (const index of [0, 1]) {
      const mine = chunks.flatMap((c) => c.choices.filter((choice) => choice.index === index));
      expect(mine.map((c) => c.delta.content ?? "").join("")).toBe("Paris is the capital.");
      expect(mine.at(-1)!.finish_reason).toBe("stop");
    }
    const usage = events.find((e) => e.type === "usage");
    const single = (await mock().chat(CONFORMANCE_REQUEST, { signal: signal() })).usage;
    expect(usage).toMatchObject({ usage: { outputTokens: 2 * single.outputTokens } });
  });

  it("logprobs: true is refused as unsupported (fallbackable), since the mock has no token probabilities to give", async () => {
    const err = await mock().chat({ ...CONFORMANCE_REQUEST, logprobs: true }, { signal: signal() }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: "unsupported", fallbackable: true, provider: "demo" });
  });
});
