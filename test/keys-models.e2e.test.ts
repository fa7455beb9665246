import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { gatewayOverFake } from "./support/gateway.js";

/** A key limited to some models, as LiteLLM's virtual keys carry `models`: held on every endpoint and in the listing. */
describe("a key's models", () => {
  const ctx = gatewayOverFake("pglite", "openai", (url) => ({
    providers: { oai: { type: "openai-compatible", baseUrl: url } },
    models: [
      { id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
      { id: "oai/gpt-4.1", price: { input: "2", output: "8", per: "1M" } },
      { id: "oai/text-embedding-3-small", kind: "embedding", price: { input: "0.02", per: "1M" } },
    ],
    operations: { premium: { model: "oai/gpt-4.1" }, everyday: { model: "oai/gpt-4.1-mini" } },
  }));

  async function limitedKey(): Promise<{ key: string; models: string[] }> {
    const res = await fetch(`${ctx.gw.url}/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${ctx.gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "mini-only", models: ["oai/gpt-4.1-mini"] }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { key: string; models: string[] };
  }

  it("serves the key's models only, by name, by operation, streamed or as embeddings, and lists only them", async () => {
    const created = await limitedKey();
    expect(created.models).toEqual(["oai/gpt-4.1-mini"]);
    const client = ctx.gw.client(created.key);
    const ok = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }] });
    expect(ok.model).toBeTruthy();
    expect(await client.chat.completions.create({ model: "everyday", messages: [{ role: "user", content: "hi" }] })).toBeTruthy();

    const refusals = [
      client.chat.completions.create({ model: "oai/gpt-4.1", messages: [{ role: "user", content: "hi" }] }),
      client.chat.completions.create({ model: "premium", messages: [{ role: "user", content: "hi" }] }),
      client.chat.completions.create({ model: "oai/gpt-4.1", messages: [{ role: "user", content: "hi" }], stream: true }),
      client.embeddings.create({ model: "oai/text-embedding-3-small", input: "hi" }),
    ];
    for (const refused of refusals) {
      const err = await refused.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((err as InstanceType<typeof OpenAI.PermissionDeniedError>).error).toMatchObject({ code: "forbidden", param: "model" });
    }
    const listed = (await client.models.list()).data.filter((m) => m.owned_by !== "airlock-operation").map((m) => m.id);
    expect(listed).toEqual(["oai/gpt-4.1-mini"]);
    // The admin key has no such limit.
    expect((await ctx.gw.client().models.list()).data.map((m) => m.id)).toContain("oai/gpt-4.1");
  });
});
