import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { gatewayOverFake, recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
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
      const body = fixtureJson("gemini/error-api-key-invalid");
      const message: string = body.error.message;
      env.upstream.push({ kind: "error", status: 400, body });
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

  describe("an error object in a 200 answer (OpenRouter relaying a failed provider)", () => {
    let router: FakeUpstream;
    let backup: FakeUpstream;
    let gw: TestGateway;

    beforeAll(async () => {
      [router, backup] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("anthropic")]);
      gw = await startTestGateway(kind, {
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
        providers: { router: { type: "openai-compatible", baseUrl: router.url, apiKey: "sk-or-test" }, backup: { type: "anthropic", baseUrl: backup.url, apiKey: "sk-ant-test" } },
        models: [
          { id: "router/anthropic/claude-sonnet-4", price: { input: "3", output: "15", per: "1M" } },
          { id: "backup/claude-sonnet-4-5", price: { input: "3", output: "15", per: "1M" } },
        ],
        operations: { relayed: { model: "router/anthropic/claude-sonnet-4", fallbacks: ["backup/claude-sonnet-4-5"] } },
      });
    });

    afterAll(async () => {
      await gw?.close();
      await router?.close();
      await backup?.close();
    });

    const messages = [{ role: "user" as const, content: "What is the capital of France?" }];

    it("falls back when the answer says the provider failed, without retrying the relay", async () => {
      router.push({ kind: "body", body: { error: { code: 502, message: "Provider returned error", metadata: { provider_name: "Anthropic" } } } });
      const { data, response } = await gw.client().chat.completions.create({ model: "relayed", messages }).withResponse();
      expect(data.model).toBe("backup/claude-sonnet-4-5");
      expect(response.headers.get("x-airlock-attempts")).toBe("2");
      expect(router.requests.length).toBe(1);
      const row = await recordedRow(gw, response.headers.get("x-request-id"));
      expect(row.attempts.map((a) => [a.model, a.outcome, a.reason ?? null])).toEqual([
        ["router/anthropic/claude-sonnet-4", "error", "protocol"],
        ["backup/claude-sonnet-4-5", "success", null],
      ]);
    });

    it("falls back when a stream's first event is such an error, before anything reached the client", async () => {
      router.push({ kind: "ok", fixture: "openrouter/provider-error-first" });
      const { data, response } = await gw.client().chat.completions.create({ model: "relayed", messages, stream: true }).withResponse();
      let text = "";
      for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? "";
      expect(response.headers.get("x-airlock-model")).toBe("backup/claude-sonnet-4-5");
      expect(text).toContain("Paris");
    });

    it("falls back, without retrying, when OpenAI answers 403 that the project may not use the model, and does not blame the key", async () => {
      router.push({
        kind: "error",
        status: 403,
        body: { error: { message: "Project `proj_JMo3Q9spNIEWhSxusokLegJY` does not have access to model `claude-sonnet-4`", type: "invalid_request_error", param: null, code: "model_not_found" } },
      });
      const before = router.requests.length;
      const { data, response } = await gw.client().chat.completions.create({ model: "relayed", messages }).withResponse();
      expect(data.model).toBe("backup/claude-sonnet-4-5");
      expect(router.requests.length - before).toBe(1);
      const row = await recordedRow(gw, response.headers.get("x-request-id"));
      expect(row.attempts.map((a) => [a.model, a.status ?? null, a.reason ?? null])).toEqual([
        ["router/anthropic/claude-sonnet-4", 403, "model_unavailable"],
        ["backup/claude-sonnet-4-5", null, null],
      ]);
    });

    it("still stops on an error object that says nothing of the provider's state", async () => {
      const before = backup.requests.length;
      router.push({ kind: "body", body: { error: { code: "invalid_prompt", message: "Your prompt was flagged" } } });
      const error = await gw.client().chat.completions.create({ model: "relayed", messages }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect(backup.requests.length).toBe(before);
    });
  });
});
