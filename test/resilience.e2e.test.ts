import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFixture } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { ask, attemptSummary, breakerOf, closePairs, expectFellBackAtOnce, lastRow, MESSAGES, routingConfig, startPair, type Pair } from "./support/resilience.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Resilience end to end: retries, Retry-After, fallbacks and mid-stream breaks, through the official
 * `openai` SDK (or raw HTTP where the wire matters) → the gateway → fake upstreams speaking the real
 * wire formats → the ledger in a real store. Timing is real where timing is the point. Circuit
 * breakers are in breaker.e2e.test.ts.
 *
 * Starting a gateway over a fresh store is the expensive part, so the scenarios share one gateway
 * per store kind, each on its own operation with its own pair of fake upstreams and its own models
 * (breakers are per model, so nothing leaks between scenarios).
 */

/** The content of each content chunk (non-empty `choices`) of the recorded OpenAI stream, in order. */
function fixtureContentChunks(): string[] {
  return readFixture("openai/chat", "sse")
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map((e) => JSON.parse(e.slice("data: ".length)) as { choices: Array<{ delta: { content?: string } }> })
    .filter((p) => Array.isArray(p.choices) && p.choices.length > 0)
    .map((p) => p.choices[0]?.delta.content ?? "");
}

describe.each(STORE_KINDS)("resilience on %s", (kind) => {
  describe("retries, Retry-After and fallbacks", () => {
    const retry = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 60_000 };
    const outageRetry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
    const pairs = new Map<string, Pair>();
    let gw: TestGateway;
    const pair = (name: string) => pairs.get(name)!;

    beforeAll(async () => {
      for (const name of ["retry-after", "retry-after-ms", "over-cap", "outage", "bad-request", "stream-cut", "all-fail"]) pairs.set(name, await startPair(name));
      gw = await startTestGateway(kind, {
        retry,
        // Neither consecutive failures nor the error rate may open a breaker in these scenarios.
        breaker: { failureThreshold: 1_000, minRequests: 1_000 },
        // The outage operation has its own retry settings; every field that matters differs from the top level.
        ...routingConfig([...pairs.values()], { outage: { retry: outageRetry } }),
      });
    });

    afterAll(async () => {
      await gw?.close();
      await closePairs(pairs.values());
    });

    it("honours Retry-After: the retry reaches the primary no sooner than the upstream asked", async () => {
      const { operation, primary, backup, primaryArrivals, primaryModel } = pair("retry-after");
      // Lower-case, so it replaces the fake's default `retry-after: 1` rather than adding a second header.
      primary.push({ kind: "error", status: 429, headers: { "retry-after": "2" } });

      const { data, response } = await ask(gw, operation);

      expect(data.model).toBe(primaryModel);
      expect(response.headers.get("x-airlock-attempts")).toBe("2");
      expect(primary.requests.length).toBe(2);
      expect(backup.requests.length).toBe(0);
      expect(primaryArrivals.length).toBe(2);
      // Allows 10 ms of timer granularity.
      expect(primaryArrivals[1]! - primaryArrivals[0]!).toBeGreaterThanOrEqual(1_990);

      const row = await lastRow(gw);
      expect(row.attempts.map(attemptSummary)).toEqual([
        [primaryModel, "error", 429, "rate_limited"],
        [primaryModel, "success", null, null],
      ]);
      expect(row.attempts[0]!.delayMs).toBe(0);
      expect(row.attempts[1]!.delayMs).toBeGreaterThanOrEqual(2_000);
      // The hint is used exactly, without jitter.
      expect(row.attempts[1]!.delayMs).toBe(2_000);
      expect(row).toMatchObject({ outcome: "success", model: primaryModel, operation, attemptCount: 2, fallbacks: 0 });
    });

    it("prefers retry-after-ms over retry-after", async () => {
      const { operation, primary, backup, primaryArrivals, primaryModel } = pair("retry-after-ms");
      // retry-after alone (120 s) is over the cap and would mean a fallback; retry-after-ms (300 ms) wins.
      primary.push({ kind: "error", status: 429, headers: { "retry-after": "120", "retry-after-ms": "300" } });

      const { data } = await ask(gw, operation);

      expect(data.model).toBe(primaryModel);
      expect(backup.requests.length).toBe(0);
      expect(primaryArrivals.length).toBe(2);
      expect(primaryArrivals[1]! - primaryArrivals[0]!).toBeGreaterThanOrEqual(290);
      const row = await lastRow(gw);
      expect(row.attempts.map((a) => [a.model, a.outcome, a.delayMs])).toEqual([
        [primaryModel, "error", 0],
        [primaryModel, "success", 300],
      ]);
    });

    it("falls back at once when Retry-After is over maxRetryAfterMs", async () => {
      const overCap = pair("over-cap");
      const { operation, primary, backupModel } = overCap;
      primary.push({ kind: "error", status: 429, headers: { "retry-after": "120" } });

      const started = performance.now();
      const { data, response } = await ask(gw, operation);
      const elapsed = performance.now() - started;

      expect(elapsed).toBeLessThan(2_000);
      expect(data.model).toBe(backupModel);
      expect(response.headers.get("x-airlock-attempts")).toBe("2");
      // The primary had an attempt left (maxAttempts 2): only the cap explains moving on after one.
      const row = await expectFellBackAtOnce(gw, overCap);
      expect(row).toMatchObject({ outcome: "success", model: backupModel, attemptCount: 2, fallbacks: 1 });
    });

    it("rides out a primary outage on the fallback, with the operation's own retry settings", async () => {
      const { operation, primary, backup, primaryModel, backupModel } = pair("outage");
      const calls = 10;
      // Every request the primary gets fails; more are queued than the operation may use.
      for (let i = 0; i < calls * 10; i++) primary.push({ kind: "error", status: 503 });

      for (let i = 0; i < calls; i++) {
        const { data } = await gw.client().chat.completions.create({ model: "", messages: MESSAGES }, { headers: { "x-airlock-operation": operation } }).withResponse();
        expect(data.model).toBe(backupModel);
      }

      expect(primary.requests.length).toBe(calls * outageRetry.maxAttempts);
      expect(backup.requests.length).toBe(calls);
      const rows = await gw.plane.reports.recentCalls(calls);
      expect(rows.length).toBe(calls);
      for (const row of rows) {
        const onPrimary = row.attempts.filter((a) => a.model === primaryModel);
        expect(onPrimary.length).toBeLessThanOrEqual(outageRetry.maxAttempts);
        // The top-level policy allows 2 attempts; 3 means the operation's own settings applied.
        expect(onPrimary.length).toBe(outageRetry.maxAttempts);
        expect(row.attempts.map(attemptSummary)).toEqual([
          [primaryModel, "error", 503, "server_error"],
          [primaryModel, "error", 503, "server_error"],
          [primaryModel, "error", 503, "server_error"],
          [backupModel, "success", null, null],
        ]);
        expect(row.attempts[0]!.delayMs).toBe(0);
        // Full jitter: after n failed attempts the wait is below min(maxDelayMs, baseDelayMs·2^(n−1)).
        onPrimary.slice(1).forEach((a, i) => {
          const ceiling = Math.min(outageRetry.maxDelayMs, outageRetry.baseDelayMs * 2 ** i);
          expect(a.delayMs).toBeGreaterThanOrEqual(0);
          expect(a.delayMs).toBeLessThan(Math.max(1, ceiling));
        });
        // The move to the fallback is immediate.
        expect(row.attempts.at(-1)!.delayMs).toBe(0);
        expect(row).toMatchObject({ outcome: "success", model: backupModel, operation, attemptCount: 4, fallbacks: 1 });
      }
      expect(breakerOf(gw, primaryModel)?.state).toBe("closed");
    });

    it("neither retries nor falls back on a 400 from the primary", async () => {
      const { operation, primary, backup, primaryModel } = pair("bad-request");
      primary.push({ kind: "error", status: 400 });

      const error = await ask(gw, operation).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_request");
      expect(primary.requests.length).toBe(1);
      expect(backup.requests.length).toBe(0);
      const row = await lastRow(gw);
      expect(row.attempts.map(attemptSummary)).toEqual([[primaryModel, "error", 400, "client_error"]]);
      expect(row).toMatchObject({ outcome: "error", errorCode: "invalid_request", httpStatus: 400, attemptCount: 1, fallbacks: 0 });
      // A malformed request says nothing about the target's health.
      expect(breakerOf(gw, primaryModel)?.consecutiveFailures ?? 0).toBe(0);
    });

    it("ends a stream cut mid-way with an error event, no [DONE], no fallback, and bills the partial output", async () => {
      const { operation, primary, backup, primaryModel } = pair("stream-cut");
      const cutAfter = 3;
      const expectedChunks = fixtureContentChunks().slice(0, cutAfter);
      expect(expectedChunks.length).toBe(cutAfter);

      // Through the SDK: the chunks before the cut arrive, then the SSE error event throws.
      primary.push({ kind: "cut", afterChunks: cutAfter });
      const stream = await gw.client().chat.completions.create({ model: operation, stream: true, messages: MESSAGES });
      const received: string[] = [];
      const error = await (async () => {
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
      })().catch((e: unknown) => e);
      expect(received).toEqual(expectedChunks);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("provider_error");
      expect(primary.requests.length).toBe(1);
      expect(backup.requests.length).toBe(0);

      const row = await lastRow(gw);
      expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", model: primaryModel, stream: true, attemptCount: 1, fallbacks: 0 });
      // The attempt that opened the stream broke: it is recorded as failed, with why.
      expect(row.attempts.map((a) => [a.model, a.outcome, a.reason ?? null])).toEqual([[primaryModel, "error", "connection"]]);
      expect(row.outputTokens).toBeGreaterThan(0);
      // The fake sent no usage before the cut, so what was delivered is estimated and flagged.
      expect(row.usageEstimated).toBe(true);
      expect(Number(row.cost)).toBeGreaterThan(0);

      // On the wire: the content events, then one error event as the very last, and never [DONE].
      primary.push({ kind: "cut", afterChunks: cutAfter });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: operation, stream: true, messages: MESSAGES }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const events = (await res.text()).split("\n\n").filter((e) => e.trim().length > 0);
      expect(events).not.toContain("data: [DONE]");
      const last = events.at(-1)!;
      expect(last.startsWith('data: {"error":')).toBe(true);
      const body = JSON.parse(last.slice("data: ".length)) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ code: "provider_error", type: "upstream_error", param: null, message: expect.stringContaining("broke mid-way") });
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)) as { choices: Array<{ delta: { content?: string } }> });
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? "")).toEqual(expectedChunks);
      expect(primary.requests.length).toBe(2);
      expect(backup.requests.length).toBe(0);
    });

    it("answers 502 provider_error with every attempt when all candidates fail", async () => {
      const { operation, primary, backup, primaryModel, backupModel } = pair("all-fail");
      primary.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
      backup.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });

      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-airlock-operation": operation },
        body: JSON.stringify({ messages: MESSAGES }),
      });

      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: { code: string; type: string; message: string; attempts: Array<Record<string, unknown>> } };
      expect(body.error).toMatchObject({ code: "provider_error", type: "upstream_error", message: "every candidate failed" });
      const attempt = (model: string, provider: string) => ({
        model,
        provider,
        status: 503,
        error: "server_error",
        delay_ms: expect.any(Number),
        latency_ms: expect.any(Number),
      });
      const primaryProvider = `${operation}-primary`;
      const backupProvider = `${operation}-backup`;
      expect(body.error.attempts).toEqual([attempt(primaryModel, primaryProvider), attempt(primaryModel, primaryProvider), attempt(backupModel, backupProvider), attempt(backupModel, backupProvider)]);
      const delays = body.error.attempts.map((a) => a.delay_ms as number);
      // First attempt on each candidate: no wait (a fallback is immediate); each retry: within the backoff bound.
      expect(delays[0]).toBe(0);
      expect(delays[2]).toBe(0);
      for (const d of [delays[1]!, delays[3]!]) {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.max(1, Math.min(retry.maxDelayMs, retry.baseDelayMs)));
      }
      expect(primary.requests.length).toBe(2);
      expect(backup.requests.length).toBe(2);

      const row = await lastRow(gw);
      expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", httpStatus: 502, attemptCount: 4, fallbacks: 1, operation });
      expect(row.attempts.map((a) => [a.model, a.status, a.reason, a.delayMs])).toEqual(body.error.attempts.map((a) => [a.model, a.status, a.error, a.delay_ms]));

      // The SDK sees the same error.
      primary.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
      backup.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
      const error = await ask(gw, operation).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("provider_error");
    });
  });

  describe("a Retry-After that would outlast the request deadline", () => {
    let gw: TestGateway;
    let deadlinePair: Pair;

    beforeAll(async () => {
      deadlinePair = await startPair("deadline");
      // The cap allows the hint; only the request deadline is shorter than it.
      gw = await startTestGateway(kind, { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 60_000 }, timeouts: { requestMs: 3_000 }, ...routingConfig([deadlinePair]) });
    });

    afterAll(async () => {
      await gw?.close();
      await closePairs([deadlinePair]);
    });

    it("is not waited for: the fallback answers at once", async () => {
      const { operation, primary, backupModel } = deadlinePair;
      primary.push({ kind: "error", status: 429, headers: { "retry-after": "10" } });

      const started = performance.now();
      const { data } = await ask(gw, operation);

      expect(performance.now() - started).toBeLessThan(2_000);
      expect(data.model).toBe(backupModel);
      await expectFellBackAtOnce(gw, deadlinePair);
    });

    it("is passed on to the client when no candidate is left, so that its own retry waits as the upstream asked", async () => {
      const { operation, primary, backup } = deadlinePair;
      primary.push({ kind: "error", status: 429, headers: { "retry-after": "10" } });
      backup.push({ kind: "error", status: 429, headers: { "retry-after-ms": "12500" } });

      const error = await ask(gw, operation).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      const apiError = error as InstanceType<typeof OpenAI.APIError>;
      expect(apiError).toMatchObject({ status: 502, code: "provider_error" });
      // The last upstream's hint, in whole seconds rounded up.
      expect(apiError.headers?.get("retry-after")).toBe("13");
      expect(apiError.headers?.get("retry-after-ms")).toBe("12500");
    });
  });
});
