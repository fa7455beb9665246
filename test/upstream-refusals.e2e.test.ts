import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { gatewayOverFake, recordedRow } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * How an upstream's refusal reaches the caller, through the official SDK: what is the caller's to fix
 * (invalid_request) and what is Airlock's own configuration or the upstream's state (provider_error).
 */
describe.each(STORE_KINDS)("upstream refusals on %s", (kind) => {
  describe("gemini", () => {
    const env = gatewayOverFake(kind, "gemini", (url) => ({
      retry: { maxAttempts: 1 },
      providers: { gem: { type: "gemini", baseUrl: url, apiKey: "AIzaSy-wrong-key-0000" } },
      models: [{ id: "gem/gemini-2.5-flash", price: { input: "0.3", output: "2.5", per: "1M" } }],
    }));

    it("answers a key Google refuses with a 400 as provider_error, naming the credentials, not as the caller's bad request", async () => {
      const message = "API key not valid. Please pass a valid API key.";
      env.upstream.push({
        kind: "error",
        status: 400,
        body: {
          error: {
            code: 400,
            message,
            status: "INVALID_ARGUMENT",
            details: [
              { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com", metadata: { service: "generativelanguage.googleapis.com" } },
              { "@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US", message },
            ],
          },
        },
      });
      const error = await env.gw
        .client()
        .chat.completions.create({ model: "gem/gemini-2.5-flash", messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      const apiError = error as InstanceType<typeof OpenAI.APIError>;
      expect(apiError.status).toBe(502);
      expect(apiError.code).toBe("provider_error");
      expect(apiError.message).toContain("gem refused Airlock's credentials; check the provider's apiKey");
      expect(apiError.message).not.toContain(message);
      const row = await recordedRow(env.gw, apiError.headers?.get("x-request-id") ?? null);
      expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", httpStatus: 502 });
    });
  });
});
