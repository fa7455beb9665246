import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../src/gateway/http.js";
import type { ChatRequest } from "../src/providers/spec.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { captureLogs } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * What a client may put in a chat body, end to end: OpenAI's own shapes reach every adapter, malformed
 * ones are refused up front with the `param` that names them, and a refusal is still a ledger row.
 */
describe.each(STORE_KINDS)("client input on %s", (kind) => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gemini: FakeUpstream;
  let gw: TestGateway;
  const logs = captureLogs();

  beforeAll(async () => {
    [openai, anthropic, gemini] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("anthropic"), startFakeUpstream("gemini")]);
    gw = await startTestGateway(
      kind,
      {
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
        providers: {
          oai: { type: "openai-compatible", baseUrl: openai.url, apiKey: "sk-oai-upstream" },
          anth: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-upstream" },
          gem: { type: "gemini", baseUrl: gemini.url, apiKey: "gem-upstream-key" },
        },
        models: [
          { id: "oai/o4-mini", price: { input: "1.10", output: "4.40", per: "1M" } },
          { id: "anth/claude-sonnet-4-5", price: { input: "3", output: "15", per: "1M" } },
          { id: "gem/gemini-2.5-flash", price: { input: "0.30", output: "2.50", per: "1M" } },
        ],
        operations: { claude_first: { model: "anth/claude-sonnet-4-5", fallbacks: ["oai/o4-mini"] } },
      },
      { logger: logs.logger },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
  });

  function post(body: unknown, requestId: string): Promise<Response> {
    return fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  const toolHistory = [
    { role: "user", content: "What is the weather in Paris?" },
    { role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }] },
    { role: "tool", tool_call_id: "call_1", content: '{"celsius":21}' },
  ];

  it.each(["anth/claude-sonnet-4-5", "gem/gemini-2.5-flash"])("serves a tool-calling history whose assistant message has no content key on %s", async (model) => {
    const upstream = model.startsWith("anth") ? anthropic : gemini;
    const before = upstream.requests.length;
    const res = await post({ model, messages: toolHistory }, `tools-${kind}-${model.slice(0, 3)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-airlock-model")).toBe(model);
    const sent = upstream.requests.slice(before).at(-1)!.body;
    if (model.startsWith("anth")) {
      expect(sent.messages[1]).toEqual({ role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "weather", input: { city: "Paris" } }] });
    } else {
      expect(sent.contents[1].parts[0].functionCall).toEqual({ name: "weather", args: { city: "Paris" } });
    }
  });

  const malformed: Array<[string, unknown[], string]> = [
    ["a null part", [{ role: "user", content: [null] }], "messages[0].content[0]"],
    ["a number part", [{ role: "user", content: [1] }], "messages[0].content[0]"],
    ["an image part without image_url", [{ role: "user", content: [{ type: "image_url" }] }], "messages[0].content[0].image_url"],
    ["an image_url that is a bare string", [{ role: "user", content: [{ type: "image_url", image_url: "http://x" }] }], "messages[0].content[0].image_url"],
    ["a text part without text", [{ role: "user", content: [{ type: "text" }] }], "messages[0].content[0].text"],
    ["a user message without content", [{ role: "user" }], "messages[0].content"],
    ["tool_calls that are a string", [{ role: "user", content: "hi" }, { role: "assistant", content: null, tool_calls: "x" }], "messages[1].tool_calls"],
    ["a null tool call", [{ role: "user", content: "hi" }, { role: "assistant", tool_calls: [null] }], "messages[1].tool_calls[0]"],
    ["a tool call whose function is null", [{ role: "user", content: "hi" }, { role: "assistant", tool_calls: [{ id: "c", type: "function", function: null }] }], "messages[1].tool_calls[0].function"],
  ];

  const badOptions: Array<[string, Record<string, unknown>, string]> = [
    ["a temperature that is text", { temperature: "text" }, "temperature"],
    ["max_tokens as a string", { max_tokens: "100000" }, "max_tokens"],
    ["max_completion_tokens of 0", { max_completion_tokens: 0 }, "max_completion_tokens"],
    ["a fractional n", { n: 1.5 }, "n"],
    ["tools that are text", { tools: "text" }, "tools"],
    ["a function tool without a name", { tools: [{ type: "function", function: {} }] }, "tools[0].function"],
    ["a stop list holding a number", { stop: ["END", 3] }, "stop"],
  ];

  it.each(badOptions)("refuses %s with 400 naming it, before any upstream", async (_case, options, param) => {
    const sentBefore = anthropic.requests.length + gemini.requests.length + openai.requests.length;
    for (const model of ["oai/o4-mini", "anth/claude-sonnet-4-5"]) {
      const res = await post({ model, messages: [{ role: "user", content: "hi" }], ...options }, `opt-${kind}-${param.replace(/[^a-z0-9]/gi, "")}-${model.slice(0, 3)}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "invalid_request", param });
    }
    expect(anthropic.requests.length + gemini.requests.length + openai.requests.length).toBe(sentBefore);
  });

  it("still takes these options as numbers, lists and nulls", async () => {
    const res = await post({ model: "oai/o4-mini", messages: [{ role: "user", content: "hi" }], temperature: 0.2, top_p: null, max_tokens: 64, n: 1, stop: ["END"], tools: [{ type: "function", function: { name: "f" } }] }, `opt-${kind}-ok`);
    expect(res.status).toBe(200);
  });

  it.each(malformed)("refuses %s with 400 naming the param, before any upstream, and records the refusal", async (_case, messages, param) => {
    const requestId = `bad-${kind}-${param.replace(/[^a-z0-9]/gi, "")}-${messages.length}`;
    const sentBefore = anthropic.requests.length + gemini.requests.length + openai.requests.length;
    for (const model of ["anth/claude-sonnet-4-5", "gem/gemini-2.5-flash"]) {
      const res = await post({ model, messages }, `${requestId}-${model.slice(0, 3)}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; param: string; type: string } };
      expect(body.error).toMatchObject({ code: "invalid_request", type: "invalid_request_error", param });
    }
    expect(anthropic.requests.length + gemini.requests.length + openai.requests.length).toBe(sentBefore);
    const row = await recordedRow(gw, `${requestId}-ant`);
    expect(row).toMatchObject({ outcome: "refused", errorCode: "invalid_request" });
  });

  it.each([
    ["metadata", (deep: unknown) => ({ metadata: { nested: deep } })],
    ["tools[].function.parameters", (deep: unknown) => ({ tools: [{ type: "function", function: { name: "f", parameters: deep } }] })],
  ])("refuses a body nested 150,000 levels deep in %s with 400", async (_where, place) => {
    const levels = 150_000;
    const deep = "[".repeat(levels) + "]".repeat(levels);
    const marker = '"__DEEP__"';
    const text = JSON.stringify({ model: "oai/o4-mini", messages: [{ role: "user", content: "hi" }], ...place("__DEEP__") }).replace(marker, deep);
    const res = await post(text, `deep-${kind}-${_where.length}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toContain(String(MAX_JSON_DEPTH));
  });

  it("takes a body nested just within the limit", async () => {
    // The body and its tool wrap the parameters in 5 levels: {} tools [] {} function {} parameters.
    const inner = MAX_JSON_DEPTH - 5;
    const parameters = JSON.parse("[".repeat(inner) + "]".repeat(inner)) as unknown;
    const res = await post({ model: "oai/o4-mini", messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "f", parameters } }] }, `shallow-${kind}`);
    expect(res.status).toBe(200);
  });

  it("moves on to the next candidate when an adapter fails inside Airlock, and logs it without prompt text", async () => {
    // The library takes requests without the gateway's checks: a null part reaches the Anthropic adapter.
    const secret = "PROMPT-TEXT-THAT-MUST-NOT-BE-LOGGED";
    const request = { model: "claude_first", messages: [{ role: "user", content: [null, { type: "text", text: secret }] }] } as unknown as ChatRequest;
    const requestId = `internal-${kind}`;
    const ctx = { principal: { keyId: "key_lib", name: "lib", kind: "service" as const, userId: null, teamId: null, orgId: null }, requestId };
    const outcome = await gw.plane.chat(request, ctx);
    expect(outcome.model).toBe("oai/o4-mini");
    expect(outcome.attempts.map((a) => [a.model, a.reason ?? null])).toEqual([
      ["anth/claude-sonnet-4-5", "internal"],
      ["oai/o4-mini", null],
    ]);
    const line = logs.lines.find((l) => l.requestId === requestId && l.level >= 50);
    expect(line).toMatchObject({ model: "anth/claude-sonnet-4-5", provider: "anth", error: "TypeError" });
    expect(logs.text()).not.toContain(secret);
  });

  describe("the requested model", () => {
    it("refuses a 1 MB model name (over 256 characters), and records it cut short", async () => {
      const requestId = `long-model-${kind}`;
      const res = await post({ model: "m".repeat(1_000_000), messages: [{ role: "user", content: "hi" }] }, requestId);
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text.length).toBeLessThan(1000); // not echoed
      expect(JSON.parse(text).error).toMatchObject({ code: "invalid_request", param: "model" });
      const row = await recordedRow(gw, requestId);
      expect(row.outcome).toBe("refused");
      expect(row.requestedModel).toBe(`${"m".repeat(255)}…`);
    });

    it.each([
      ["a NUL", "bad\u0000model", "bad\ufffdmodel"],
      ["an unpaired surrogate", "bad\ud800model", "bad\ufffdmodel"],
    ])("refuses a model name with %s, and still records the call", async (_case, model, stored) => {
      const requestId = `ctl-model-${kind}-${_case.length}`;
      const res = await post({ model, messages: [{ role: "user", content: "hi" }] }, requestId);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe("model");
      const row = await recordedRow(gw, requestId);
      expect(row).toMatchObject({ outcome: "refused", errorCode: "invalid_request", requestedModel: stored });
    });
  });
});
