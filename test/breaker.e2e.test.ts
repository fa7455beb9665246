import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeScenario } from "./fakes/upstream.js";
import { metricSample } from "./support/metrics-text.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { ask, attemptSummary, breakerOf, closePairs, lastRow, MESSAGES, routingConfig, startPair, type Pair } from "./support/resilience.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Circuit breakers end to end: a breaker opening after consecutive failures, skipping its target,
 * probing once while half-open and closing again, through the official `openai` SDK → the gateway →
 * fake upstreams speaking the real wire formats → the ledger in a real store, with real timing. The
 * scenario needs breaker settings of its own, so it gets its own gateway per store kind.
 */

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A scenario for a `held` request, and the way to end it. */
function held(): { scenario: FakeScenario; release(then: FakeScenario): void } {
  let release!: (then: FakeScenario) => void;
  const until = new Promise<FakeScenario>((resolve) => (release = resolve));
  return { scenario: { kind: "held", until }, release };
}

async function adminStatus(gw: TestGateway): Promise<{ status: number; body: { breakers: Array<{ target: string; state: string; consecutiveFailures: number }> } }> {
  const res = await fetch(`${gw.url}/admin/status`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
  return { status: res.status, body: (await res.json()) as { breakers: Array<{ target: string; state: string; consecutiveFailures: number }> } };
}

describe.each(STORE_KINDS)("resilience on %s", (kind) => {
  describe("circuit breaker", () => {
    // A probe interval far longer than the test: the burst below is inside one however slow the machine.
    const breaker = { failureThreshold: 3, cooldownMs: 1_000, probeIntervalMs: 600_000, minRequests: 1_000 };
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
      for (const row of await gw.plane.reports.recentCalls(3)) {
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
      const results = await Promise.all(Array.from({ length: burst }, () => ask(gw, operation)));
      expect(results.every((r) => r.data.model === backupModel)).toBe(true);
      expect(primary.requests.length - before).toBeLessThanOrEqual(1);
      expect(primary.requests.length - before).toBe(1);
      const firstAttempts = (await gw.plane.reports.recentCalls(burst)).map((r) => r.attempts[0]!);
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

  describe("circuit breaker: generations, status and Retry-After", () => {
    // A cooldown long enough that a call made just after a breaker opens meets it still open; a probe
    // interval far longer than the test, so that a half-open breaker admits one probe only.
    const breaker = { failureThreshold: 2, cooldownMs: 3_000, probeIntervalMs: 600_000, minRequests: 1_000 };
    const pairs = new Map<string, Pair>();
    let gw: TestGateway;
    const pair = (name: string) => pairs.get(name)!;

    beforeAll(async () => {
      for (const name of ["straggler", "status", "all-open", "long-wait"]) pairs.set(name, await startPair(name));
      gw = await startTestGateway(kind, { retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 5 }, breaker, ...routingConfig([...pairs.values()]) });
    });

    afterAll(async () => {
      await gw?.close();
      await closePairs(pairs.values());
    });

    /** Two 503s in a row from the primary, each call served by the backup: the primary's breaker opens. */
    async function openPrimary(p: Pair): Promise<number> {
      p.primary.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
      for (let i = 0; i < breaker.failureThreshold; i++) expect((await ask(gw, p.operation)).data.model).toBe(p.backupModel);
      const open = breakerOf(gw, p.primaryModel);
      expect(open?.state).toBe("open");
      return open!.openedAt!;
    }

    it("is decided by its probe: a late failure of a call that began before it opened does not open it again", async () => {
      const p = pair("straggler");
      // A call reaches the primary while its breaker is closed, and is held there.
      const slow = held();
      p.primary.push(slow.scenario);
      const late = ask(gw, p.operation);
      await expect.poll(() => p.primary.requests.length).toBe(1);
      const openedAt = await openPrimary(p);

      // After the cooldown one probe goes to the primary, and is held too.
      await expect.poll(() => Date.now() >= openedAt + breaker.cooldownMs).toBe(true);
      const probeAnswer = held();
      p.primary.push(probeAnswer.scenario);
      const probe = ask(gw, p.operation);
      await expect.poll(() => p.primary.requests.length).toBe(4);
      expect(breakerOf(gw, p.primaryModel)?.state).toBe("half_open");

      // The slow call now fails, and falls back; the breaker still waits for its probe.
      slow.release({ kind: "error", status: 503 });
      expect((await late).data.model).toBe(p.backupModel);
      expect(breakerOf(gw, p.primaryModel)).toMatchObject({ state: "half_open", openedAt });

      // The probe succeeds: the breaker closes, and the next call goes to the primary.
      probeAnswer.release({ kind: "ok" });
      expect((await probe).data.model).toBe(p.primaryModel);
      expect(breakerOf(gw, p.primaryModel)).toMatchObject({ state: "closed", consecutiveFailures: 0 });
      expect((await ask(gw, p.operation)).data.model).toBe(p.primaryModel);
      expect(p.primary.requests.length).toBe(5);
    });

    it("shows a breaker whose cooldown has passed as half_open, in /admin/status and the metrics, with no call made", async () => {
      const p = pair("status");
      await openPrimary(p);
      expect((await adminStatus(gw)).body.breakers.find((b) => b.target === p.primaryModel)?.state).toBe("open");
      const gauge = async () => metricSample(await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).text(), "airlock_circuit_state", `model="${p.primaryModel}"`);
      expect(await gauge()).toBe(2);

      await expect.poll(async () => (await adminStatus(gw)).body.breakers.find((b) => b.target === p.primaryModel)?.state).toBe("half_open");
      expect(await gauge()).toBe(1);
      const requests = p.primary.requests.length;
      // What the status said is what the next call finds: it is let through to the primary as the probe, and closes the breaker.
      expect((await ask(gw, p.operation)).data.model).toBe(p.primaryModel);
      expect(p.primary.requests.length).toBe(requests + 1);
      expect((await adminStatus(gw)).body.breakers.find((b) => b.target === p.primaryModel)?.state).toBe("closed");
    });

    it("tells the client when to come back when every candidate's breaker is open, and the openai SDK's own retry then gets through", async () => {
      const p = pair("all-open");
      // Each call fails on both (503, then Anthropic's 529): after two, both breakers are open.
      for (let i = 0; i < breaker.failureThreshold; i++) {
        p.primary.push({ kind: "error", status: 503 });
        p.backup.push({ kind: "error", status: 529 });
        await expect(ask(gw, p.operation)).rejects.toMatchObject({ status: 502 });
      }
      const primaryOpen = breakerOf(gw, p.primaryModel)!;
      const backupOpen = breakerOf(gw, p.backupModel)!;
      expect([primaryOpen.state, backupOpen.state]).toEqual(["open", "open"]);

      const sentAt = Date.now();
      const refused = (await ask(gw, p.operation).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(refused).toBeInstanceOf(OpenAI.APIError);
      expect(refused).toMatchObject({ status: 502, code: "provider_error" });
      expect((await lastRow(gw)).attempts.map(attemptSummary)).toEqual([
        [p.primaryModel, "error", null, "circuit_open"],
        [p.backupModel, "error", null, "circuit_open"],
      ]);
      // The primary opened first, so it is the first to let a probe through.
      const waitMs = Number(refused.headers?.get("retry-after-ms"));
      expect(waitMs).toBeGreaterThan(0);
      expect(waitMs).toBeLessThanOrEqual(primaryOpen.openedAt! + breaker.cooldownMs - sentAt);
      expect(refused.headers?.get("retry-after")).toBe(String(Math.ceil(waitMs / 1000)));
      expect(refused.headers?.get("x-should-retry")).toBeNull();

      // The official SDK waits as told, then retries: the primary's probe answers.
      const retrying = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 1 });
      const primaryRequests = p.primary.requests.length;
      const { data } = await retrying.chat.completions.create({ model: p.operation, messages: MESSAGES }).withResponse();
      expect(data.model).toBe(p.primaryModel);
      expect(p.primary.requests.length).toBe(primaryRequests + 1);
    });

    it("tells the openai SDK not to sleep out a wait of an hour, and still says when to come back", async () => {
      const p = pair("long-wait");
      p.primary.push({ kind: "error", status: 429, headers: { "retry-after": "3600" } });
      p.backup.push({ kind: "error", status: 429, headers: { "retry-after": "3600" } });
      // The SDK would retry a 502 twice; told not to, it fails at once instead of sleeping for two hours.
      const retrying = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 2 });
      const refused = (await retrying.chat.completions.create({ model: p.operation, messages: MESSAGES }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(refused).toMatchObject({ status: 502, code: "provider_error" });
      expect(refused.headers?.get("retry-after")).toBe("3600");
      expect(refused.headers?.get("retry-after-ms")).toBe("3600000");
      expect(refused.headers?.get("x-should-retry")).toBe("false");
      expect([p.primary.requests.length, p.backup.requests.length]).toEqual([1, 1]);
    });
  });
});
