import OpenAI from "openai";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { api, captureLogs, routesSuite, rowOf, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/**
 * What happens to a call while its budget lease waits on the store, and something ends it meanwhile:
 * its client leaves, or the kill switch goes on. Nothing is sent upstream, and nothing of the call counts
 * as having reached a provider: no attempt on the ledger, its approval grant's call given back, and a
 * half-open breaker's probe left for the next call.
 *
 * Another PostgreSQL session holds the budget's window row locked, so the call that asks the store for
 * more than its instance's lease holds waits on it. A "$0.01 call" asks for max_tokens 100 from a model
 * priced at $100 per 1M output tokens; one with max_tokens 2000 is worth $0.20, more than the lease holds.
 */
const CENT_MODEL = { id: "p1/m1", price: { input: "0", output: "100", per: "1M" as const } };
const CENT = { kind: "ok" as const, fixture: "openai/chat-length" };
const fast = { syncIntervalMs: 100, leaseTtlMs: 1_000 };
// The lease statement itself (its CTE is named grant_): the sync round and the ledger's insert may wait on the lock too.
const LEASE_WAITING = "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%grant_ as (%'";

/** Runs `whileWaiting` while a call's lease waits on a lock another session holds on the budget's window, then lets it go. */
async function withLeaseHeld(url: string, send: () => Promise<unknown>, whileWaiting: () => Promise<void>): Promise<void> {
  const locker = new pg.Client({ connectionString: url });
  // Another session watches: inside the locker's transaction pg_stat_activity would answer its first snapshot throughout.
  const watching = new pg.Client({ connectionString: url });
  await locker.connect();
  await watching.connect();
  try {
    await locker.query("begin");
    await locker.query("select 1 from budget_windows for update");
    const call = send();
    // Within the lease's 1.5 s deadline, after which the call is refused as `unavailable`: both clients
    // are connected beforehand, so only what `whileWaiting` does is timed.
    await waitFor(async () => (await watching.query(LEASE_WAITING)).rows[0].n as number, (n) => n === 1, 5_000);
    await whileWaiting();
    await locker.query("rollback");
    await call;
  } finally {
    await locker.end();
    await watching.end();
  }
}

async function refusedCode(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
    return "answered";
  } catch (err) {
    if (err instanceof OpenAI.APIUserAbortError) return "left";
    if (err instanceof OpenAI.APIError) return err.code;
    throw err;
  }
}

if (STORE_KINDS.includes("postgres")) {
  describe("a call ended while its budget lease waits, on postgres", () => {
    let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
    const { config, store, instance, sent } = routesSuite("postgres", (made) => {
      upstreams = made;
    });

    it("records a call whose client left meanwhile as client_closed with no attempt: its upstream never hears of it and its grant gets the call back", async () => {
      const logs = captureLogs();
      const shared = await store();
      const operations = { payout: { model: "p1/m1", criticality: "HIGH" as const } };
      const gw = await instance(shared.database, config({ operations, models: [CENT_MODEL], budgets: [{ name: "held", scope: "global", limit: "1.00" }], budgeting: fast }), undefined, logs.logger);
      const svc = (await api(gw, "POST", "/admin/keys", { name: "payments", kind: "service" })).body as { id: string; key: string };
      const grant = (await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 2 })).body as { id: string };
      const grantUsed = async () => ((await api(gw, "GET", "/admin/grants")).body.data as Array<{ id: string; callsUsed: number }>).find((g) => g.id === grant.id)!.callsUsed;
      upstreams[0].push(CENT);
      // Opens the window and this instance's lease, and uses one of the grant's two calls.
      await gw.client(svc.key).chat.completions.create({ model: "payout", max_tokens: 100, messages: [{ role: "user", content: "pay the first invoice" }] });
      const before = sent();

      const requestId = `left-waiting-${Date.now()}`;
      const leaving = new AbortController();
      let outcome: unknown;
      await withLeaseHeld(
        shared.url!,
        async () => {
          outcome = await refusedCode(
            gw.client(svc.key).chat.completions.create(
              { model: "payout", max_tokens: 2_000, messages: [{ role: "user", content: "pay the second invoice" }] },
              { headers: { "x-request-id": requestId }, signal: leaving.signal },
            ),
          );
        },
        async () => {
          leaving.abort();
          // The gateway has seen the client leave once it logs the request: only then is the lease let go.
          await waitFor(async () => logs.lines.find((line) => line.requestId === requestId && line.msg === "request"), (line) => line !== undefined, 5_000);
        },
      );
      expect(outcome).toBe("left");

      const row = (await waitFor(() => rowOf(gw, requestId).catch(() => undefined), (found) => found !== undefined, 5_000)).value!;
      expect(row).toMatchObject({ outcome: "error", errorCode: "client_closed", httpStatus: 499, attemptCount: 0, attempts: [] });
      expect(sent()).toEqual(before);
      // Nothing reached a provider: the grant has its second call back.
      await waitFor(grantUsed, (used) => used === 1, 5_000);
      upstreams[0].push(CENT);
      await gw.client(svc.key).chat.completions.create({ model: "payout", max_tokens: 100, messages: [{ role: "user", content: "pay the second invoice again" }] });
      expect(sent()[0]).toBe(before[0]! + 1);
    });

    it("leaves a half-open breaker's probe for the next call when the kill switch stops the call that had taken it", async () => {
      const shared = await store();
      // A probe interval far longer than the test: without its probe back, the breaker lets no call through.
      const breaker = { failureThreshold: 1, minRequests: 1_000, cooldownMs: 200, probeIntervalMs: 600_000 };
      const gw: Instance = await instance(shared.database, config({ breaker, models: [CENT_MODEL], budgets: [{ name: "held", scope: "global", limit: "1.00" }], budgeting: fast }));
      const call = (maxTokens = 100) => gw.client().chat.completions.create({ model: "p1/m1", max_tokens: maxTokens, messages: [{ role: "user", content: "hello" }] });
      const breakerState = async () => ((await api(gw, "GET", "/admin/status")).body.breakers as Array<{ target: string; state: string }>).find((b) => b.target === "p1/m1")?.state;
      // One 503 opens the breaker (and opens the budget's window and this instance's lease).
      upstreams[0].push({ kind: "error", status: 503 });
      expect(await refusedCode(call())).toBe("provider_error");
      await waitFor(breakerState, (state) => state === "half_open", 5_000);
      const before = sent();

      let stopped: unknown;
      await withLeaseHeld(
        shared.url!,
        async () => {
          stopped = await refusedCode(call(2_000));
        },
        async () => {
          expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "while a lease waits" })).status).toBe(200);
        },
      );
      expect(stopped).toBe("kill_switch_active");
      expect(sent()).toEqual(before);

      expect((await api(gw, "POST", "/admin/kill-switch", { active: false, reason: "resumed" })).status).toBe(200);
      upstreams[0].push(CENT);
      // The probe the stopped call took was given back: this call is the probe, and closes the breaker.
      await call();
      expect(sent()[0]).toBe(before[0]! + 1);
      expect(await breakerState()).toBe("closed");
    });
  });
}
