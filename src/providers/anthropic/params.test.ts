import { afterEach, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "../../../test/fakes/upstream.js";
import { anthropicConfig } from "../../config/providers.js";
import { ProviderError } from "../errors.js";
import { CONFORMANCE_REQUEST } from "../provider.conformance.js";
import type { ChatRequest } from "../spec.js";
import { AnthropicProvider } from "./provider.js";

/** OpenAI's `stop` as Claude receives it (what the fake upstream was sent): Anthropic refuses empty and whitespace-only stop sequences. */
describe("anthropic stop sequences", () => {
  let fake: FakeUpstream | undefined;
  let provider: AnthropicProvider | undefined;
  afterEach(async () => {
    await provider?.close();
    await fake?.close();
  });
  const setup = async () => {
    fake = await startFakeUpstream("anthropic");
    provider = new AnthropicProvider("claude", anthropicConfig.parse({ type: "anthropic", baseUrl: fake.url, apiKey: "k" }));
    return provider;
  };
  const signal = () => new AbortController().signal;

  it("a whitespace-only stop (\"\\n\", as completion-style clients send it) is refused as unsupported, chat and stream, before any call", async () => {
    const claude = await setup();
    for (const stop of ["\n", ["END", "\n\n"], [" "]]) {
      const request: ChatRequest = { ...CONFORMANCE_REQUEST, stop };
      for (const call of [() => claude.chat(request, { signal: signal() }), () => claude.stream(request, { signal: signal() })]) {
        const err = await call().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ProviderError);
        expect(err).toMatchObject({ kind: "unsupported", fallbackable: true, provider: "claude" });
        expect((err as Error).message).toContain("stop");
      }
    }
    expect(fake!.requests).toHaveLength(0);
  });

  it("empty stop strings ask for nothing and are left out; the others are sent as stop_sequences", async () => {
    const claude = await setup();
    await claude.chat({ ...CONFORMANCE_REQUEST, stop: ["", "END", " END "] }, { signal: signal() });
    expect(fake!.requests.at(-1)!.body.stop_sequences).toEqual(["END", " END "]);
    await claude.chat({ ...CONFORMANCE_REQUEST, stop: "" }, { signal: signal() });
    await claude.chat({ ...CONFORMANCE_REQUEST, stop: [] }, { signal: signal() });
    for (const sent of fake!.requests.slice(-2)) expect(sent.body).not.toHaveProperty("stop_sequences");
  });
});
