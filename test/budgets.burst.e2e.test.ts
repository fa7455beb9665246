import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { CENT, CENT_MODEL, centCall, FAST_BUDGETING } from "./support/cent-calls.js";
import { api, BURST_KILL_SWITCH, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * A thousand budgeted calls at once on one instance. Each waits for the store at most 1.5 s for its
 * budget's lease before it is refused as unavailable (budget-reservations.ts), so a store starved of
 * the CPU by other files' processes refuses some: this runs with the tests under load (vitest.config.ts).
 */
describe.each(STORE_KINDS)("budgets on %s, a burst", (kind) => {
  let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
  const { config, gateway, sent } = routesSuite(kind, (made) => {
    upstreams = made;
  });

  it(`admits at least $0.99 and at most $1.00 of 1000 concurrent $0.01 calls against a $1.00 budget, and the ledger equals the counter`, async () => {
    const gw = await gateway(config({ models: [CENT_MODEL], budgets: [{ name: "dollar", scope: "global", limit: "1.00" }], budgeting: FAST_BUDGETING, killSwitch: BURST_KILL_SWITCH }));
    for (let i = 0; i < 1000; i++) upstreams[0].push({ kind: "ok", ...CENT });
    const statuses = await Promise.all(Array.from({ length: 1000 }, () => centCall(gw).then((r) => r.status)));
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    const spend = await gw.plane.reports.spend("operation", new Date(Date.now() - 3_600_000));
    console.log(`[${kind}] 1000 concurrent $0.01 calls, $1.00 budget: admitted ${admitted} ($${(admitted / 100).toFixed(2)}), ledger $${spend[0]?.cost}, counter $${budget.current.spent}, upstream saw ${sent()[0]}`);
    expect(admitted).toBeGreaterThanOrEqual(99);
    expect(admitted).toBeLessThanOrEqual(100);
    expect(sent()[0]).toBe(admitted);
    expect(Number(spend[0]!.cost)).toBe(admitted / 100);
    expect(budget.current.spent).toBe(String(Number(spend[0]!.cost)));
  });
});
