import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { AirlockError, createAirlock, type Airlock, type SchemaIssue } from "../src/index.js";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { createScratchDatabase, dropScratchDatabase } from "./support/stores.js";

/**
 * Structured output and prompt templates through the in-process library: `chat()` returns `output`
 * parsed and typed from the schema (notation string, JSON Schema `as const`, or zod), and `variables`
 * fill an operation's prompt templates. The `expectTypeOf` checks are enforced by `tsc` (test/ is in
 * tsconfig.json); the runtime checks by vitest.
 */
describe("createAirlock: structured output and prompt templates", () => {
  let upstream: FakeUpstream;
  let airlock: Airlock;
  let scratch: URL | undefined;
  const usage = fixtureJson("openai/chat").usage as { prompt_tokens: number; completion_tokens: number };
  const ask = [{ role: "user" as const, content: "Describe Ada." }];

  beforeAll(async () => {
    upstream = await startFakeUpstream("openai");
    // A PostgreSQL scratch database when the test server is there (much faster to start than an
    // in-memory PGlite, which runs initdb); the in-memory store otherwise.
    scratch = process.env.AIRLOCK_TEST_DATABASE_URL ? await createScratchDatabase() : undefined;
    airlock = createAirlock({
      config: {
        retry: { maxAttempts: 1 },
        providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "k" } },
        models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" } }],
        operations: {
          plain: { model: "oai/o4-mini" },
          profile: { model: "oai/o4-mini", outputSchema: "{name: string, tags: string[]}" },
          email_summary: { model: "oai/o4-mini", prompt: { system: "You help {{user.name}}.", user: "Summarise: {{email.body}}" } },
        },
      },
      ...(scratch ? { databaseUrl: scratch.href } : { inMemory: true }),
    });
    // The store opens on the first call; open it here, under the hook's longer timeout.
    await airlock.chat({ operation: "plain", messages: [{ role: "user", content: "warm up" }] });
  });

  afterAll(async () => {
    await airlock?.close();
    await upstream?.close();
    if (scratch) await dropScratchDatabase(scratch);
  });

  const lastSent = () => upstream.requests.at(-1)!.body;

  describe("typed output", () => {
    it("parses and types the output of a notation-string schema", async () => {
      upstream.push({ kind: "ok", content: '{"name":"Ada","tags":["math"]}' });
      const res = await airlock.chat({ model: "oai/o4-mini", messages: ask, outputSchema: "{name: string, tags: string[]}" });
      expectTypeOf(res.output).toEqualTypeOf<{ name: string; tags: string[] }>();
      expect(res.output).toEqual({ name: "Ada", tags: ["math"] });
      expect(res.content).toBe('{"name":"Ada","tags":["math"]}');
      expect(lastSent().response_format).toEqual({
        type: "json_schema",
        json_schema: {
          name: "output",
          schema: { type: "object", properties: { name: { type: "string" }, tags: { type: "array", items: { type: "string" } } }, required: ["name", "tags"], additionalProperties: false },
          strict: true,
        },
      });
      expect(lastSent()).not.toHaveProperty("output_schema");
    });

    it("types optional fields, nested objects, literal unions and nullables from the notation", async () => {
      const content = '{"name":"Ada","kind":"a","owner":{"id":7,"email":null}}';
      upstream.push({ kind: "ok", content });
      const res = await airlock.chat({
        model: "oai/o4-mini",
        messages: ask,
        outputSchema: '{name: string, score?: number, kind: "a" | "b", owner: {id: integer, email: string | null}}',
      });
      expectTypeOf(res.output).toEqualTypeOf<{ name: string; score?: number; kind: "a" | "b"; owner: { id: number; email: string | null } }>();
      expect(res.output).toEqual(JSON.parse(content));
      expect(lastSent().response_format.json_schema.strict).toBe(false);
    });

    it("parses and types the output of a zod schema", async () => {
      const Person = z.object({ name: z.string(), age: z.number().int(), role: z.enum(["admin", "user"]) });
      upstream.push({ kind: "ok", content: '{"name":"Ada","age":36,"role":"admin"}' });
      const res = await airlock.chat({ model: "oai/o4-mini", messages: ask, outputSchema: Person });
      expectTypeOf(res.output).toEqualTypeOf<{ name: string; age: number; role: "admin" | "user" }>();
      expect(res.output).toEqual({ name: "Ada", age: 36, role: "admin" });
      const schema = lastSent().response_format.json_schema.schema;
      expect(schema).toMatchObject({ type: "object", required: ["name", "age", "role"], properties: { name: { type: "string" }, role: { enum: ["admin", "user"] } } });
      expect(schema).not.toHaveProperty("$schema");
    });

    it("parses and types the output of a JSON Schema declared as const", async () => {
      const City = {
        type: "object",
        properties: { city: { type: "string" }, population: { type: "integer" }, tags: { type: "array", items: { type: "string" } } },
        required: ["city"],
        additionalProperties: false,
      } as const;
      upstream.push({ kind: "ok", content: '{"city":"Paris","population":2100000}' });
      const res = await airlock.chat({ model: "oai/o4-mini", messages: ask, outputSchema: City });
      expectTypeOf(res.output).toEqualTypeOf<{ city: string; population?: number; tags?: string[] }>();
      expect(res.output).toEqual({ city: "Paris", population: 2100000 });
      expect(lastSent().response_format.json_schema.schema).toEqual(City);
    });

    it("returns the operation's schema output as unknown, and no output without any schema", async () => {
      upstream.push({ kind: "ok", content: '{"name":"Ada","tags":[]}' });
      const withOperationSchema = await airlock.chat({ operation: "profile", messages: ask });
      expectTypeOf(withOperationSchema.output).toBeUnknown();
      expect(withOperationSchema.output).toEqual({ name: "Ada", tags: [] });

      const plain = await airlock.chat({ operation: "plain", messages: ask });
      expectTypeOf(plain.output).toBeUnknown();
      expect(plain.output).toBeUndefined();
      expect(plain.content).toBe(fixtureJson("openai/chat").choices[0].message.content);
      expect(lastSent()).not.toHaveProperty("response_format");
    });

    it("lets the call's schema win over the operation's", async () => {
      upstream.push({ kind: "ok", content: '{"city":"Paris"}' });
      const res = await airlock.chat({ operation: "profile", messages: ask, outputSchema: "{city: string}" });
      expectTypeOf(res.output).toEqualTypeOf<{ city: string }>();
      expect(res.output).toEqual({ city: "Paris" });
      expect(lastSent().response_format.json_schema.schema.required).toEqual(["city"]);
    });
  });

  describe("repair and refusal", () => {
    it("repairs once and reports both calls' usage, cost and the repair attempt", async () => {
      upstream.push({ kind: "ok", content: '{"name":"Ada","tags":"math"}' }, { kind: "ok", content: '{"name":"Ada","tags":["math"]}' });
      const before = upstream.requests.length;
      const res = await airlock.chat({ model: "oai/o4-mini", messages: ask, outputSchema: "{name: string, tags: string[]}" });
      expect(res.output).toEqual({ name: "Ada", tags: ["math"] });
      expect(upstream.requests.length - before).toBe(2);
      expect(res.usage).toMatchObject({ inputTokens: 2 * usage.prompt_tokens, outputTokens: 2 * usage.completion_tokens });
      expect(res.attempts.map((a) => a.purpose ?? null)).toEqual([null, "repair"]);
      expect(Number(res.cost)).toBeCloseTo(2 * 0.0016357, 12);
    });

    it("returns an answer that calls tools with its toolCalls and no output, without a repair", async () => {
      upstream.push({ kind: "ok", fixture: "openai/tool-calls" });
      const before = upstream.requests.length;
      const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
      const res = await airlock.chat({ operation: "profile", messages: ask, params: { tools } });
      expect(upstream.requests.length - before).toBe(1);
      expect(res.output).toBeUndefined();
      expect(res.finishReason).toBe("tool_calls");
      expect(res.toolCalls).toHaveLength(2);
    });

    it("throws AirlockError schema_validation with the raw answer and the issues", async () => {
      upstream.push({ kind: "ok", content: '{"name":"Ada","tags":"math"}' }, { kind: "ok", content: '{"name":1,"tags":["math"]}' });
      const error = await airlock.chat({ model: "oai/o4-mini", messages: ask, outputSchema: "{name: string, tags: string[]}" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AirlockError);
      const airlockError = error as AirlockError;
      expect(airlockError).toMatchObject({ code: "schema_validation", status: 422, message: "the output did not match the schema" });
      expect(airlockError.details?.raw).toBe('{"name":1,"tags":["math"]}');
      const issues = airlockError.details?.issues as SchemaIssue[];
      expect(issues).toEqual([{ path: "name", expected: "string", received: "number", message: expect.any(String) }]);
    });

    it("throws schema_validation from a stream whose answer does not match, and ends a matching one with done", async () => {
      upstream.push({ kind: "ok", content: '{"name":"Ada"}' });
      const parts: string[] = [];
      const error = await (async () => {
        for await (const part of airlock.stream({ model: "oai/o4-mini", messages: ask, outputSchema: "{name: string, tags: string[]}" })) parts.push(part.type);
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AirlockError);
      expect(error).toMatchObject({ code: "schema_validation", details: { raw: '{"name":"Ada"}' } });
      expect(parts.length).toBeGreaterThan(0);
      expect(parts).not.toContain("done");

      upstream.push({ kind: "ok", content: '{"name":"Ada","tags":[]}' });
      let text = "";
      let done = false;
      for await (const part of airlock.stream({ model: "oai/o4-mini", messages: ask, outputSchema: "{name: string, tags: string[]}" })) {
        if (part.type === "text") text += part.text;
        else done = true;
      }
      expect(text).toBe('{"name":"Ada","tags":[]}');
      expect(done).toBe(true);
    });

    it("refuses a schema that does not compile before calling the upstream", async () => {
      const before = upstream.requests.length;
      const error = await airlock.chat({ model: "oai/o4-mini", messages: ask, outputSchema: "{name: strng}" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AirlockError);
      expect(error).toMatchObject({ code: "invalid_request", param: "output_schema" });
      expect(upstream.requests.length).toBe(before);
    });
  });

  describe("prompt templates", () => {
    it("fills the operation's templates from variables", async () => {
      await airlock.chat({ operation: "email_summary", variables: { user: { name: "Ada" }, email: { body: "Hi" } } });
      expect(lastSent().messages).toEqual([
        { role: "system", content: "You help Ada." },
        { role: "user", content: "Summarise: Hi" },
      ]);
      expect(lastSent()).not.toHaveProperty("variables");

      await airlock.chat({ operation: "email_summary", messages: [{ role: "user", content: "Earlier." }], variables: { user: { name: "Ada" }, email: { body: "Hi" } } });
      expect(lastSent().messages).toEqual([
        { role: "system", content: "You help Ada." },
        { role: "user", content: "Earlier." },
        { role: "user", content: "Summarise: Hi" },
      ]);
    });

    it("combines templates with a typed output schema", async () => {
      upstream.push({ kind: "ok", content: '{"summary":"A greeting."}' });
      const res = await airlock.chat({ operation: "email_summary", variables: { user: { name: "Ada" }, email: { body: "Hi" } }, outputSchema: "{summary: string}" });
      expectTypeOf(res.output).toEqualTypeOf<{ summary: string }>();
      expect(res.output).toEqual({ summary: "A greeting." });
      expect(lastSent().messages.at(-1)).toEqual({ role: "user", content: "Summarise: Hi" });
    });

    it("throws invalid_request naming a missing variable, and for variables without templates", async () => {
      const before = upstream.requests.length;
      const missing = await airlock.chat({ operation: "email_summary", variables: { user: { name: "Ada" } } }).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(AirlockError);
      expect(missing).toMatchObject({ code: "invalid_request", status: 400, param: "variables.email.body" });
      expect((missing as AirlockError).message).toContain('"email.body"');

      const untemplated = await airlock.chat({ operation: "plain", messages: ask, variables: { x: 1 } }).catch((e: unknown) => e);
      expect(untemplated).toBeInstanceOf(AirlockError);
      expect(untemplated).toMatchObject({ code: "invalid_request", param: "variables" });
      expect(upstream.requests.length).toBe(before);
    });
  });
});
