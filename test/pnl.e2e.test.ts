import { Decimal } from "decimal.js";
import { describe, expect, it } from "vitest";
import { isolatedEnv, removeTempDirs, runCli, workspace } from "./support/process.js";
import { api, ask, rowOf, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/** The profit-and-loss report end to end: ledger spend, operating costs and revenue entered through the admin API. */
describe.each(STORE_KINDS)("profit and loss on %s", (kind) => {
  const { cleanups, config, gateway } = routesSuite(kind);

  it("combines the ledger's AI spend with operating costs and revenue for the days asked, the same through the CLI", async () => {
    const gw = await gateway(config());
    const rows = [];
    for (let i = 0; i < 3; i++) rows.push(await rowOf(gw, (await ask(gw, "p1/m1")).requestId));
    const aiSpend = rows.reduce((sum, r) => sum.plus(r.cost), new Decimal(0));
    // The calls' own day, so that a run across midnight (UTC) still asks for the day they fell on.
    const today = rows[0]!.ts.toISOString().slice(0, 10);
    expect(rows.every((r) => r.ts.toISOString().startsWith(today))).toBe(true);

    // The stored entry is answered with its amount as the other answers write money, not padded to the column's 12 places.
    expect(await api(gw, "POST", "/admin/costs", { category: "vm", amount: "30.00", periodStart: today, periodEnd: today, description: "gateway VMs" })).toMatchObject({ status: 201, body: { amount: "30" } });
    // A ten-day bill that starts today: one tenth of it falls in a one-day window.
    const tenDays = new Date(Date.parse(`${today}T00:00:00Z`) + 9 * 86_400_000).toISOString().slice(0, 10);
    expect((await api(gw, "POST", "/admin/costs", { category: "api_service", amount: "5", periodStart: today, periodEnd: tenDays })).status).toBe(201);
    expect(await api(gw, "POST", "/admin/revenue", { strategy: "pro", amount: "100", periodStart: today, periodEnd: today })).toMatchObject({ status: 201, body: { amount: "100" } });

    const res = await api(gw, "GET", `/admin/reports/pnl?from=${today}&to=${today}`);
    expect(res.status).toBe(200);
    const totalCost = aiSpend.plus(30).plus("0.5");
    expect(res.body).toMatchObject({
      from: today,
      to: today,
      aiCalls: 3,
      revenue: { total: "100", byStrategy: { pro: "100" } },
      costs: { aiLedger: aiSpend.toFixed(), byCategory: { vm: "30", api_service: "0.5", ai_inference: "0", other: "0" }, total: totalCost.toFixed() },
      profit: new Decimal(100).minus(totalCost).toFixed(),
      margin: new Decimal(100).minus(totalCost).div(100).toDecimalPlaces(4).toNumber(),
    });

    const { cwd } = await workspace();
    cleanups.push(() => removeTempDirs());
    const cli = await runCli(["report", "pnl", "--from", today, "--to", today, "--json", "--url", gw.url, "--admin-key", gw.adminKey], { cwd, env: isolatedEnv() });
    expect(cli.stderr).toBe("");
    expect(JSON.parse(cli.stdout)).toEqual(res.body);
  });

  it("refuses a malformed entry or window with invalid_request and stores nothing", async () => {
    const gw = await gateway(config());
    const bad = await api(gw, "POST", "/admin/costs", { category: "gpu", amount: "-3", periodStart: "2026-11-02", periodEnd: "2026-11-01" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect((await api(gw, "GET", "/admin/reports/pnl?from=2026-11-30&to=2026-11-01")).status).toBe(400);
    const empty = await api(gw, "GET", "/admin/reports/pnl?from=2026-11-01&to=2026-11-30");
    expect(empty.body).toMatchObject({ costs: { byCategory: { vm: "0", api_service: "0", ai_inference: "0", other: "0" } }, revenue: { total: "0" }, margin: null });
  });
});
