import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { api, BOOTSTRAP_ADMIN_ID, rawChat, routesSuite, type Instance } from "./support/routing.js";
import { rowsOf } from "../src/store/queries/rows.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/**
 * Budgets changed while the gateway runs: a new limit, window or time zone applies at once and allows
 * nothing already spent, and a deleted budget stays deleted (the rest of budgets: budgets.e2e.test.ts).
 *
 * A "$0.01 call" here asks for max_tokens 100 from a model priced at $100 per 1M output tokens (input
 * free), and the upstream answers with exactly 100 completion tokens (finish_reason "length").
 */
const CENT_MODEL = { id: "p1/m1", price: { input: "0", output: "100", per: "1M" as const } };
const CENT = { fixture: "openai/chat-length" };

const centCall = (inst: Instance, key = inst.adminKey, extra: Record<string, unknown> = {}) => rawChat(inst, key, extra);

describe.each(STORE_KINDS)("budgets changed while running on %s", (kind) => {
  let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
  const { config, gateway, instance, store, sent } = routesSuite(kind, (made) => {
    upstreams = made;
  });
  const fast = { syncIntervalMs: 100, leaseTtlMs: 1_000 };

  it("changes budgets through the admin API (admin keys only), audited, and applies a new limit at once; a deleted one stays deleted over a restart", async () => {
    const shared = await store();
    const cfg = config({ models: [CENT_MODEL], budgets: [{ name: "cap", scope: "global", limit: "0.01" }], budgeting: fast });
    const gw = await instance(shared.database, cfg);
    for (let i = 0; i < 5; i++) upstreams[0].push({ kind: "ok", ...CENT });
    expect((await centCall(gw)).status).toBe(200);
    expect((await centCall(gw)).status).toBe(429);
    await waitFor(async () => (await api(gw, "GET", "/admin/budgets")).body.data[0].current.exhausted, (exhausted) => exhausted, 5_000);

    const service = (await api(gw, "POST", "/admin/keys", { name: "svc", kind: "service" })).body;
    // A key that is not an admin's only proposes the change (see change-requests.e2e.test.ts).
    expect(await api(gw, "PUT", "/admin/budgets/cap", { scope: "global", limit: "1" }, service.key)).toMatchObject({ status: 202, body: { status: "PENDING" } });
    expect(await api(gw, "PUT", "/admin/budgets/cap", { scope: "team", limit: "1" })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(await api(gw, "PUT", "/admin/budgets/cap", { scope: "global", limit: -1 })).toMatchObject({ status: 400 });
    expect(await api(gw, "PUT", "/admin/budgets/cap", { scope: "global", limit: "1", timezone: "Mars/Olympus" })).toMatchObject({ status: 400 });

    const raised = await api(gw, "PUT", "/admin/budgets/cap", { scope: "global", limit: "0.02" });
    // A higher limit reopens the window: it is no longer shown exhausted, and its next refusal is reported again.
    expect(raised.body).toMatchObject({ name: "cap", limit: "0.02", warnAt: "0.016", source: "admin", updatedBy: BOOTSTRAP_ADMIN_ID, current: { spent: "0.01", exhausted: false } });
    // A global budget has no target, so what GET shows can be PUT back as it is.
    const [shown] = (await api(gw, "GET", "/admin/budgets")).body.data;
    expect(shown).not.toHaveProperty("target");
    const { scope, target, window, timezone, limit, warnAt } = shown;
    expect(await api(gw, "PUT", "/admin/budgets/cap", { scope, target, window, timezone, limit, warnAt })).toMatchObject({ status: 200, body: { limit: "0.02" } });
    expect((await centCall(gw)).status).toBe(200);
    expect((await centCall(gw)).status).toBe(429);
    await waitFor(async () => (await api(gw, "GET", "/admin/budgets")).body.data[0].current.exhausted, (exhausted) => exhausted, 5_000);

    expect((await api(gw, "DELETE", "/admin/budgets/cap")).status).toBe(200);
    expect((await api(gw, "DELETE", "/admin/budgets/cap")).status).toBe(404);
    expect((await centCall(gw)).status).toBe(200);
    const audit = (await api(gw, "GET", "/admin/audit?limit=2")).body.data;
    expect(audit.map((e: Record<string, unknown>) => [e.action, e.target, e.actor])).toEqual([
      ["budget.delete", "cap", BOOTSTRAP_ADMIN_ID],
      ["budget.set", "cap", BOOTSTRAP_ADMIN_ID],
    ]);
    // The file still has the budget; a restart does not bring back what an admin deleted. Set again, it is back.
    const restarted = await instance(shared.database, cfg, gw.adminKey);
    expect((await api(restarted, "GET", "/admin/budgets")).body.data).toEqual([]);
    expect((await centCall(restarted)).status).toBe(200);
    expect((await api(restarted, "PUT", "/admin/budgets/cap", { scope: "global", limit: "5" })).body).toMatchObject({ name: "cap", limit: "5", source: "admin" });
    expect((await api(restarted, "GET", "/admin/budgets")).body.data.map((b: { name: string }) => b.name)).toEqual(["cap"]);
  });

  it("carries what a window spent into the one that replaces it when its time zone or period changes, so the change allows nothing more", async () => {
    const gw = await gateway(config({ models: [CENT_MODEL], budgeting: fast }));
    for (let i = 0; i < 12; i++) upstreams[0].push({ kind: "ok", ...CENT });
    expect((await api(gw, "PUT", "/admin/budgets/moved", { scope: "global", limit: "0.05" })).status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await centCall(gw)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const current = async () => (await api(gw, "GET", "/admin/budgets")).body.data[0].current;
    await waitFor(current, (shown) => shown.spent === "0.05", 5_000);

    for (const change of [{ timezone: "Europe/Paris" }, { timezone: "Europe/Paris", window: "monthly" }]) {
      expect((await api(gw, "PUT", "/admin/budgets/moved", { scope: "global", limit: "0.05", ...change })).status).toBe(200);
      const refused = await centCall(gw);
      expect(refused.body.error).toMatchObject({ code: "budget_exceeded", budget: "moved" });
      expect(await current()).toMatchObject({ spent: "0.05", remaining: "0" });
    }
    expect(sent()[0]).toBe(5);
  });

  it("applies a lower limit at once to what the instance already leased, and returns a removed budget's allowance to its window", async () => {
    const gw = await gateway(config({ models: [CENT_MODEL], budgets: [{ name: "cap", scope: "global", limit: "1.00" }], budgeting: { syncIntervalMs: 60_000, leaseTtlMs: 180_000 } }));
    for (let i = 0; i < 4; i++) upstreams[0].push({ kind: "ok", ...CENT });
    expect((await centCall(gw)).status).toBe(200);
    const current = async () => (await api(gw, "GET", "/admin/budgets")).body.data[0]?.current;
    // The instance leased more than the one call it made: the rest is its allowance, reserved in the window.
    expect(Number((await current()).reserved)).toBeGreaterThan(0);

    expect((await api(gw, "PUT", "/admin/budgets/cap", { scope: "global", limit: "0.01" })).status).toBe(200);
    expect(await current()).toMatchObject({ spent: "0.01", reserved: "0" });
    expect((await centCall(gw)).status).toBe(429);

    expect((await api(gw, "PUT", "/admin/budgets/cap", { scope: "global", limit: "1.00" })).status).toBe(200);
    expect((await centCall(gw)).status).toBe(200);
    expect(Number((await current()).reserved)).toBeGreaterThan(0);
    const windowOf = async () => rowsOf(await gw.plane.database.db.execute(sql`select trim_scale(spent)::text as spent, trim_scale(reserved)::text as reserved from budget_windows where budget_name = 'cap'`))[0];
    expect((await api(gw, "DELETE", "/admin/budgets/cap")).status).toBe(200);
    expect(await windowOf()).toEqual({ spent: "0.02", reserved: "0" });
  });
});
