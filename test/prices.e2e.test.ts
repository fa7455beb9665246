import { Decimal } from "decimal.js";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/store/database.js";
import { isolatedEnv, removeTempDirs, runCli, workspace } from "./support/process.js";
import { api, ask, rowOf, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Prices as data, end to end: the store keeps every price a model has had; an admin override applies
 * to the next call and never to an earlier ledger row; the config and the bundled catalog seed it; and
 * a change made on one instance prices the next call on another.
 */
describe.each(STORE_KINDS)("prices on %s", (kind) => {
  const { cleanups, config, store, instance, gateway } = routesSuite(kind);

  it("applies an admin price to the next call only; earlier rows keep their cost, and the history shows both", async () => {
    const gw = await gateway(config());
    const before = await ask(gw, "p1/m1");
    const firstCost = (await rowOf(gw, before.requestId)).cost;
    expect(new Decimal(firstCost).gt(0)).toBe(true);

    const set = await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "3", output: "6", per: "1M" } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ model: "p1/m1", origin: "admin", price: { input: "3", output: "6" } });

    const after = await ask(gw, "p1/m1");
    const secondCost = (await rowOf(gw, after.requestId)).cost;
    // The same recorded usage at three times the price: exactly three times the cost.
    expect(new Decimal(secondCost).eq(new Decimal(firstCost).times(3))).toBe(true);
    expect((await rowOf(gw, before.requestId)).cost).toBe(firstCost);

    const history = await api(gw, "GET", "/admin/prices/history?model=p1/m1");
    expect(history.body.data.map((h: { origin: string; price: { input: string } }) => [h.origin, h.price.input])).toEqual([
      ["config", "1"],
      ["admin", "3"],
    ]);
    const list = await api(gw, "GET", "/admin/prices");
    expect(list.body.data.find((p: { model: string }) => p.model === "p1/m1").price).toMatchObject({ origin: "admin" });
  });

  it("takes a price with long-context tiers through the admin API and charges a long call at its tier", async () => {
    const gw = await gateway(config());
    const price = { input: "1", output: "2", per: "1M", above: [{ inputTokens: 5, input: "3", output: "4" }] };
    const set = await api(gw, "POST", "/admin/prices", { model: "p1/m1", price });
    expect(set.status).toBe(200);
    expect(set.body.price.above).toEqual(price.above);
    expect((await api(gw, "GET", "/admin/prices")).body.data.find((p: { model: string }) => p.model === "p1/m1").price.price.above).toEqual(price.above);
    // The fake upstream's recorded call: 1843 prompt tokens and 199 out, past 5, so 1843 × 3 + 199 × 4 = 6325 per 1M.
    const row = await rowOf(gw, (await ask(gw, "p1/m1")).requestId);
    expect({ input: row.inputTokens, output: row.outputTokens, cost: new Decimal(row.cost).toFixed() }).toEqual({ input: 1843, output: 199, cost: "0.006325" });
    // Tiers out of order are refused, naming the tier, and nothing is written.
    const bad = await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { ...price, above: [{ inputTokens: 9, input: "3", output: "4" }, { inputTokens: 9, input: "5", output: "6" }] } });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(bad.body.error.message).toContain("above.1.inputTokens");
    expect((await api(gw, "GET", "/admin/prices/history?model=p1/m1")).body.data).toHaveLength(2);
  });

  it("refuses an unknown model and a malformed price, writing nothing", async () => {
    const gw = await gateway(config());
    expect(await api(gw, "POST", "/admin/prices", { model: "p9/none", price: { input: "1" } })).toMatchObject({ status: 404 });
    const bad = await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "-1" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect((await api(gw, "GET", "/admin/prices/history?model=p1/m1")).body.data).toHaveLength(1);
  });

  it("seeds from the config: a repeated price adds nothing, a changed one takes over from an older override", async () => {
    const shared = await store();
    const first = await instance(shared.database, config());
    await api(first, "POST", "/admin/prices", { model: "p2/m2", price: { input: "5", output: "5" } });
    await first.close();

    const same = await instance(shared.database, config());
    expect(same.plane.prices.get("p2/m2")).toMatchObject({ origin: "admin", price: { input: "5" } });
    expect(await same.plane.prices.history("p1/m1")).toHaveLength(1);
    await same.close();

    const changed = config();
    changed.models = changed.models!.map((m) => (m.id === "p2/m2" ? { ...m, price: { input: "7", output: "8", per: "1M" } } : m));
    const next = await instance(shared.database, changed);
    expect(next.plane.prices.get("p2/m2")).toMatchObject({ origin: "config", price: { input: "7", output: "8" } });
    expect((await next.plane.prices.history("p2/m2")).map((h) => h.origin)).toEqual(["config", "admin", "config"]);
  });

  it("fills a model the config leaves unpriced from the bundled catalog, and flags one priced nowhere", async () => {
    const base = config();
    const p1 = base.providers!.p1!;
    const gw = await gateway({
      ...base,
      providers: { ...base.providers, openai: p1 },
      models: [...base.models!.filter((m) => m.id !== "p3/m3"), { id: "openai/gpt-4o-mini" }, { id: "p3/m3" }],
    });
    expect(gw.plane.prices.get("openai/gpt-4o-mini")).toMatchObject({ origin: "bundled", price: { input: "0.15", output: "0.6" } });
    const bundledRow = await rowOf(gw, (await ask(gw, "openai/gpt-4o-mini")).requestId);
    expect(bundledRow.priceMissing).toBe(false);
    const unpriced = await rowOf(gw, (await ask(gw, "p3/m3")).requestId);
    expect(unpriced.priceMissing).toBe(true);
    expect(new Decimal(unpriced.cost).gt(0)).toBe(true);
  });

  it("prices the next call on another instance within 1 s of a change", async () => {
    const shared = await store();
    const a = await instance(shared.database, config());
    // On PostgreSQL the second instance has its own pool and hears through LISTEN/NOTIFY.
    const databaseB = shared.url ? await openDatabase({ url: shared.url, maxConnections: 2, migrate: false }) : shared.database;
    if (databaseB !== shared.database) cleanups.push(() => databaseB.close());
    const b = await instance(databaseB, config());
    await api(a, "POST", "/admin/prices", { model: "p1/m1", price: { input: "9", output: "9" } });
    const changedAt = performance.now();
    while (b.plane.prices.get("p1/m1")?.origin !== "admin") {
      if (performance.now() - changedAt > 1_000) throw new Error("the price did not reach the other instance within 1 s");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(b.plane.catalog.models.get("p1/m1")?.price?.input.toString()).toBe(new Decimal("9").div(1_000_000).toString());
  });

  it("imports OpenRouter's models list with the CLI as price history, exactly converted, and a second sync adds nothing", async () => {
    const base = config();
    const gw = await gateway({
      ...base,
      providers: { ...base.providers, openrouter: base.providers!.p1! },
      models: [...base.models!, { id: "openrouter/openai/gpt-4o-mini" }],
    });
    const bundled = gw.plane.prices.get("openrouter/openai/gpt-4o-mini");
    expect(bundled?.origin).toBe("bundled");
    const { cwd } = await workspace();
    cleanups.push(() => removeTempDirs());
    const sync = () => runCli(["models", "sync", "--file", FIXTURE, "--gateway", gw.url, "--admin-key", gw.adminKey, "--json"], { cwd, env: isolatedEnv() });

    const first = await sync();
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout) as { received: number; added: number; skipped: Array<{ id: string }> };
    // 12 models in the list: openrouter/auto has no fixed price and is skipped.
    expect(report).toMatchObject({ received: 11, added: 11 });
    expect(report.skipped.map((s) => s.id)).toEqual(["openrouter/auto"]);
    // $0.00000015 and $0.0000006 per token are $0.15 and $0.6 per million, to the digit.
    expect(gw.plane.prices.get("openrouter/openai/gpt-4o-mini")).toMatchObject({ origin: "openrouter", price: { input: "0.15", output: "0.6", per: "1M" } });
    const history = await api(gw, "GET", "/admin/prices/history?model=openrouter/meta-llama/llama-3.3-70b-instruct");
    expect(history.body.data.map((h: { price: { input: string; output: string } }) => [h.price.input, h.price.output])).toEqual([["0.13", "0.4"]]);

    const second = await sync();
    expect(JSON.parse(second.stdout)).toMatchObject({ received: 11, added: 0 });
  });
});

const FIXTURE = new URL("./fixtures/openrouter/models.json", import.meta.url).pathname;
