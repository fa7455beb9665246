import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "./load.js";

/** A model id without its provider is reported once, as what it must be, not also as a made-up provider. */
describe("a model id without a provider", () => {
  it("is one issue, naming the expected form", () => {
    let message = "";
    try {
      resolveConfig({ providers: { oai: { type: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1", apiKey: "k" } }, models: [{ id: "gpt-4o" }] }, "test");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as ConfigError).message;
    }
    expect(message).toBe('invalid configuration (test):\n  - models.0.id: expected "provider/model-id"');
  });
});
