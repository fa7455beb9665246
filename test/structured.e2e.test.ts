import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { fixtureJson, type FakeUpstream } from "./fakes/upstream.js";
import type { TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { structuredSuite, type ErrorBody } from "./support/structured.js";

/**
 * Structured output end to end (docs/routing.md, "Structured output"): operation and request schemas,
 * repair and streaming, through the official `openai` SDK or raw HTTP → the gateway → fake OpenAI and
 * Anthropic upstreams speaking their wire formats → the ledger in a real store. Prompt templates are
 * in templates.e2e.test.ts; the shared gateway and its operations are in support/structured.ts.
 */

/** PROFILE_DSL (support/structured.ts) as the JSON Schema it compiles to. */
const PROFILE_SCHEMA = {
  type: "object",
  properties: { name: { type: "string" }, tags: { type: "array", items: { type: "string" } }, score: { type: "number" } },
  required: ["name", "tags"],
  additionalProperties: false,
};
const CITY_SCHEMA = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };

const VALID = '{"name":"Ada","tags":["math","engines"],"score":9}';
const INVALID_TAGS = '{"name": "Ada", "tags": "math"}';
const INVALID_NAME = '{"name": 42, "tags": ["math"]}';

describe.each(STORE_KINDS)("structured output and prompt templates on %s", (kind) => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  const { rid, rowFor, post, upstreamCount } = structuredSuite(kind, (started) => ({ openai, anthropic, gw } = started));
  const usage = fixtureJson("openai/chat").usage as { prompt_tokens: number; completion_tokens: number };
  // The o4-mini fixture priced as in the suite's config (see gateway.e2e.test.ts for the arithmetic).
  const SINGLE_CALL_COST = 0.0016357;

  describe("operation schema", () => {
    it("asks a native model with response_format json_schema (strict off for an optional field) and returns the JSON", async () => {
      openai.push({ kind: "ok", content: VALID });
      const id = rid();
      const before = openai.requests.length;
      const completion = await gw.client().chat.completions.create({ model: "profile", messages: [{ role: "user", content: "Describe Ada." }] }, { headers: { "x-request-id": id } });
      expect(completion.choices[0]?.message.content).toBe(VALID);
      expect(openai.requests.length - before).toBe(1);
      const sent = openai.requests.at(-1)!.body;
      expect(sent.response_format).toEqual({ type: "json_schema", json_schema: { name: "output", schema: PROFILE_SCHEMA, strict: false } });
      expect(sent.response_format.json_schema.schema.required).toEqual(["name", "tags"]);
      expect(sent.response_format.json_schema.schema.additionalProperties).toBe(false);
      expect(sent.messages).toEqual([{ role: "user", content: "Describe Ada." }]);
      expect(sent).not.toHaveProperty("output_schema");
      const row = await rowFor(id);
      expect(row).toMatchObject({ outcome: "success", operation: "profile", model: "oai/o4-mini", inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, attemptCount: 1 });
      expect(Number(row.cost)).toBeCloseTo(SINGLE_CALL_COST, 12);
    });

    it("asks an anthropic model with a system instruction, not response_format, and accepts a fenced answer", async () => {
      const fenced = "Here you go:\n```json\n" + VALID + "\n```";
      anthropic.push({ kind: "ok", content: fenced });
      const before = anthropic.requests.length;
      const completion = await gw.client().chat.completions.create({
        model: "profile_anth",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Describe Ada." },
        ],
      });
      expect(anthropic.requests.length - before).toBe(1);
      const sent = anthropic.requests.at(-1)!.body;
      expect(sent).not.toHaveProperty("response_format");
      expect(typeof sent.system).toBe("string");
      expect(sent.system).toContain("Respond with only a JSON value that matches this JSON Schema");
      expect(sent.system).toContain(JSON.stringify(PROFILE_SCHEMA));
      expect(sent.system).toContain("Be brief.");
      expect(sent.messages).toEqual([{ role: "user", content: "Describe Ada." }]);
      const content = completion.choices[0]?.message.content ?? "";
      expect(content).toContain(VALID);
    });
  });

  describe("repair", () => {
    it("repairs an invalid answer once, with the same model, and bills both calls on one row", async () => {
      openai.push({ kind: "ok", content: INVALID_TAGS }, { kind: "ok", content: VALID });
      const before = upstreamCount();
      const beforeOpenai = openai.requests.length;
      const id = rid();
      const { data } = await gw
        .client()
        .chat.completions.create({ model: "profile", messages: [{ role: "user", content: "Describe Ada." }] }, { headers: { "x-request-id": id } })
        .withResponse();
      expect(data.choices[0]?.message.content).toBe(VALID);
      expect(upstreamCount() - before).toBe(2);
      const [first, second] = openai.requests.slice(beforeOpenai).map((r) => r.body);
      expect(first.messages).toEqual([{ role: "user", content: "Describe Ada." }]);
      // The repair is the same conversation, then the invalid answer, then the list of problems.
      expect(second.messages.slice(0, 1)).toEqual(first.messages);
      expect(second.messages).toHaveLength(3);
      expect(second.messages[1]).toEqual({ role: "assistant", content: INVALID_TAGS });
      expect(second.messages[2].role).toBe("user");
      expect(second.messages[2].content).toMatch(/^- tags: /m);
      expect(second.response_format).toEqual(first.response_format);
      expect(data.usage).toMatchObject({ prompt_tokens: 2 * usage.prompt_tokens, completion_tokens: 2 * usage.completion_tokens });

      const row = await rowFor(id);
      expect(row).toMatchObject({ outcome: "success", errorCode: null, inputTokens: 2 * usage.prompt_tokens, outputTokens: 2 * usage.completion_tokens });
      expect(row.attempts).toHaveLength(2);
      expect(row.attempts[0]?.purpose).toBeUndefined();
      expect(row.attempts.filter((a) => a.purpose === "repair")).toEqual([expect.objectContaining({ model: "oai/o4-mini", outcome: "success", purpose: "repair" })]);
      expect(Number(row.cost)).toBeGreaterThan(SINGLE_CALL_COST);
      expect(Number(row.cost)).toBeCloseTo(2 * SINGLE_CALL_COST, 12);
    });

    it("refuses with 422 schema_validation when the repair does not match either, and still bills both calls", async () => {
      openai.push({ kind: "ok", content: INVALID_TAGS }, { kind: "ok", content: INVALID_NAME });
      const before = upstreamCount();
      const res = await post({ model: "profile", messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(422);
      expect(upstreamCount() - before).toBe(2);
      const body = res.json as ErrorBody;
      expect(body.error).toMatchObject({ code: "schema_validation", type: "invalid_request_error", param: null, message: "the output did not match the schema" });
      expect(body.error.raw).toBe(INVALID_NAME);
      expect(body.error.issues).toEqual([{ path: "name", expected: "string", received: "number", message: expect.any(String) }]);
      for (const issue of body.error.issues!) {
        for (const field of ["path", "expected", "received", "message"]) expect(typeof issue[field]).toBe("string");
      }

      const row = await rowFor(res.requestId);
      expect(row).toMatchObject({ outcome: "error", errorCode: "schema_validation", httpStatus: 422, model: "oai/o4-mini", inputTokens: 2 * usage.prompt_tokens, outputTokens: 2 * usage.completion_tokens });
      expect(row.attempts.map((a) => a.purpose ?? null)).toEqual([null, "repair"]);
      expect(Number(row.cost)).toBeCloseTo(2 * SINGLE_CALL_COST, 12);
    });

    it("gives each issue its path, expected, received and message through the SDK too", async () => {
      openai.push({ kind: "ok", content: INVALID_TAGS }, { kind: "ok", content: '{"tags": [1]}' });
      const error = await gw.client().chat.completions.create({ model: "profile", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.UnprocessableEntityError);
      const apiError = error as InstanceType<typeof OpenAI.APIError>;
      expect(apiError.status).toBe(422);
      expect(apiError.code).toBe("schema_validation");
      const detail = apiError.error as ErrorBody["error"];
      expect(detail.raw).toBe('{"tags": [1]}');
      expect(detail.issues).toEqual(
        expect.arrayContaining([
          { path: "name", expected: "required property", received: "undefined", message: expect.any(String) },
          { path: "tags.0", expected: "string", received: "number", message: expect.any(String) },
        ]),
      );
    });

    it("does not repair when the operation says repair: false", async () => {
      openai.push({ kind: "ok", content: INVALID_TAGS });
      const before = upstreamCount();
      const res = await post({ model: "profile_strict", messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(422);
      expect(upstreamCount() - before).toBe(1);
      expect(res.json.error).toMatchObject({ code: "schema_validation", raw: INVALID_TAGS });
      expect(res.json.error.issues).toEqual([{ path: "tags", expected: "array", received: "string", message: expect.any(String) }]);
      const row = await rowFor(res.requestId);
      expect(row).toMatchObject({ outcome: "error", errorCode: "schema_validation", attemptCount: 1, inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens });
    });

    it("sends the repair to the model that answered, after a fallback, in that model's own way", async () => {
      openai.push({ kind: "error", status: 503 });
      anthropic.push({ kind: "ok", content: INVALID_TAGS }, { kind: "ok", content: VALID });
      const beforeOpenai = openai.requests.length;
      const beforeAnthropic = anthropic.requests.length;
      const res = await post({ model: "profile_fallback", messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(200);
      expect(res.json.model).toBe("anth/claude-sonnet-4-5");
      expect(res.json.choices[0].message.content).toBe(VALID);
      expect(openai.requests.length - beforeOpenai).toBe(1);
      expect(anthropic.requests.length - beforeAnthropic).toBe(2);
      const repair = anthropic.requests.at(-1)!.body;
      expect(repair).not.toHaveProperty("response_format");
      expect(repair.system).toContain(JSON.stringify(PROFILE_SCHEMA));
      expect(repair.messages.slice(0, 2)).toEqual([
        { role: "user", content: "Describe Ada." },
        { role: "assistant", content: INVALID_TAGS },
      ]);
      expect(repair.messages[2]).toMatchObject({ role: "user", content: expect.stringMatching(/^- tags: /m) });
      const row = await rowFor(res.requestId);
      expect(row.attempts.map((a) => [a.model, a.outcome, a.purpose ?? null])).toEqual([
        ["oai/o4-mini", "error", null],
        ["anth/claude-sonnet-4-5", "success", null],
        ["anth/claude-sonnet-4-5", "success", "repair"],
      ]);
    });

    it("answers 422 with the first answer's issues when the repair request itself fails", async () => {
      openai.push({ kind: "ok", content: INVALID_TAGS }, { kind: "error", status: 500 });
      const before = upstreamCount();
      const res = await post({ model: "profile", messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(422);
      expect(upstreamCount() - before).toBe(2);
      expect(res.json.error).toMatchObject({ code: "schema_validation", raw: INVALID_TAGS });
      expect(res.json.error.issues).toEqual([{ path: "tags", expected: "array", received: "string", message: expect.any(String) }]);
      const row = await rowFor(res.requestId);
      expect(row).toMatchObject({ outcome: "error", errorCode: "schema_validation", inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens });
      expect(row.attempts.map((a) => [a.outcome, a.purpose ?? null])).toEqual([
        ["success", null],
        ["error", "repair"],
      ]);
    });
  });

  describe("request schema", () => {
    it("adds a schema to a plain model call with output_schema, strict when every field is required", async () => {
      openai.push({ kind: "ok", content: '{"city":"Paris"}' });
      const id = rid();
      const completion = await gw
        .client()
        .chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: "Capital of France?" }], output_schema: "{city: string}" } as any, { headers: { "x-request-id": id } });
      expect((completion as OpenAI.ChatCompletion).choices[0]?.message.content).toBe('{"city":"Paris"}');
      const sent = openai.requests.at(-1)!.body;
      expect(sent.response_format).toEqual({ type: "json_schema", json_schema: { name: "output", schema: CITY_SCHEMA, strict: true } });
      expect(sent).not.toHaveProperty("output_schema");
      expect(await rowFor(id)).toMatchObject({ outcome: "success", operation: null });
    });

    it("lets the request's output_schema win over the operation's", async () => {
      openai.push({ kind: "ok", content: '{"city":"Paris"}' });
      const before = upstreamCount();
      const res = await post({ model: "profile", messages: [{ role: "user", content: "Capital of France?" }], output_schema: "{city: string}" });
      expect(res.status).toBe(200);
      expect(res.json.choices[0].message.content).toBe('{"city":"Paris"}');
      expect(upstreamCount() - before).toBe(1);
      expect(openai.requests.at(-1)!.body.response_format.json_schema.schema).toEqual(CITY_SCHEMA);
    });

    it("validates a plain call against the request schema, repairing on a mismatch", async () => {
      openai.push({ kind: "ok", content: '{"town":"Paris"}' }, { kind: "ok", content: '{"city":"Paris"}' });
      const before = upstreamCount();
      const res = await post({ model: "oai/o4-mini", messages: [{ role: "user", content: "Capital?" }], output_schema: "{city: string}" });
      expect(res.status).toBe(200);
      expect(upstreamCount() - before).toBe(2);
      const repair = openai.requests.at(-1)!.body.messages.at(-1).content as string;
      expect(repair).toContain("- city: expected required property");
      expect(repair).toContain("- town: expected no additional property");
    });

    it("lets a client response_format json_schema win over the operation's schema", async () => {
      const responseFormat = { type: "json_schema", json_schema: { name: "city", schema: CITY_SCHEMA, strict: true } };
      openai.push({ kind: "ok", content: '{"city":"Paris"}' });
      const before = upstreamCount();
      const res = await post({ model: "profile", messages: [{ role: "user", content: "Capital?" }], response_format: responseFormat });
      expect(res.status).toBe(200);
      expect(res.json.choices[0].message.content).toBe('{"city":"Paris"}');
      expect(upstreamCount() - before).toBe(1);
      expect(openai.requests.at(-1)!.body.response_format).toEqual(responseFormat);
    });

    it("applies the header operation's schema when the body names a model, in that model's way", async () => {
      anthropic.push({ kind: "ok", content: VALID });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-airlock-operation": "profile" },
        body: JSON.stringify({ model: "anth/claude-sonnet-4-5", messages: [{ role: "user", content: "Describe Ada." }] }),
      });
      expect(res.status).toBe(200);
      const sent = anthropic.requests.at(-1)!.body;
      expect(sent).not.toHaveProperty("response_format");
      expect(sent.system).toContain(JSON.stringify(PROFILE_SCHEMA));
    });

    it("refuses a schema that does not compile with 400 on output_schema, before any upstream", async () => {
      const before = upstreamCount();
      const res = await post({ model: "oai/o4-mini", messages: [{ role: "user", content: "x" }], output_schema: "{name: strng}" });
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_request", type: "invalid_request_error", param: "output_schema" });
      expect(res.json.error.message).toContain('"strng"');
      expect(upstreamCount()).toBe(before);
      expect(await rowFor(res.requestId)).toMatchObject({ outcome: "refused", errorCode: "invalid_request", httpStatus: 400 });

      const badJsonSchema = await post({ model: "profile", messages: [{ role: "user", content: "x" }], output_schema: { type: "strng" } });
      expect(badJsonSchema.status).toBe(400);
      expect(badJsonSchema.json.error).toMatchObject({ code: "invalid_request", param: "output_schema" });
      const notASchema = await post({ model: "profile", messages: [{ role: "user", content: "x" }], output_schema: 42 });
      expect(notASchema.status).toBe(400);
      expect(notASchema.json.error).toMatchObject({ code: "invalid_request", param: "output_schema" });
      expect(upstreamCount()).toBe(before);
    });

    it("passes a client response_format json_schema to a native upstream exactly as sent, and validates the answer", async () => {
      const responseFormat = { type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } } };
      openai.push({ kind: "ok", content: '{"n": 5}' });
      const ok = await post({ model: "oai/o4-mini", messages: [{ role: "user", content: "A number?" }], response_format: responseFormat });
      expect(ok.status).toBe(200);
      expect(ok.json.choices[0].message.content).toBe('{"n": 5}');
      expect(openai.requests.at(-1)!.body.response_format).toEqual(responseFormat);

      openai.push({ kind: "ok", content: '{"n": "five"}' }, { kind: "ok", content: '{"n": 5.5}' });
      const before = upstreamCount();
      const bad = await post({ model: "oai/o4-mini", messages: [{ role: "user", content: "A number?" }], response_format: responseFormat });
      expect(bad.status).toBe(422);
      expect(upstreamCount() - before).toBe(2);
      expect(openai.requests.at(-1)!.body.response_format).toEqual(responseFormat);
      expect(bad.json.error).toMatchObject({ code: "schema_validation", raw: '{"n": 5.5}' });
      expect(bad.json.error.issues).toEqual([{ path: "n", expected: "integer", received: "number", message: expect.any(String) }]);
    });

    it("turns a client response_format into an instruction for a prompt-mode upstream", async () => {
      const responseFormat = { type: "json_schema", json_schema: { name: "x", schema: CITY_SCHEMA } };
      anthropic.push({ kind: "ok", content: '{"city":"Paris"}' });
      const res = await post({ model: "anth/claude-sonnet-4-5", messages: [{ role: "user", content: "Capital?" }], response_format: responseFormat });
      expect(res.status).toBe(200);
      const sent = anthropic.requests.at(-1)!.body;
      expect(sent).not.toHaveProperty("response_format");
      expect(sent.system).toContain(JSON.stringify(CITY_SCHEMA));
    });
  });

  describe("streaming", () => {
    /** The `data:` payloads of a raw SSE body, in order. */
    const events = (text: string) =>
      text
        .split("\n\n")
        .filter((e) => e.startsWith("data: "))
        .map((e) => e.slice("data: ".length));

    it("ends a stream whose answer does not match with a schema_validation error event and no [DONE]", async () => {
      openai.push({ kind: "ok", content: '{"name": "Ada"}' });
      const before = upstreamCount();
      const res = await post({ model: "profile", stream: true, messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      const data = events(res.text);
      expect(data).not.toContain("[DONE]");
      const last = JSON.parse(data.at(-1)!) as ErrorBody;
      expect(last.error).toMatchObject({ code: "schema_validation", type: "invalid_request_error", raw: '{"name": "Ada"}' });
      expect(last.error.issues).toEqual([{ path: "tags", expected: "required property", received: "undefined", message: expect.any(String) }]);
      const streamed = data.slice(0, -1).map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? "").join("");
      expect(streamed).toBe('{"name": "Ada"}');
      // No repair once chunks are out; the upstream was still asked for the schema.
      expect(upstreamCount() - before).toBe(1);
      expect(openai.requests.at(-1)!.body.response_format).toMatchObject({ type: "json_schema", json_schema: { schema: PROFILE_SCHEMA } });
      expect(await rowFor(res.requestId)).toMatchObject({ outcome: "error", errorCode: "schema_validation", stream: true, inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens });
    });

    it("ends a matching stream normally with [DONE]", async () => {
      openai.push({ kind: "ok", content: VALID });
      const res = await post({ model: "profile", stream: true, messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(200);
      const data = events(res.text);
      expect(data.at(-1)).toBe("[DONE]");
      expect(data.some((d) => d.includes('"error"'))).toBe(false);
      const streamed = data.slice(0, -1).map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? "").join("");
      expect(streamed).toBe(VALID);
      expect(await rowFor(res.requestId)).toMatchObject({ outcome: "success", stream: true });
    });

    it("checks a streamed prompt-mode answer with fences at the end", async () => {
      anthropic.push({ kind: "ok", content: "```json\n" + VALID + "\n```" });
      const res = await post({ model: "profile_anth", stream: true, messages: [{ role: "user", content: "Describe Ada." }] });
      expect(res.status).toBe(200);
      expect(events(res.text).at(-1)).toBe("[DONE]");
      expect(anthropic.requests.at(-1)!.body.system).toContain(JSON.stringify(PROFILE_SCHEMA));
    });
  });
});
