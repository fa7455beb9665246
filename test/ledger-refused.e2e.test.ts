import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * An upstream that reports absurd usage (1e300 tokens) prices its call past what the ledger's cost
 * column holds. The store refuses that row; the calls around it must still be answered and recorded.
 */
describe.each(STORE_KINDS)("a ledger row the store refuses on %s", (kind) => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeUpstream("openai");
    gw = await startTestGateway(kind, {
      providers: { oai: { type: "openai-compatible", baseUrl: upstream.url } },
      models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }],
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it("answers the call, sets its row aside, and still records the calls around it", async () => {
    const messages = [{ role: "user" as const, content: "How far is the Moon?" }];
    const before = await gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages }).withResponse();
    upstream.push({ kind: "ok", fixture: "openai/chat-absurd-usage" });
    const absurd = await gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages }).withResponse();
    expect(absurd.response.status).toBe(200);
    expect(absurd.data.choices[0]?.message.content).toBeTruthy();
    const after = await gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages }).withResponse();

    const recorded = (id: string | null) => async () => {
      const rows = await gw.plane.reports.recentCalls(20);
      return rows.some((r) => r.requestId === id);
    };
    await vi.waitFor(async () => {
      expect(await recorded(before.response.headers.get("x-request-id"))()).toBe(true);
      expect(await recorded(after.response.headers.get("x-request-id"))()).toBe(true);
    }, { timeout: 5_000, interval: 50 });
    expect(await recorded(absurd.response.headers.get("x-request-id"))()).toBe(false);
    expect(gw.plane.ledgerStats.refused).toBe(1);
    expect(gw.plane.ledgerHealthy).toBe(true);
  });
});
