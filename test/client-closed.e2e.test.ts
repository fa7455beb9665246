import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { AirlockError, createAirlock } from "../src/index.js";
import { openDatabase } from "../src/store/database.js";
import { recentLedgerRows } from "../src/store/queries/ledger.js";
import { startFakeUpstream } from "./fakes/upstream.js";
import { gatewayOverFake, oneOpenAiModel, recordedRow } from "./support/gateway.js";
import { metricSample } from "./support/metrics-text.js";
import { captureLogs } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * A client that leaves before its answer is whole is recorded as `client_closed` (nginx's 499), on the
 * ledger, in the access log and in the error metrics: an operator tells a user who pressed stop from a
 * deadline that passed (`timeout`, 504) or a provider that failed.
 */
const MESSAGES = [{ role: "user" as const, content: "Tell me a long story." }];

describe.each(STORE_KINDS)("a client that leaves, on %s", (kind) => {
  const logs = captureLogs();
  const fake = gatewayOverFake(kind, "openai", (url) => ({ ...oneOpenAiModel(url), timeouts: { requestMs: 400 } }), {}, { logger: logs.logger });

  /** Sends a call whose upstream never answers, and leaves once the upstream has it. */
  async function leaveWhileWaiting(requestId: string): Promise<void> {
    fake.upstream.push({ kind: "hang" });
    const asked = fake.upstream.requests.length;
    const leaving = new AbortController();
    const sent = fetch(`${fake.gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ model: "oai/gpt-4.1-mini", messages: MESSAGES }),
      signal: leaving.signal,
    });
    await vi.waitFor(() => expect(fake.upstream.requests.length).toBe(asked + 1), { timeout: 2_000 });
    leaving.abort();
    await expect(sent).rejects.toMatchObject({ name: "AbortError" });
  }

  it("records a call whose client left before the answer as client_closed with 499, in the ledger, the access log and the metrics", async () => {
    const requestId = `left-${kind}-${Date.now()}`;
    await leaveWhileWaiting(requestId);

    const row = await recordedRow(fake.gw, requestId);
    expect(row).toMatchObject({ outcome: "error", errorCode: "client_closed", httpStatus: 499, model: "oai/gpt-4.1-mini", inputTokens: 0, outputTokens: 0 });
    expect(Number(row.cost)).toBe(0);
    // The attempt the client's leaving cut short says so too: the provider did nothing wrong.
    expect(row.attempts).toEqual([expect.objectContaining({ model: "oai/gpt-4.1-mini", outcome: "error", reason: "client_closed" })]);

    await vi.waitFor(() => expect(logs.lines.find((line) => line.requestId === requestId)).toMatchObject({ msg: "request", status: 499, code: "client_closed" }));
    const metrics = await (await fetch(`${fake.gw.url}/metrics`, { headers: { authorization: `Bearer ${fake.gw.adminKey}` } })).text();
    expect(metricSample(metrics, "airlock_errors_total", 'code="client_closed"')).toBeGreaterThanOrEqual(1);
  });

  it("still records a deadline that passed as timeout with 504, which the client receives", async () => {
    fake.upstream.push({ kind: "hang" });
    const requestId = `deadline-${kind}-${Date.now()}`;
    const answer = await fetch(`${fake.gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ model: "oai/gpt-4.1-mini", messages: MESSAGES }),
    });
    expect(answer.status).toBe(504);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("timeout");

    const row = await recordedRow(fake.gw, requestId);
    expect(row).toMatchObject({ outcome: "error", errorCode: "timeout", httpStatus: 504 });
    await vi.waitFor(() => expect(logs.lines.find((line) => line.requestId === requestId)).toMatchObject({ status: 504, code: "timeout" }));
  });
});

describe("a library caller that aborts", () => {
  it("ends a stream with client_closed when its signal is aborted, and with timeout when it is a deadline that passed", async () => {
    // 150 ms between events: the signal fires mid-stream.
    const upstream = await startFakeUpstream("openai", { chunkDelayMs: 150 });
    const airlock = createAirlock({
      config: {
        providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "k" } },
        models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }],
        operations: { story: { model: "oai/gpt-4.1-mini" } },
      },
      inMemory: true,
    });
    const readUntilThrown = async (signal: AbortSignal, onFirstText?: () => void) => {
      let texts = 0;
      try {
        for await (const part of airlock.stream({ operation: "story", messages: MESSAGES, signal })) {
          if (part.type === "text" && ++texts === 1) onFirstText?.();
        }
      } catch (err) {
        return { err, texts };
      }
      throw new Error("the stream ended whole");
    };
    try {
      const stop = new AbortController();
      const stopped = await readUntilThrown(stop.signal, () => stop.abort());
      // Named as fetch names an abort, so an application's `err.name === "AbortError"` check sees it, and still an AirlockError.
      expect(stopped.err).toMatchObject({ name: "AbortError", code: "client_closed", status: 499, isRetryable: false });
      expect(stopped.err).toBeInstanceOf(AirlockError);
      const late = await readUntilThrown(AbortSignal.timeout(400));
      // Named as its signal's reason is (AbortSignal.timeout), so an `err.name === "TimeoutError"` check sees it too.
      expect(late.err).toMatchObject({ name: "TimeoutError", code: "timeout", status: 504 });
      expect(late.texts).toBeGreaterThan(0);
    } finally {
      await airlock.close();
      await upstream.close();
    }
  });

  it("ends the call with client_closed (499), thrown to the caller, and records it so", async () => {
    const upstream = await startFakeUpstream("openai");
    const dataDir = await mkdtemp(path.join(tmpdir(), "airlock-abort-"));
    try {
      const airlock = createAirlock({
        config: {
          providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "k" } },
          models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }],
          operations: { story: { model: "oai/gpt-4.1-mini" } },
        },
        dataDir,
      });
      upstream.push({ kind: "hang" });
      const stop = new AbortController();
      const call = airlock.chat({ operation: "story", messages: MESSAGES, signal: stop.signal });
      // The first call opens the store (migrations included) before it goes upstream.
      await vi.waitFor(() => expect(upstream.requests.length).toBe(1), { timeout: 15_000 });
      stop.abort();
      const aborted = await call.catch((err: unknown) => err);
      expect(aborted).toMatchObject({ name: "AbortError", code: "client_closed", status: 499 });
      expect(aborted).toBeInstanceOf(AirlockError);
      await airlock.close();

      const database = await openDatabase({ dataDir: path.join(dataDir, "pgdata") });
      try {
        const rows = await recentLedgerRows(database.db, 10);
        expect(rows).toEqual([expect.objectContaining({ operation: "story", outcome: "error", errorCode: "client_closed", httpStatus: 499 })]);
      } finally {
        await database.close();
      }
    } finally {
      await upstream.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
