import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AirlockConfigInput } from "../src/config/schema.js";
import type { LedgerAttempt, LedgerRow } from "../src/store/schema/ledger.js";
import { readFixture, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Resilience end to end: retries, Retry-After, fallbacks, mid-stream breaks and circuit breakers,
 * through the official `openai` SDK (or raw HTTP where the wire matters) → the gateway → fake
 * upstreams speaking the real wire formats → the ledger in a real store. Timing is real where
 * timing is the point.
 *
 * Starting a gateway over a fresh store is the expensive part, so the scenarios share one gateway
 * per store kind, each on its own operation with its own pair of fake upstreams and its own models
 * (breakers are per model, so nothing leaks between scenarios). The breaker scenario needs breaker
 * settings of its own and gets a second gateway.
 */

const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];

/** One scenario's route: an operation whose primary (OpenAI-style) falls back to an Anthropic model. */
interface Pair {
  operation: string;
  primaryModel: string;
  backupModel: string;
  primary: FakeUpstream;
  backup: FakeUpstream;
  /** `Date.now()` at which each request reached the primary fake, in order. */
  primaryArrivals: number[];
}

type OperationInput = NonNullable<AirlockConfigInput["operations"]>[string];

/** Records when each request reached a fake, by wrapping its `requests` array (the fake pushes on arrival). */
function trackArrivals(fake: FakeUpstream): number[] {
  const arrivals: number[] = [];
  const push = fake.requests.push.bind(fake.requests);
  fake.requests.push = (...items) => {
    for (let i = 0; i < items.length; i++) arrivals.push(Date.now());
    return push(...items);
  };
  return arrivals;
}

async function startPair(name: string): Promise<Pair> {
  const primary = await startFakeUpstream("openai");
  const backup = await startFakeUpstream("anthropic");
  return {
    operation: name,
    primaryModel: `${name}-primary/gpt-4o-mini`,
    backupModel: `${name}-backup/claude-sonnet-4-5`,
    primary,
    backup,
    primaryArrivals: trackArrivals(primary),
  };
}

/** Providers, models and the operation for each pair; `extra` adds per-operation settings. */
function routingConfig(pairs: Pair[], extra: Record<string, Partial<OperationInput>> = {}): Pick<AirlockConfigInput, "providers" | "models" | "operations"> {
  return {
    providers: Object.fromEntries(
      pairs.flatMap((p) => [
        [`${p.operation}-primary`, { type: "openai-compatible" as const, baseUrl: p.primary.url, apiKey: "sk-primary" }],
        [`${p.operation}-backup`, { type: "anthropic" as const, baseUrl: p.backup.url, apiKey: "sk-ant-backup" }],
      ]),
    ),
    models: pairs.flatMap((p) => [
      { id: p.primaryModel, price: { input: "0.15", output: "0.60", per: "1M" as const } },
      { id: p.backupModel, price: { input: "3", output: "15", per: "1M" as const } },
    ]),
    operations: Object.fromEntries(pairs.map((p) => [p.operation, { model: p.primaryModel, fallbacks: [p.backupModel], ...extra[p.operation] }])),
  };
}

async function closePairs(pairs: Iterable<Pair>): Promise<void> {
  for (const p of pairs) {
    await p.primary.close();
    await p.backup.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The content of each content chunk (non-empty `choices`) of the recorded OpenAI stream, in order. */
function fixtureContentChunks(): string[] {
  return readFixture("openai/chat", "sse")
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map((e) => JSON.parse(e.slice("data: ".length)) as { choices: Array<{ delta: { content?: string } }> })
    .filter((p) => Array.isArray(p.choices) && p.choices.length > 0)
    .map((p) => p.choices[0]?.delta.content ?? "");
}

const attemptSummary = (a: LedgerAttempt) => [a.model, a.outcome, a.status ?? null, a.reason ?? null];

async function lastRow(gw: TestGateway): Promise<LedgerRow> {
  const [row] = await gw.plane.recentCalls(1);
  if (!row) throw new Error("no ledger row");
  return row;
}

function ask(gw: TestGateway, operation: string) {
  return gw.client().chat.completions.create({ model: operation, messages: MESSAGES }).withResponse();
}

function breakerOf(gw: TestGateway, model: string) {
  return gw.plane.breakerStates().find((b) => b.target === model);
}

async function adminStatus(gw: TestGateway): Promise<{ status: number; body: { breakers: Array<{ target: string; state: string; consecutiveFailures: number }> } }> {
  const res = await fetch(`${gw.url}/admin/status`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
  return { status: res.status, body: (await res.json()) as { breakers: Array<{ target: string; state: string; consecutiveFailures: number }> } };
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
      const { operation, primary, backup, primaryModel, backupModel } = pair("over-cap");
      primary.push({ kind: "error", status: 429, headers: { "retry-after": "120" } });

      const started = performance.now();
      const { data, response } = await ask(gw, operation);
      const elapsed = performance.now() - started;

      expect(elapsed).toBeLessThan(2_000);
      expect(data.model).toBe(backupModel);
      expect(response.headers.get("x-airlock-attempts")).toBe("2");
      // The primary had an attempt left (maxAttempts 2): only the cap explains moving on after one.
      expect(primary.requests.length).toBe(1);
      expect(backup.requests.length).toBe(1);

      const row = await lastRow(gw);
      expect(row.attempts.map((a) => [...attemptSummary(a), a.delayMs])).toEqual([
        [primaryModel, "error", 429, "rate_limited", 0],
        [backupModel, "success", null, null, 0],
      ]);
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
      const rows = await gw.plane.recentCalls(calls);
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

  describe("circuit breaker", () => {
    const breaker = { failureThreshold: 3, cooldownMs: 1_000, probeIntervalMs: 1_000, minRequests: 1_000 };
    let p: Pair;
    let gw: TestGateway;

    beforeAll(async () => {
      p = await startPair("breaker");
      gw = await startTestGateway(kind, {
        retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 5 },
        breaker,
        // A hung probe fails on this attempt timeout instead of holding the test.
        ...routingConfig([p], { breaker: { timeoutMs: 400 } }),
      });
    });

    afterAll(async () => {
      await gw?.close();
      if (p) await closePairs([p]);
    });

    it("opens after consecutive failures, skips the target, probes once while half-open, and closes on success", async () => {
      const { operation, primary, backup, primaryModel, backupModel } = p;
      const state = () => breakerOf(gw, primaryModel);

      // Closed: three 503s in a row, each call served by the fallback; the third opens the breaker.
      primary.push(...Array.from({ length: breaker.failureThreshold }, () => ({ kind: "error" as const, status: 503 })));
      for (let i = 1; i <= breaker.failureThreshold; i++) {
        const { data } = await ask(gw, operation);
        expect(data.model).toBe(backupModel);
        expect(state()?.state).toBe(i < breaker.failureThreshold ? "closed" : "open");
      }
      expect(primary.requests.length).toBe(breaker.failureThreshold);

      // Open: the primary is skipped without a request.
      for (let i = 0; i < 3; i++) {
        const { data, response } = await ask(gw, operation);
        expect(data.model).toBe(backupModel);
        expect(response.headers.get("x-airlock-attempts")).toBe("2");
      }
      expect(primary.requests.length).toBe(breaker.failureThreshold);
      for (const row of await gw.plane.recentCalls(3)) {
        expect(row.attempts.map(attemptSummary)).toEqual([
          [primaryModel, "error", null, "circuit_open"],
          [backupModel, "success", null, null],
        ]);
        expect(row.attempts[0]).toMatchObject({ latencyMs: 0, delayMs: 0 });
        expect(row).toMatchObject({ outcome: "success", model: backupModel, fallbacks: 1 });
      }

      const open = await adminStatus(gw);
      expect(open.status).toBe(200);
      expect(open.body.breakers).toEqual(expect.arrayContaining([expect.objectContaining({ target: primaryModel, state: "open", consecutiveFailures: breaker.failureThreshold })]));

      // Half-open: after the cooldown, a burst of concurrent calls while the primary hangs lets one probe through.
      const openedAt = state()!.openedAt!;
      await sleep(Math.max(0, openedAt + breaker.cooldownMs - Date.now()) + 25);
      primary.push({ kind: "hang" });
      const before = primary.requests.length;
      const burst = 10;
      const started = Date.now();
      const results = await Promise.all(Array.from({ length: burst }, () => ask(gw, operation)));
      const burstMs = Date.now() - started;
      // The whole burst fits inside one probe interval, so "at most one probe per interval" is what is measured.
      expect(burstMs).toBeLessThan(breaker.probeIntervalMs);
      expect(results.every((r) => r.data.model === backupModel)).toBe(true);
      expect(primary.requests.length - before).toBeLessThanOrEqual(1);
      expect(primary.requests.length - before).toBe(1);
      const firstAttempts = (await gw.plane.recentCalls(burst)).map((r) => r.attempts[0]!);
      expect(firstAttempts.every((a) => a.model === primaryModel)).toBe(true);
      expect(firstAttempts.filter((a) => a.reason === "timeout").length).toBe(1);
      expect(firstAttempts.filter((a) => a.reason === "circuit_open").length).toBe(burst - 1);
      // The failed probe opened the breaker again, for a fresh cooldown.
      const reopened = state()!;
      expect(reopened.state).toBe("open");
      expect(reopened.openedAt!).toBeGreaterThan(openedAt);

      // The primary recovers (its queue is empty: it answers): after the next cooldown a probe succeeds and closes the breaker.
      await sleep(Math.max(0, reopened.openedAt! + breaker.cooldownMs - Date.now()) + 25);
      const backupBefore = backup.requests.length;
      const probe = await ask(gw, operation);
      expect(probe.data.model).toBe(primaryModel);
      expect((await lastRow(gw)).attempts.map(attemptSummary)).toEqual([[primaryModel, "success", null, null]]);
      expect(state()).toMatchObject({ state: "closed", consecutiveFailures: 0, openedAt: null });

      // Closed again: calls go straight to the primary, well inside what would have been a probe interval.
      const primaryBefore = primary.requests.length;
      for (let i = 0; i < 3; i++) expect((await ask(gw, operation)).data.model).toBe(primaryModel);
      expect(primary.requests.length - primaryBefore).toBe(3);
      expect(backup.requests.length).toBe(backupBefore);
      const closed = await adminStatus(gw);
      expect(closed.body.breakers).toEqual(expect.arrayContaining([expect.objectContaining({ target: primaryModel, state: "closed" })]));
    });
  });
});
