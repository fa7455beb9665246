import type { ProviderConfig } from "../config/providers.js";
import { AirlockError } from "../core/errors.js";
import { AnthropicProvider } from "./anthropic/provider.js";
import { GeminiProvider } from "./gemini/provider.js";
import { MockProvider } from "./mock/provider.js";
import { NoopProvider } from "./noop/provider.js";
import { OpenAICompatibleProvider } from "./openai-compatible/provider.js";
import type { ProviderV1 } from "./spec.js";

/** Builds the adapter for one configured provider. `name` is its key in config, e.g. `openrouter`. */
export function createProvider(name: string, config: ProviderConfig): ProviderV1 {
  switch (config.type) {
    case "openai-compatible":
      return new OpenAICompatibleProvider(name, config);
    case "anthropic":
      return new AnthropicProvider(name, config);
    case "gemini":
      return new GeminiProvider(name, config);
    case "mock":
      return new MockProvider(name, config);
    case "noop":
      return new NoopProvider(name, config);
    default:
      return unknownType(config);
  }
}

/** Unreachable for validated config; guards hand-built objects and future types missing a case here. */
function unknownType(config: never): never {
  throw new AirlockError("misconfigured", `unknown provider type: ${String((config as { type?: unknown }).type)}`);
}
