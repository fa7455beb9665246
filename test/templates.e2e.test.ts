import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import type { TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { PROFILE_DSL, structuredSuite, type ErrorBody } from "./support/structured.js";

/**
 * Prompt templates end to end (docs/routing.md, "Prompt templates"), and what the ledger keeps out:
 * the official `openai` SDK or raw HTTP → the gateway → a fake OpenAI upstream → the ledger in a real
 * store. The shared gateway and its operations are in support/structured.ts.
 */

describe.each(STORE_KINDS)("structured output and prompt templates on %s", (kind) => {
  let openai: FakeUpstream;
  let gw: TestGateway;
  let anthropic: FakeUpstream;
  const { rid, rowFor, post, upstreamCount } = structuredSuite(kind, (started) => ({ openai, anthropic, gw } = started));

  describe("prompt templates", () => {
    it("builds the conversation from variables alone", async () => {
      const id = rid();
      await gw.client().chat.completions.create({ model: "email_summary", variables: { user: { name: "Ada" }, email: { body: "Hi" } } } as any, { headers: { "x-request-id": id } });
      const sent = openai.requests.at(-1)!.body;
      expect(sent.messages).toEqual([
        { role: "system", content: "You help Ada." },
        { role: "user", content: "Summarise: Hi" },
      ]);
      expect(sent).not.toHaveProperty("variables");
      expect(await rowFor(id)).toMatchObject({ outcome: "success", operation: "email_summary", requestedModel: "email_summary" });
    });

    it("puts the system template first and the user template after the request's messages", async () => {
      const res = await post({
        model: "email_summary",
        messages: [
          { role: "user", content: "Context: Ada is on holiday." },
          { role: "assistant", content: "Noted." },
        ],
        variables: { user: { name: "Ada" }, email: { body: "Hi" } },
      });
      expect(res.status).toBe(200);
      expect(openai.requests.at(-1)!.body.messages).toEqual([
        { role: "system", content: "You help Ada." },
        { role: "user", content: "Context: Ada is on holiday." },
        { role: "assistant", content: "Noted." },
        { role: "user", content: "Summarise: Hi" },
      ]);
    });

    it("applies the templates when the operation comes from the header", async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-airlock-operation": "email_summary" },
        body: JSON.stringify({ variables: { user: { name: "Bo" }, email: { body: { subject: "Hi", n: 2 } } } }),
      });
      expect(res.status).toBe(200);
      expect(openai.requests.at(-1)!.body.messages).toEqual([
        { role: "system", content: "You help Bo." },
        { role: "user", content: 'Summarise: {"subject":"Hi","n":2}' },
      ]);
    });

    it("refuses a missing variable with 400, naming it, before any upstream", async () => {
      const before = upstreamCount();
      const res = await post({ model: "email_summary", variables: { user: { name: "Ada" }, email: {} } });
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_request", param: "variables.email.body" });
      expect(res.json.error.message).toContain("email.body");
      expect(upstreamCount()).toBe(before);
      expect(await rowFor(res.requestId)).toMatchObject({ outcome: "refused", errorCode: "invalid_request", operation: "email_summary" });

      const noVariables = await post({ model: "email_summary", messages: [{ role: "user", content: "hi" }] });
      expect(noVariables.status).toBe(400);
      expect(noVariables.json.error).toMatchObject({ code: "invalid_request", param: "variables.user.name" });
      expect(upstreamCount()).toBe(before);
    });

    it("still requires messages when the operation has only a system template", async () => {
      // docs/routing.md: "with a user template, `messages` may be left out" — without one, they may not.
      const before = upstreamCount();
      const res = await post({ model: "system_only", variables: { user: { name: "Ada" } } });
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: "invalid_request", param: "messages" });
      expect(upstreamCount()).toBe(before);
    });

    it("refuses variables sent to an operation or model without templates", async () => {
      const before = upstreamCount();
      for (const model of ["plain", "oai/o4-mini"]) {
        const res = await post({ model, messages: [{ role: "user", content: "hi" }], variables: { user: { name: "Ada" } } });
        expect(res.status).toBe(400);
        expect(res.json.error).toMatchObject({ code: "invalid_request", param: "variables" });
      }
      const notAnObject = await post({ model: "email_summary", variables: ["Ada"] });
      expect(notAnObject.status).toBe(400);
      expect(notAnObject.json.error).toMatchObject({ code: "invalid_request", param: "variables" });
      expect(upstreamCount()).toBe(before);
    });

    it("applies the templates to a streaming call too", async () => {
      const res = await post({ model: "email_summary", stream: true, variables: { user: { name: "Ada" }, email: { body: "Hi" } } });
      expect(res.status).toBe(200);
      expect(res.text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      expect(openai.requests.at(-1)!.body.messages).toEqual([
        { role: "system", content: "You help Ada." },
        { role: "user", content: "Summarise: Hi" },
      ]);
    });

    it("checks templates and schemas when a route is saved through the admin API, and uses a saved one at once", async () => {
      const put = (name: string, body: unknown) =>
        fetch(`${gw.url}/admin/routes/${name}`, { method: "PUT", headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      const get = (name: string) => fetch(`${gw.url}/admin/routes/${name}`, { headers: { authorization: `Bearer ${gw.adminKey}` } });

      const badTemplate = await put("bad_template", { model: "oai/o4-mini", prompt: { user: "Summarise: {{email.body" } });
      expect(badTemplate.status).toBe(400);
      expect(((await badTemplate.json()) as ErrorBody).error.code).toBe("invalid_request");
      expect((await get("bad_template")).status).toBe(404);

      const badSchema = await put("bad_schema", { model: "oai/o4-mini", outputSchema: "{name: strng}" });
      expect(badSchema.status).toBe(400);
      expect(((await badSchema.json()) as ErrorBody).error.code).toBe("invalid_request");
      expect((await get("bad_schema")).status).toBe(404);

      const saved = await put("admin_summary", { model: "oai/o4-mini", prompt: { user: "Title for: {{doc}}" }, outputSchema: "{title: string}" });
      expect(saved.status).toBe(201);
      openai.push({ kind: "ok", content: '{"title":"Hello"}' });
      const res = await post({ model: "admin_summary", variables: { doc: "hello world" } });
      expect(res.status).toBe(200);
      expect(res.json.choices[0].message.content).toBe('{"title":"Hello"}');
      const sent = openai.requests.at(-1)!.body;
      expect(sent.messages).toEqual([{ role: "user", content: "Title for: hello world" }]);
      expect(sent.response_format.json_schema.schema).toEqual({ type: "object", properties: { title: { type: "string" } }, required: ["title"], additionalProperties: false });
    });

    it("keeps the prompt, the variables and the answer out of the ledger", async () => {
      const marker = Math.random().toString(36).slice(2, 10);
      const name = `Ada-${marker}`;
      const bodyText = `secret-email-${marker}`;
      const answer = `{"name":"summary-${marker}","tags":[]}`;
      openai.push({ kind: "ok", content: answer });
      const res = await post({ model: "email_summary", variables: { user: { name }, email: { body: bodyText } }, output_schema: PROFILE_DSL });
      expect(res.status).toBe(200);
      expect(openai.requests.at(-1)!.body.messages).toEqual([
        { role: "system", content: `You help ${name}.` },
        { role: "user", content: `Summarise: ${bodyText}` },
      ]);
      const row = JSON.stringify(await rowFor(res.requestId));
      expect(row).not.toContain(marker);
      expect(row).not.toContain("You help");
      expect(row).not.toContain("Summarise");

      const missing = await post({ model: "email_summary", variables: { user: { name } } });
      expect(missing.status).toBe(400);
      const refusedRow = JSON.stringify(await rowFor(missing.requestId));
      expect(refusedRow).not.toContain(marker);

      openai.push({ kind: "ok", content: `{"name": ${JSON.stringify(bodyText)}, "tags": "x"}` }, { kind: "ok", content: `{"name": ${JSON.stringify(bodyText)}, "tags": "y"}` });
      const invalid = await post({ model: "profile", messages: [{ role: "user", content: `about ${name}` }] });
      expect(invalid.status).toBe(422);
      expect(JSON.stringify(await rowFor(invalid.requestId))).not.toContain(marker);
    });
  });

  describe("operation defaults", () => {
    const ask = [{ role: "user", content: "hi" }];

    it("applies maxTokens and temperature to options sent as null, as to options left out", async () => {
      for (const nulls of [{}, { max_tokens: null }, { max_completion_tokens: null }, { max_tokens: null, max_completion_tokens: null, temperature: null }]) {
        const res = await post({ model: "capped", messages: ask, ...nulls });
        expect(res.status).toBe(200);
        const sent = openai.requests.at(-1)!.body;
        // The route's model is one of OpenAI's reasoning models, which take the limit as max_completion_tokens.
        expect(sent).toMatchObject({ max_completion_tokens: 100, temperature: 0.2 });
        expect(sent).not.toHaveProperty("max_tokens");
      }
    });

    it("sends an anthropic model the operation's maxTokens when max_tokens is null", async () => {
      const res = await post({ model: "capped_anth", messages: ask, max_tokens: null, top_p: null, stop: null });
      expect(res.status).toBe(200);
      const sent = anthropic.requests.at(-1)!.body;
      expect(sent.max_tokens).toBe(100);
      expect(sent).not.toHaveProperty("top_p");
      expect(sent).not.toHaveProperty("stop_sequences");
    });
  });
});
