import OpenAI from "openai";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { api, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/**
 * What a call takes from its approval grant when it does not run: a call that a guard after the grant
 * refuses (a budget, a rate limit, an open circuit breaker) before any provider is asked gives its
 * call and its held spend back, so refused calls cannot use up a grant meant for the approved work.
 * A call that reached a provider and failed counts: the approved action was attempted.
 *
 * A "$0.01 call" asks for max_tokens 100 from a model priced at $100 per 1M output tokens (input
 * free), and the upstream answers with exactly 100 completion tokens.
 */
const CENT_MODEL = { id: "p1/m1", price: { input: "0", output: "100", per: "1M" as const } };
const CENT = { kind: "ok" as const, fixture: "openai/chat-length" };
const operations = { payout: { model: "p1/m1", criticality: "HIGH" as const }, plain: { model: "p1/m1" } };
const fast = { syncIntervalMs: 100, leaseTtlMs: 1_000 };

/** A payout through the official SDK: 200, or the error code it was refused with. */
async function payout(inst: Instance, key: string, maxTokens = 100): Promise<{ ok: true } | { ok: false; status: number | undefined; code: unknown }> {
  try {
    await inst.client(key).chat.completions.create({ model: "payout", max_tokens: maxTokens, messages: [{ role: "user", content: "pay the invoice" }] });
    return { ok: true };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    return { ok: false, status: err.status, code: err.code };
  }
}

async function key(gw: Instance, name: string): Promise<{ id: string; key: string }> {
  return (await api(gw, "POST", "/admin/keys", { name, kind: "service" })).body;
}

async function grantOf(gw: Instance, id: string): Promise<{ callsUsed: number; spendUsed: string }> {
  return (await api(gw, "GET", "/admin/grants")).body.data.find((g: { id: string }) => g.id === id);
}

/** Payouts one after another until the grant refuses one: how many ran. */
async function payoutsUntilRefused(gw: Instance, svc: string, most: number): Promise<number> {
  for (let ran = 0; ran <= most; ran++) {
    const result = await payout(gw, svc);
    if (!result.ok) {
      expect(result.code).toBe("approval_required");
      return ran;
    }
  }
  throw new Error(`more than ${most} payouts ran under the grant`);
}

describe.each(STORE_KINDS)("approval grants and refused calls on %s", (kind) => {
  let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
  const { config, gateway, pair, sent } = routesSuite(kind, (made) => {
    upstreams = made;
  });

  it("gives its call back to a call a budget refuses, so the grant is left for the approved work", async () => {
    const gw = await gateway(config({ operations, models: [CENT_MODEL], budgets: [{ name: "cap", scope: "global", limit: "0.015" }], budgeting: fast }));
    const svc = await key(gw, "payments");
    const grant = (await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 2, maxSpendUsd: "1" })).body;
    const before = sent()[0]!;
    upstreams[0].push(CENT, CENT);
    expect(await payout(gw, svc.key)).toEqual({ ok: true });
    // The budget has $0.005 left: three payouts are refused by it, not by the grant.
    for (let i = 0; i < 3; i++) expect(await payout(gw, svc.key)).toMatchObject({ ok: false, status: 429, code: "budget_exceeded" });
    expect(sent()[0]).toBe(before + 1);
    // Given back as the refusal is answered: the grant holds the one call that ran, at its cost.
    expect(await grantOf(gw, grant.id)).toMatchObject({ callsUsed: 1 });
    await waitFor(() => grantOf(gw, grant.id), (g) => Number(g.spendUsed) === 0.01, 5_000);

    expect((await api(gw, "PUT", "/admin/budgets/cap", { scope: "global", limit: "1" })).status).toBe(200);
    expect(await payout(gw, svc.key)).toEqual({ ok: true });
    expect(await payout(gw, svc.key)).toMatchObject({ ok: false, status: 403, code: "approval_required" });
    expect(sent()[0]).toBe(before + 2);
    expect(await grantOf(gw, grant.id)).toMatchObject({ callsUsed: 2 });
  });

  it("gives its call back to a call a rate limit refuses, or that finds its only model's breaker open", async () => {
    const gw = await gateway(
      config({
        operations,
        rateLimits: [{ name: "small", scope: "key", tokensPerMinute: 2_000 }],
        breaker: { failureThreshold: 2, minRequests: 1_000, cooldownMs: 600_000 },
      }),
    );
    const svc = await key(gw, "limited");
    const grant = (await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 1 })).body;
    // More tokens than the limit allows in a minute: refused, three times over.
    for (let i = 0; i < 3; i++) expect(await payout(gw, svc.key, 5_000)).toMatchObject({ ok: false, status: 429, code: "rate_limited" });
    expect(await grantOf(gw, grant.id)).toMatchObject({ callsUsed: 0 });

    // Two failures of another operation's calls open p1/m1's breaker: a payout then reaches no provider.
    upstreams[0].push({ kind: "error", status: 500 }, { kind: "error", status: 500 });
    for (let i = 0; i < 2; i++) await expect(gw.client(svc.key).chat.completions.create({ model: "plain", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({ status: 502 });
    const before = sent()[0]!;
    expect(await payout(gw, svc.key)).toMatchObject({ ok: false, code: "provider_error" });
    expect(sent()[0]).toBe(before);
    await waitFor(() => grantOf(gw, grant.id), (g) => g.callsUsed === 0, 5_000);
  });

  it("gives back the call and the spend held by a call a budget refuses for its model's missing price", async () => {
    const gw = await gateway(config({ operations, models: [{ id: "p1/m1" }], budgets: [{ name: "cap", scope: "global", limit: "1" }], budgeting: fast }));
    const svc = await key(gw, "unpriced");
    const grant = (await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 1, maxSpendUsd: "5" })).body;
    const before = sent()[0]!;
    for (let i = 0; i < 2; i++) expect(await payout(gw, svc.key)).toMatchObject({ ok: false, code: "misconfigured" });
    expect(sent()[0]).toBe(before);
    expect(await grantOf(gw, grant.id)).toMatchObject({ callsUsed: 0 });
    expect(Number((await grantOf(gw, grant.id)).spendUsed)).toBe(0);
  });

  it("counts a call that reached its provider and failed, and gives back the spend it held", async () => {
    const gw = await gateway(config({ operations, models: [CENT_MODEL] }));
    const svc = await key(gw, "failing");
    const grant = (await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 2, maxSpendUsd: "1" })).body;
    upstreams[0].push({ kind: "error", status: 500 }, CENT);
    expect(await payout(gw, svc.key)).toMatchObject({ ok: false, code: "provider_error" });
    await waitFor(() => grantOf(gw, grant.id), (g) => g.callsUsed === 1 && Number(g.spendUsed) === 0, 5_000);
    expect(await payout(gw, svc.key)).toEqual({ ok: true });
    expect(await payout(gw, svc.key)).toMatchObject({ ok: false, code: "approval_required" });
    await waitFor(() => grantOf(gw, grant.id), (g) => g.callsUsed === 2 && Number(g.spendUsed) === 0.01, 5_000);
  });

  /**
   * A burst of payouts under a grant of 4 calls and a budget with room for one: at most 4 run upstream,
   * the budget's refusals give their calls back, and what is left of the grant is exactly 4 less the
   * calls that ran.
   */
  async function burst(instances: Instance[], svc: { id: string; key: string }, grantId: string): Promise<void> {
    const before = sent()[0]!;
    for (let i = 0; i < 16; i++) upstreams[0].push(CENT);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => payout(instances[i % instances.length]!, svc.key)));
    const ran = results.filter((r) => r.ok).length;
    const codes = results.flatMap((r) => (r.ok ? [] : [r.code]));
    expect(ran).toBeGreaterThanOrEqual(1);
    expect(ran).toBeLessThanOrEqual(4);
    expect(codes).toContain("budget_exceeded");
    expect(codes.every((c) => c === "budget_exceeded" || c === "approval_required")).toBe(true);
    expect(sent()[0]).toBe(before + ran);
    await waitFor(() => grantOf(instances[0]!, grantId), (g) => g.callsUsed === ran, 5_000);

    const [first] = instances;
    expect((await api(first!, "PUT", "/admin/budgets/cap", { scope: "global", limit: "1" })).status).toBe(200);
    expect(await payoutsUntilRefused(first!, svc.key, 4)).toBe(4 - ran);
    expect(sent()[0]).toBe(before + 4);
    expect(await grantOf(first!, grantId)).toMatchObject({ callsUsed: 4 });
  }

  it("runs no more calls than the grant allows in a burst a budget partly refuses, and loses none of it to the refused", async () => {
    const gw = await gateway(config({ operations, models: [CENT_MODEL], budgets: [{ name: "cap", scope: "global", limit: "0.015" }], budgeting: fast }));
    const svc = await key(gw, "burst");
    const grant = (await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 4 })).body;
    await burst([gw], svc, grant.id);
  });

  it("holds a grant shared by two instances to its calls in such a burst, each giving back what it refused", async () => {
    const { a, b } = await pair(config({ operations, models: [CENT_MODEL], budgets: [{ name: "cap", scope: "global", limit: "0.015" }], budgeting: fast }));
    const svc = await key(a, "shared-burst");
    const grant = (await api(a, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 4 })).body;
    // The other instance hears of the grant by notice; read it now rather than wait for that.
    await b.plane.grants.reload();
    await burst([a, b], svc, grant.id);
  });
});

if (STORE_KINDS.includes("postgres")) {
  describe("approval grants and the kill switch on postgres", () => {
    const { config, store, instance, sent } = routesSuite("postgres");

    it("gives its call back to a call the kill switch stops after its grant was counted, before any provider is asked", async () => {
      const shared = await store();
      const gw = await instance(shared.database, config({ operations }));
      const svc = await key(gw, "stopped");
      const grant = (await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 1 })).body;
      // Another session locks the grant's row: the payout passes the kill switch as it arrives, then waits to count itself.
      const locker = new pg.Client({ connectionString: shared.url });
      await locker.connect();
      try {
        await locker.query("begin");
        await locker.query("select id from approval_grants where id = $1 for update", [grant.id]);
        const before = sent()[0]!;
        const call = payout(gw, svc.key);
        await waitFor(
          // This database's sessions only: other tests' run on the same server. The call's way to the lock can take
          // seconds on a machine the whole suite loads.
          async () => (await locker.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%approval_grants%'")).rows[0].n as number,
          (waiting) => waiting === 1,
          30_000,
        );
        expect((await api(gw, "POST", "/admin/kill-switch", { active: true, operation: "payout", reason: "payouts paused" })).status).toBe(200);
        await locker.query("commit");
        expect(await call).toMatchObject({ ok: false, status: 503, code: "kill_switch_active" });
        expect(sent()[0]).toBe(before);
      } finally {
        await locker.end();
      }
      await waitFor(() => grantOf(gw, grant.id), (g) => g.callsUsed === 0, 5_000);
      expect((await api(gw, "POST", "/admin/kill-switch", { active: false, operation: "payout", reason: "resumed" })).status).toBe(200);
      expect(await payout(gw, svc.key)).toEqual({ ok: true });
      expect(await grantOf(gw, grant.id)).toMatchObject({ callsUsed: 1 });
    }, 60_000);
  });
}
