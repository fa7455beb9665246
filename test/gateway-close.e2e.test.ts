import OpenAI from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { resolveConfig } from "../src/config/load.js";
import { ControlPlane } from "../src/control-plane.js";
import { createGateway } from "../src/gateway/server.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { freshStore, STORE_KINDS, type TestStore } from "./support/stores.js";

/**
 * Closing the gateway lets the calls in flight finish within the grace period, and no longer waits
 * once they have: the gateway counts the responses still open, and a client that leaves counts as done.
 */
describe.each(STORE_KINDS)("closing the gateway (%s store)", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function slowGateway(): Promise<{ upstream: FakeUpstream; url: string; adminKey: string; close(graceMs: number): Promise<void> }> {
    const upstream = await startFakeUpstream("openai", { latencyMs: 400 });
    cleanups.push(() => upstream.close());
    const store: TestStore = await freshStore(kind);
    cleanups.push(() => store.cleanup());
    const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
    const config = resolveConfig(
      {
        providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-upstream" } },
        models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", per: "1M" } }],
      },
      "test",
    );
    const plane = await ControlPlane.create({ config, database: store.database, adminKey });
    cleanups.push(() => plane.close());
    const gateway = createGateway({ plane, logger: plane.logger });
    // A test that fails before its own close leaves no server listening; a second close is harmless.
    cleanups.push(() => gateway.close(0));
    const { url } = await gateway.listen(0, "127.0.0.1");
    return { upstream, url, adminKey, close: (graceMs) => gateway.close(graceMs) };
  }

  it("waits for the calls in flight, which all complete", async () => {
    const gw = await slowGateway();
    const client = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const calls = Array.from({ length: 3 }, (_, i) => client.chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: `call ${i}` }] }));
    await vi.waitFor(() => expect(gw.upstream.requests).toHaveLength(3));

    // Without the wait, close would drop their connections and each call would fail.
    await gw.close(20_000);

    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.model)).toEqual(["oai/o4-mini", "oai/o4-mini", "oai/o4-mini"]);
    expect(answers.every((a) => (a.usage?.total_tokens ?? 0) > 0)).toBe(true);
  });

  it("stops waiting for a call whose client went away", async () => {
    const gw = await slowGateway();
    const abandoned = new AbortController();
    const leaving = fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "oai/o4-mini", messages: [{ role: "user", content: "never mind" }] }),
      signal: abandoned.signal,
    }).catch((err: unknown) => err);
    await vi.waitFor(() => expect(gw.upstream.requests).toHaveLength(1));
    abandoned.abort();
    expect(await leaving).toMatchObject({ name: "AbortError" });

    // With the count left at one, close would wait out the whole minute of grace.
    const started = Date.now();
    await gw.close(60_000);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
