import { Agent, request } from "node:http";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { rowsOf } from "../src/store/queries/rows.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { captureLogs } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/** A call on the agent's connection: its status and the `Connection` its answer carried, once the answer is whole. */
function keepAliveCall(gw: TestGateway, agent: Agent, body: unknown): Promise<{ status?: number; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.url}/v1/chat/completions`, { method: "POST", agent, headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, connection: res.headers.connection }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * Closing the gateway lets the calls in flight finish within the grace period, and no longer waits
 * once they have: the gateway counts the responses still open, and a client that leaves counts as done.
 */
describe.each(STORE_KINDS)("closing the gateway (%s store)", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function slowGateway(logs = captureLogs()): Promise<{ upstream: FakeUpstream; gw: TestGateway }> {
    const upstream = await startFakeUpstream("openai", { latencyMs: 400 });
    cleanups.push(() => upstream.close());
    const gw = await startTestGateway(
      kind,
      {
        providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-upstream" } },
        models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", per: "1M" } }],
      },
      { logger: logs.logger },
    );
    // Closing the gateway a second time, after the test's own close, is harmless.
    cleanups.push(() => gw.close());
    return { upstream, gw };
  }

  it("waits for the calls in flight, which all complete", async () => {
    const { upstream, gw } = await slowGateway();
    const calls = Array.from({ length: 3 }, (_, i) => gw.client().chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: `call ${i}` }] }));
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(3));

    // Without the wait, close would drop their connections and each call would fail.
    await gw.gateway.close(20_000);

    const answers = await Promise.all(calls);
    expect(answers.map((a) => a.model)).toEqual(["oai/o4-mini", "oai/o4-mini", "oai/o4-mini"]);
    expect(answers.every((a) => (a.usage?.total_tokens ?? 0) > 0)).toBe(true);
  });

  it.each([
    ["an answer sent whole", false],
    ["a stream", true],
  ])("tells a keep-alive connection busy at shutdown with %s to close after it, so no next request is sent on it and reset", async (_case, stream) => {
    const { upstream, gw } = await slowGateway();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    const call = (content: string) => keepAliveCall(gw, agent, { model: "oai/o4-mini", stream, messages: [{ role: "user", content }] });
    expect(await call("before")).toEqual({ status: 200, connection: "keep-alive" });
    const inFlight = call("during");
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(2));

    const closing = gw.gateway.close(20_000);
    // Answered keep-alive, the connection would stay open for the client's next call, which the
    // gateway would then reset when it closes every connection.
    expect(await inFlight).toEqual({ status: 200, connection: "close" });
    await closing;
  });

  it("stops waiting for a call whose client went away", async () => {
    const { upstream, gw } = await slowGateway();
    const abandoned = new AbortController();
    const leaving = fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "oai/o4-mini", messages: [{ role: "user", content: "never mind" }] }),
      signal: abandoned.signal,
    }).catch((err: unknown) => err);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
    abandoned.abort();
    expect(await leaving).toMatchObject({ name: "AbortError" });

    // With the count left at one, close would wait out the whole minute of grace.
    const started = Date.now();
    await gw.gateway.close(60_000);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("cuts the calls still open when the grace runs out, and records them as its own doing, not their clients'", async () => {
    const logs = captureLogs();
    const { upstream, gw } = await slowGateway(logs);
    upstream.push({ kind: "hang" });
    const requestId = `cut-${kind}-${Date.now()}`;
    const cut = fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ model: "oai/o4-mini", messages: [{ role: "user", content: "still waiting" }] }),
    }).catch((err: unknown) => err);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));

    await gw.gateway.close(300);
    // Told why before its connection closed: 503 unavailable, which a client may retry elsewhere.
    const answer = (await cut) as Response;
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({ error: { code: "unavailable" } });

    const row = await recordedRow(gw, requestId);
    expect(row).toMatchObject({ outcome: "error", errorCode: "unavailable", httpStatus: 503 });
    expect(row.attempts).toEqual([expect.objectContaining({ outcome: "error", reason: "unavailable" })]);
    expect(logs.lines.find((line) => line.requestId === requestId)).toMatchObject({ msg: "request", status: 503, code: "unavailable" });
  });

  it("records a stream cut at shutdown before the ledger closes, although its tokens must first be counted", async () => {
    // Chunks a second apart, usage only at the end: the cut stream has none, and is estimated. This
    // process has not counted tokens yet, so the count first starts its tokenizer.
    const upstream = await startFakeUpstream("openai", { chunkDelayMs: 1_000 });
    cleanups.push(() => upstream.close());
    const gw = await startTestGateway(kind, {
      providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-upstream" } },
      models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", per: "1M" } }],
    });
    cleanups.push(() => gw.close());
    const requestId = `cut-stream-${kind}-${Date.now()}`;
    const stream = await gw.client().chat.completions.create(
      { model: "oai/o4-mini", stream: true, messages: [{ role: "user", content: "a long story" }] },
      { headers: { "x-request-id": requestId } },
    );
    const reading = (async () => {
      for await (const _ of stream);
    })().catch((err: unknown) => err);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));

    // As `airlock start` stops: the gateway, then the plane, whose ledger writes what it holds and closes.
    await gw.gateway.close(300);
    await gw.plane.close();
    expect(await reading).toBeInstanceOf(Error);
    const rows = rowsOf<{ outcome: string; errorCode: string; usageEstimated: boolean }>(
      await gw.store.database.db.execute(sql`select outcome, error_code as "errorCode", usage_estimated as "usageEstimated" from ledger where request_id = ${requestId}`),
    );
    expect(rows).toEqual([{ outcome: "error", errorCode: "unavailable", usageEstimated: true }]);
  });
});
