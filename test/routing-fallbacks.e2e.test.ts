import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { ask, rawChat, refusal, routesSuite, rowOf } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Which upstream refusals move a call to the next candidate of its route, end to end: the official SDK →
 * the gateway → fake upstreams → the ledger. A refusal that says "this model, or this provider's account,
 * cannot take the request" is no reason to fail a route whose next target may well serve it, as LiteLLM
 * and Portkey users expect; one that says the request itself is wrong still ends the call.
 */

const OPENAI_TOO_LONG = {
  error: {
    message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens.",
    type: "invalid_request_error",
    param: "messages",
    code: "context_length_exceeded",
  },
};
const ANTHROPIC_TOO_LONG = { type: "error", error: { type: "invalid_request_error", message: "prompt is too long: 210000 tokens > 200000 maximum" } };
/** A variable no test environment sets: a provider's key reference to it reads nothing. */
const UNSET = "AIRLOCK_TEST_KEY_NEVER_SET";
const BAD_KEY = { error: { message: "Incorrect API key provided: sk-****. You can find your API key at https://platform.openai.com/account/api-keys.", type: "invalid_request_error", param: null, code: "invalid_api_key" } };

describe.each(STORE_KINDS)("fallback decisions on %s", (kind) => {
  let u1: FakeUpstream;
  let u2: FakeUpstream;
  const { config, gateway, sent } = routesSuite(kind, (upstreams) => ([u1, u2] = upstreams));
  const route = () => config({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 }, operations: { answer: { model: "p1/m1", fallbacks: ["p2/m2"] } } });

  /** One call on the route whose primary refused it once: served by the fallback without a retry, the refusal on its ledger row. */
  async function expectServedByFallback(gw: Awaited<ReturnType<typeof gateway>>, status: number, reason: string) {
    const served = await ask(gw, "answer");
    expect(served).toMatchObject({ model: "p2/m2", attempts: 2 });
    expect(sent()).toEqual([1, 1, 0]);
    const row = await rowOf(gw, served.requestId);
    expect(row.attempts.map((a) => [a.model, a.status ?? null, a.reason ?? null])).toEqual([
      ["p1/m1", status, reason],
      ["p2/m2", null, null],
    ]);
    return row;
  }

  it("falls back to the next model, without a retry, when the prompt is over the primary's context window", async () => {
    const gw = await gateway(route());
    u1.push({ kind: "error", status: 400, body: OPENAI_TOO_LONG });
    const row = await expectServedByFallback(gw, 400, "context_length_exceeded");
    expect(row.fallbacks).toBe(1);

    // Anthropic's wording, and a 413 (Anthropic's request_too_large, or a proxy's limit), the same way.
    u1.push({ kind: "error", status: 400, body: ANTHROPIC_TOO_LONG });
    expect(await ask(gw, "answer")).toMatchObject({ model: "p2/m2", attempts: 2 });
    u1.push({ kind: "error", status: 413, body: { type: "error", error: { type: "request_too_large", message: "Request exceeds the maximum allowed number of bytes." } } });
    expect(await ask(gw, "answer")).toMatchObject({ model: "p2/m2", attempts: 2 });
    expect(sent()).toEqual([3, 3, 0]);
  });

  it("falls back the same way before a stream's first byte", async () => {
    const gw = await gateway(route());
    u1.push({ kind: "error", status: 400, body: OPENAI_TOO_LONG });
    const { data, response } = await gw
      .client()
      .chat.completions.create({ model: "answer", stream: true, messages: [{ role: "user", content: "a long prompt" }] })
      .withResponse();
    let text = "";
    for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? "";
    expect(text.length).toBeGreaterThan(0);
    expect(response.headers.get("x-airlock-model")).toBe("p2/m2");
    expect(response.headers.get("x-airlock-attempts")).toBe("2");
    expect(sent()).toEqual([1, 1, 0]);
  });

  it("still answers 400 invalid_request with the upstream's words when no candidate can take the prompt", async () => {
    const gw = await gateway(route());
    u1.push({ kind: "error", status: 400, body: OPENAI_TOO_LONG });
    u2.push({ kind: "error", status: 400, body: ANTHROPIC_TOO_LONG });
    const res = await rawChat(gw, gw.adminKey, { model: "answer" });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", type: "invalid_request_error" });
    expect(res.body.error.message).toBe("p2 rejected the request: prompt is too long: 210000 tokens > 200000 maximum");
    expect(res.body.error.attempts.map((a: any) => a.error)).toEqual(["context_length_exceeded", "context_length_exceeded"]);
    expect(sent()).toEqual([1, 1, 0]);
  });

  it("falls back to another provider, without a retry, when one provider refuses Airlock's key", async () => {
    const gw = await gateway(route());
    u1.push({ kind: "error", status: 401, body: BAD_KEY });
    await expectServedByFallback(gw, 401, "credentials_refused");

    // A 403 that is about the key (not about the model) the same way.
    u1.push({ kind: "error", status: 403, body: { error: { message: "You are not allowed to sample from this key", type: "invalid_request_error", code: null } } });
    expect(await ask(gw, "answer")).toMatchObject({ model: "p2/m2", attempts: 2 });
  });

  it("falls back, without a retry, when one provider's account is out of credit (OpenRouter's 402)", async () => {
    const gw = await gateway(route());
    u1.push({ kind: "error", status: 402, body: { error: { message: "Insufficient credits. Add more using https://openrouter.ai/credits", code: 402 } } });
    await expectServedByFallback(gw, 402, "insufficient_quota");
  });

  it("falls back, without a retry, when an Azure OpenAI resource has no deployment for the model", async () => {
    const gw = await gateway(route());
    const missing = { error: { code: "DeploymentNotFound", message: "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again." } };
    u1.push({ kind: "error", status: 404, body: missing });
    await expectServedByFallback(gw, 404, "model_unavailable");
  });

  it("counts refused keys and an account out of credit against the target's breaker, so an open one is passed over without a request", async () => {
    const gw = await gateway({ ...route(), breaker: { failureThreshold: 2, minRequests: 1_000, cooldownMs: 60_000 } });
    u1.push({ kind: "error", status: 401, body: BAD_KEY }, { kind: "error", status: 429, body: { error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" } } });
    expect(await ask(gw, "answer")).toMatchObject({ model: "p2/m2", attempts: 2 });
    expect(await ask(gw, "answer")).toMatchObject({ model: "p2/m2", attempts: 2 });
    const skipped = await ask(gw, "answer");
    expect(skipped).toMatchObject({ model: "p2/m2", attempts: 2 });
    expect(sent()).toEqual([2, 3, 0]);
    const row = await rowOf(gw, skipped.requestId);
    expect(row.attempts.map((a) => [a.model, a.reason ?? null])).toEqual([
      ["p1/m1", "circuit_open"],
      ["p2/m2", null],
    ]);
  });

  it("names the refused credentials when they end the route", async () => {
    const gw = await gateway(route());
    u1.push({ kind: "error", status: 401, body: BAD_KEY });
    u2.push({ kind: "error", status: 401, body: BAD_KEY });
    const failed = await refusal(gw, "answer");
    expect(failed).toMatchObject({ status: 502, code: "provider_error" });
    expect(failed.message).toContain("p2 refused Airlock's credentials; check the provider's apiKey");
    expect(sent()).toEqual([1, 1, 0]);
  });

  it("falls back past a provider whose env: key is unset, sending it nothing, and names the variable when it is the last", async () => {
    delete process.env[UNSET];
    const cfg = route();
    cfg.providers!.p1 = { type: "openai-compatible", baseUrl: u1.url, apiKey: `env:${UNSET}` };
    cfg.operations!.keyless_last = { model: "p2/m2", fallbacks: ["p1/m1"] };
    const gw = await gateway(cfg);
    const served = await ask(gw, "answer");
    expect(served).toMatchObject({ model: "p2/m2", attempts: 2 });
    expect(sent()).toEqual([0, 1, 0]);
    const row = await rowOf(gw, served.requestId);
    expect(row.attempts.map((a) => [a.model, a.reason ?? null])).toEqual([
      ["p1/m1", "misconfigured"],
      ["p2/m2", null],
    ]);

    u2.push({ kind: "error", status: 400, body: OPENAI_TOO_LONG });
    const failed = await rawChat(gw, gw.adminKey, { model: "keyless_last" });
    expect(failed.status).toBe(500);
    expect(failed.body.error).toMatchObject({ code: "misconfigured", message: `provider "p1" has no API key: its apiKey reads the environment variable ${UNSET}, which is unset or empty` });
    expect(sent()).toEqual([0, 2, 0]);
  });

  it("ends the call on a 400 about the request itself, without trying the fallback", async () => {
    const gw = await gateway(route());
    u1.push({ kind: "error", status: 400, body: { error: { message: "Invalid value for 'temperature'", type: "invalid_request_error", param: "temperature", code: "invalid_value" } } });
    const failed = await refusal(gw, "answer");
    expect(failed).toMatchObject({ status: 400, code: "invalid_request" });
    expect(sent()).toEqual([1, 0, 0]);
  });
});
