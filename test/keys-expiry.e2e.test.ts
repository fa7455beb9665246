import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { gatewayOverFake, oneOpenAiModel } from "./support/gateway.js";
import { captureLogs } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/** Keys that end by themselves, as LiteLLM's `duration` and Portkey's `expires_at` do. */
describe.each(STORE_KINDS)("key expiry on %s", (kind) => {
  const logs = captureLogs();
  const ctx = gatewayOverFake(kind, "openai", oneOpenAiModel, {}, { logger: logs.logger });

  async function admin(method: string, path: string, body?: unknown) {
    const res = await fetch(`${ctx.gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ctx.gw.adminKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  it("refuses a key once its expiresIn has passed, on every endpoint, without echoing it", async () => {
    const created = await admin("POST", "/admin/keys", { name: "short-lived", kind: "user", expiresIn: "2s" });
    expect(created.status).toBe(201);
    const expiresAt = Date.parse(created.body.expiresAt);
    expect(expiresAt).toBeGreaterThan(Date.now());
    const secret = created.body.key as string;
    const client = ctx.gw.client(secret);
    const ok = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }] });
    expect(ok.choices[0]?.message.content).toBeTruthy();

    while (Date.now() <= expiresAt) await new Promise((r) => setTimeout(r, 100));
    const refused = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).error).toMatchObject({ code: "unauthorized", message: "the API key has expired" });
    const models = await fetch(`${ctx.gw.url}/v1/models`, { headers: { "x-api-key": secret } });
    expect(models.status).toBe(401);
    expect(await models.text()).not.toContain(secret);
    expect(logs.text()).not.toContain(secret);

    const listed = await admin("GET", "/admin/keys");
    expect(listed.body.data.find((k: { id: string }) => k.id === created.body.id)).toMatchObject({ expiresAt: created.body.expiresAt, revokedAt: null });
  });

  it("takes an absolute expiresAt, and refuses one in the past or given with expiresIn", async () => {
    const at = new Date(Date.now() + 86_400_000).toISOString();
    const created = await admin("POST", "/admin/keys", { name: "dated", expiresAt: at });
    expect(created.status).toBe(201);
    expect(created.body.expiresAt).toBe(at);
    expect((await ctx.gw.client(created.body.key).models.list()).data.length).toBeGreaterThan(0);

    const past = await admin("POST", "/admin/keys", { name: "late", expiresAt: "2020-01-01T00:00:00Z" });
    expect(past.status).toBe(400);
    expect(past.body.error).toMatchObject({ code: "invalid_request", param: "expiresAt" });
    const both = await admin("POST", "/admin/keys", { name: "both", expiresAt: at, expiresIn: "1d" });
    expect(both.status).toBe(400);
    expect(both.body.error.code).toBe("invalid_request");
    const bad = await admin("POST", "/admin/keys", { name: "bad", expiresIn: "soon" });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_request", param: "expiresIn" });
  });
});
