import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import type { TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { structuredSuite } from "./support/structured.js";

/**
 * Answers that are not plain JSON text on calls with an output schema (docs/api.md, "Structured
 * output"): several choices (`n`), tool calls, refusals and content that is not a string, through the official `openai` SDK and raw HTTP → the gateway → fake OpenAI
 * and Anthropic upstreams → the ledger in a real store. The shared gateway is in support/structured.ts.
 */

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
];

/** The `data:` payloads of a raw SSE body, in order. */
const events = (text: string) =>
  text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice("data: ".length));

describe.each(STORE_KINDS)("structured output: answers that are not JSON text, on %s", (kind) => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  const { rid, rowFor, post, upstreamCount } = structuredSuite(kind, (started) => ({ openai, anthropic, gw } = started));

  describe("tool calls", () => {
    it("returns an answer that calls tools as it came, without a check or a repair", async () => {
      openai.push({ kind: "ok", fixture: "openai/tool-calls" });
      const before = upstreamCount();
      const id = rid();
      const completion = await gw.client().chat.completions.create({ model: "profile", messages: [{ role: "user", content: "Weather in Paris?" }], tools: TOOLS }, { headers: { "x-request-id": id } });
      expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
      expect(completion.choices[0]?.message.content).toBeNull();
      expect(completion.choices[0]?.message.tool_calls?.map((call) => call.type === "function" && call.function.name)).toEqual(["get_weather", "get_weather"]);
      expect(upstreamCount() - before).toBe(1);
      // The schema is still asked for: it shapes the answer that follows the tools' results.
      expect(openai.requests.at(-1)!.body.response_format).toMatchObject({ type: "json_schema" });
      expect(await rowFor(id)).toMatchObject({ outcome: "success", errorCode: null, attemptCount: 1, toolCalls: 2 });
    });

    it("ends a streamed answer that calls tools with [DONE], not a schema_validation event", async () => {
      openai.push({ kind: "ok", fixture: "openai/tool-calls" });
      const res = await post({ model: "profile", stream: true, messages: [{ role: "user", content: "Weather in Paris?" }], tools: TOOLS });
      expect(res.status).toBe(200);
      const data = events(res.text);
      expect(data.at(-1)).toBe("[DONE]");
      expect(data.some((d) => d.includes('"error"'))).toBe(false);
      expect(data.some((d) => d.includes('"tool_calls"'))).toBe(true);
      expect(await rowFor(res.requestId)).toMatchObject({ outcome: "success", stream: true });
    });

    it("returns a prompt-mode model's tool call with its preamble text, unchecked", async () => {
      anthropic.push({ kind: "ok", fixture: "anthropic/tool-use" });
      const before = upstreamCount();
      const res = await post({ model: "profile_anth", messages: [{ role: "user", content: "Weather in Paris?" }], tools: TOOLS });
      expect(res.status).toBe(200);
      expect(res.json.choices[0].finish_reason).toBe("tool_calls");
      expect(res.json.choices[0].message.content).toBe("I'll check the current weather in Paris.");
      expect(res.json.choices[0].message.tool_calls).toHaveLength(1);
      expect(upstreamCount() - before).toBe(1);
    });
  });

  describe("refusals", () => {
    it("returns a model's refusal as it came, without a repair, and bills the one call", async () => {
      openai.push({ kind: "ok", fixture: "openai/refusal" });
      const before = upstreamCount();
      const id = rid();
      const completion = await gw.client().chat.completions.create({ model: "profile", messages: [{ role: "user", content: "Describe Ada." }] }, { headers: { "x-request-id": id } });
      expect(completion.choices[0]?.message.content).toBeNull();
      expect(completion.choices[0]?.message.refusal).toBe("I'm sorry, I can't help with that.");
      expect(upstreamCount() - before).toBe(1);
      expect(await rowFor(id)).toMatchObject({ outcome: "success", attemptCount: 1, inputTokens: 96, outputTokens: 9 });
    });

    it("ends a streamed refusal with [DONE], not a schema_validation event", async () => {
      openai.push({ kind: "ok", fixture: "openai/refusal" });
      const res = await post({ model: "profile", stream: true, messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(200);
      const data = events(res.text);
      expect(data.at(-1)).toBe("[DONE]");
      const refusal = data.slice(0, -1).map((d) => JSON.parse(d).choices?.[0]?.delta?.refusal ?? "").join("");
      expect(refusal).toBe("I'm sorry, I can't help with that.");
      expect(await rowFor(res.requestId)).toMatchObject({ outcome: "success", stream: true });
    });
  });

  describe("content that is not a string", () => {
    const answer = (content: unknown) => ({ kind: "ok" as const, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }] });

    it("reads an answer given as a list of text parts, and returns its JSON as the content", async () => {
      const valid = '{"name":"Ada","tags":["math"]}';
      openai.push(answer([{ type: "text", text: valid.slice(0, 10) }, { type: "text", text: valid.slice(10) }]));
      const before = upstreamCount();
      const completion = await gw.client().chat.completions.create({ model: "profile", messages: [{ role: "user", content: "Describe Ada." }] });
      expect(completion.choices[0]?.message.content).toBe(valid);
      expect(upstreamCount() - before).toBe(1);
    });

    it("repairs, then refuses with 422, an answer whose content carries no text, never a 500", async () => {
      openai.push(answer(42), answer({ text: "{}" }));
      const before = upstreamCount();
      const res = await post({ model: "profile", messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(422);
      expect(res.json.error).toMatchObject({ code: "schema_validation", raw: null, issues: [{ path: "(root)", expected: "JSON" }] });
      expect(upstreamCount() - before).toBe(2);
      expect(openai.requests.at(-1)!.body.messages[1]).toEqual({ role: "assistant", content: "(empty reply)" });
      expect(await rowFor(res.requestId)).toMatchObject({ outcome: "error", errorCode: "schema_validation", httpStatus: 422 });
    });
  });

  describe("several choices (n > 1)", () => {
    const choices = (...contents: string[]) => ({
      kind: "ok" as const,
      choices: contents.map((content, index) => ({ index, message: { role: "assistant", content }, finish_reason: "stop" })),
    });
    const VALID = '{"name":"Ada","tags":["math"]}';

    it("checks every choice, and repairs when one that is not the first does not fit", async () => {
      openai.push(choices(VALID, '{"name":42,"tags":[]}'), choices(VALID, VALID));
      const before = upstreamCount();
      const id = rid();
      const completion = await gw.client().chat.completions.create({ model: "profile", n: 2, messages: [{ role: "user", content: "Describe Ada." }] }, { headers: { "x-request-id": id } });
      expect(completion.choices.map((c) => c.message.content)).toEqual([VALID, VALID]);
      expect(upstreamCount() - before).toBe(2);
      const repair = openai.requests.at(-1)!.body;
      expect(repair.n).toBe(2);
      expect(repair.messages[1]).toEqual({ role: "assistant", content: '{"name":42,"tags":[]}' });
      expect((await rowFor(id)).attempts.map((a) => a.purpose ?? null)).toEqual([null, "repair"]);
    });

    it("refuses with 422 naming the choice that does not fit, when the operation does not repair", async () => {
      openai.push(choices(VALID, '{"name":"Ada","tags":"math"}'));
      const res = await post({ model: "profile_strict", n: 2, messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(422);
      expect(res.json.error).toMatchObject({ code: "schema_validation", raw: '{"name":"Ada","tags":"math"}' });
      expect(res.json.error.issues).toEqual([{ path: "tags", expected: "array", received: "string", message: expect.any(String) }]);
    });

    it("returns every choice wrapped in prose or a fence as its JSON alone", async () => {
      openai.push(choices(VALID, "Sure!\n```json\n" + VALID + "\n```"));
      const completion = await gw.client().chat.completions.create({ model: "profile", n: 2, messages: [{ role: "user", content: "Describe Ada." }] });
      expect(completion.choices.map((c) => c.message.content)).toEqual([VALID, VALID]);
    });
  });
});
