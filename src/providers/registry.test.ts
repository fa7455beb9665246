import { describe, expect, it } from "vitest";
import { providerConfig } from "../config/providers.js";
import { AnthropicProvider } from "./anthropic/provider.js";
import { MockProvider } from "./mock/provider.js";
import { NoopProvider } from "./noop/provider.js";
import { OpenAICompatibleProvider } from "./openai-compatible/provider.js";
import { createProvider } from "./registry.js";

describe("createProvider", () => {
  it.each([
    [{ type: "openai-compatible", baseUrl: "https://openrouter.ai/api/v1", apiKey: "k" }, OpenAICompatibleProvider, "openai-compatible"],
    [{ type: "anthropic", apiKey: "k" }, AnthropicProvider, "anthropic"],
    [{ type: "mock" }, MockProvider, "mock"],
    [{ type: "noop" }, NoopProvider, "noop"],
  ] as const)("builds %o", async (raw, adapter, type) => {
    const provider = createProvider("upstream", providerConfig.parse(raw));
    expect(provider).toBeInstanceOf(adapter);
    expect(provider).toMatchObject({ specVersion: "v1", name: "upstream", type });
    await provider.close();
  });
});
