import { describe, expect, it } from "vitest";
import { gatewayOverFake, recordedRow } from "./support/gateway.js";
import { api } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * An upstream that reports absurd usage (1e300 tokens) prices its call past what the ledger's cost
 * column holds. The store refuses that row; the calls around it must still be answered and recorded.
 */
describe.each(STORE_KINDS)("a ledger row the store refuses on %s", (kind) => {
  const fake = gatewayOverFake(kind, "openai", (url) => ({
    providers: { oai: { type: "openai-compatible", baseUrl: url } },
    models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }],
  }));

  it("answers the call, sets its row aside, and still records the calls around it", async () => {
    const { gw, upstream } = fake;
    const messages = [{ role: "user" as const, content: "How far is the Moon?" }];
    const before = await gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages }).withResponse();
    upstream.push({ kind: "ok", fixture: "openai/chat-absurd-usage" });
    const absurd = await gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages }).withResponse();
    expect(absurd.response.status).toBe(200);
    expect(absurd.data.choices[0]?.message.content).toBeTruthy();
    const after = await gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages }).withResponse();

    await recordedRow(gw, before.response.headers.get("x-request-id"));
    await recordedRow(gw, after.response.headers.get("x-request-id"));
    const rows = await gw.plane.reports.recentCalls(20);
    expect(rows.some((r) => r.requestId === absurd.response.headers.get("x-request-id"))).toBe(false);
    expect(gw.plane.ledgerStats.refused).toBe(1);
    expect(gw.plane.ledgerHealthy).toBe(true);
  });
});

/**
 * Usage whose parts overflow a double when summed (Anthropic's input total is its three input counts
 * added up) must not reach the budget's books or the rate limiter as Infinity: the call is answered,
 * its row is set aside, and the budget and the token limit go on admitting and settling exactly.
 */
describe.each(STORE_KINDS)("usage that overflows when summed, on %s", (kind) => {
  const fake = gatewayOverFake(kind, "anthropic", (url) => ({
    providers: { anth: { type: "anthropic", baseUrl: url, apiKey: "sk-ant-test" } },
    models: [{ id: "anth/claude-sonnet-4", price: { input: "3", cacheWrite: "3.75", cachedInput: "0.30", output: "15", per: "1M" } }],
    budgets: [{ name: "team", scope: "global", limit: "5" }],
    rateLimits: [{ name: "tokens", scope: "key", tokensPerMinute: 1_000_000 }],
  }));

  it("answers the call, the budget goes on admitting and settling exactly, and the token limit counts the minute used up", async () => {
    const { gw, upstream } = fake;
    const service = (await api(gw, "POST", "/admin/keys", { name: "absurd", kind: "service" })).body.key as string;
    const ask = (key?: string) =>
      gw.client(key).chat.completions.create({ model: "anth/claude-sonnet-4", max_tokens: 100, messages: [{ role: "user", content: "What is the capital of France?" }] }).withResponse();
    upstream.push({ kind: "ok", fixture: "anthropic/message-overflowing-usage" });
    const absurd = await ask(service);
    expect(absurd.response.status).toBe(200);
    expect(absurd.data.choices[0]?.message.content).toBe("The capital of France is Paris.");
    // The key's minute is used up by what the upstream reported: refused as rate limited, never as a store failure.
    const limited = await ask(service).catch((err: unknown) => err);
    expect(limited).toMatchObject({ status: 429, code: "rate_limited" });

    const next = await ask();
    expect(next.response.status).toBe(200);
    const id = next.response.headers.get("x-request-id");
    const normal = await recordedRow(gw, id);
    const rows = await gw.plane.reports.recentCalls(20);
    expect(rows.filter((r) => r.outcome === "success").map((r) => r.requestId)).toEqual([id]);
    expect(rows.filter((r) => r.outcome === "refused").map((r) => r.errorCode)).toEqual(["rate_limited"]);
    // message.json: 21 × 3 + 188 × 3.75 + 1800 × 0.30 + 10 × 15 = 1458 per 1M.
    expect(normal.cost).toBe("0.001458000000");
    expect(normal.budgetCharges).toEqual([{ budget: "team", window: expect.any(String), holder: expect.any(String), spent: "0.001458", released: "0.001458" }]);
    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    expect(budget?.current.spent).toBe("0.001458");
    expect(gw.plane.ledgerStats.refused).toBe(1);
  });
});
