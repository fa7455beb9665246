import { describe, expect, it } from "vitest";
import { loadBundledPrices } from "../src/ledger/bundled-catalog.js";
import { withoutUndefined } from "../src/ledger/price-book.js";
import { openDatabase, type Database } from "../src/store/database.js";
import { addPrices } from "../src/store/queries/prices.js";
import { api, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * The bundled catalog a release ships reaches stores that an older release seeded: a model whose
 * price in force came from the catalog moves to the new catalog's figures at start, once, however
 * many instances start together; a price from the config, an admin or a sync is never replaced.
 */
describe.each(STORE_KINDS)("bundled catalog updates on %s", (kind) => {
  const { cleanups, config, store, instance } = routesSuite(kind);
  const LAST_YEAR = new Date(Date.now() - 365 * 86_400_000);
  const LAST_MONTH = new Date(Date.now() - 30 * 86_400_000);

  /** The config: the test's providers stand in for OpenAI and Anthropic; no call is made to them here. */
  function withModels(models: Array<{ id: string; price?: { input: string; output: string; per: "1M" } }>) {
    const base = config();
    const p1 = base.providers!.p1!;
    return { ...base, providers: { ...base.providers, openai: p1, anthropic: p1 }, models: [...base.models!, ...models] };
  }

  async function shipped(model: string) {
    const entry = (await loadBundledPrices()).find((p) => p.model === model);
    if (!entry) throw new Error(`${model} is not in the bundled catalog`);
    return withoutUndefined(entry.price);
  }

  it("brings a price an older release's catalog recorded up to this release's, and leaves prices someone set", async () => {
    const shared = await store();
    const db = shared.database.db;
    const sonnet = await shipped("anthropic/claude-sonnet-4-5");
    // An older catalog's Claude Sonnet 4.5: no 1-hour cache write price, so those writes cost the 5-minute rate.
    const { cacheWrite1h: _missing, ...olderSonnet } = sonnet;
    expect(_missing).toBeDefined();
    await addPrices(db, [{ model: "anthropic/claude-sonnet-4-5", price: olderSonnet }], "bundled", LAST_YEAR);
    // An older catalog's price an admin then replaced, and one the config now sets.
    const olderMini = { ...(await shipped("openai/gpt-4o-mini")), input: "0.2" };
    await addPrices(db, [{ model: "openai/gpt-4o-mini", price: olderMini }], "bundled", LAST_YEAR);
    await addPrices(db, [{ model: "openai/gpt-4o-mini", price: { input: "0.5", output: "1", per: "1M" } }], "admin", LAST_MONTH, { createdBy: "key_admin" });
    await addPrices(db, [{ model: "openai/gpt-4.1-mini", price: { ...(await shipped("openai/gpt-4.1-mini")), input: "0.3" } }], "bundled", LAST_YEAR);
    // The same figures under another compile date: nothing to change.
    const nano = await shipped("openai/gpt-4.1-nano");
    await addPrices(db, [{ model: "openai/gpt-4.1-nano", price: { ...nano, effectiveDate: "2020-01-01" } }], "bundled", LAST_YEAR);

    const cfg = withModels([
      { id: "anthropic/claude-sonnet-4-5" },
      { id: "openai/gpt-4o-mini" },
      { id: "openai/gpt-4.1-mini", price: { input: "0.45", output: "1.8", per: "1M" } },
      { id: "openai/gpt-4.1-nano" },
    ]);
    const first = await instance(shared.database, cfg);
    expect(first.plane.prices.get("anthropic/claude-sonnet-4-5")).toMatchObject({ origin: "bundled", price: { cacheWrite1h: sonnet.cacheWrite1h } });
    expect(first.plane.catalog.models.get("anthropic/claude-sonnet-4-5")?.price?.cacheWrite1h.mul(1_000_000).toString()).toBe(sonnet.cacheWrite1h);
    const sonnetHistory = (await api(first, "GET", "/admin/prices/history?model=anthropic/claude-sonnet-4-5")).body.data as Array<{ origin: string; price: Record<string, unknown>; effectiveFrom: string }>;
    expect(sonnetHistory.map((h) => [h.origin, h.price.cacheWrite1h ?? null])).toEqual([
      ["bundled", null],
      ["bundled", sonnet.cacheWrite1h],
    ]);
    // The past is kept: the old row still says when it took effect.
    expect(sonnetHistory[0]!.effectiveFrom).toBe(LAST_YEAR.toISOString());
    expect(first.plane.prices.get("openai/gpt-4o-mini")).toMatchObject({ origin: "admin", price: { input: "0.5" } });
    expect((await first.plane.prices.history("openai/gpt-4o-mini")).map((h) => h.origin)).toEqual(["bundled", "admin"]);
    expect(first.plane.prices.get("openai/gpt-4.1-mini")).toMatchObject({ origin: "config", price: { input: "0.45" } });
    expect((await first.plane.prices.history("openai/gpt-4.1-mini")).map((h) => h.origin)).toEqual(["bundled", "config"]);
    expect(await first.plane.prices.history("openai/gpt-4.1-nano")).toHaveLength(1);
    await first.close();

    // Started again, nothing is added.
    const again = await instance(shared.database, cfg);
    for (const model of ["anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini", "openai/gpt-4.1-mini", "openai/gpt-4.1-nano"]) {
      expect((await again.plane.prices.history(model)).length, model).toBe(model === "openai/gpt-4.1-nano" ? 1 : 2);
    }
  });

  it("adds the new catalog price once when several instances start together", async () => {
    const shared = await store();
    const sonnet = await shipped("anthropic/claude-sonnet-4-5");
    const models = ["anthropic/claude-sonnet-4-5", "openai/gpt-4o", "openai/gpt-4.1", "openai/o3"];
    // Older catalog figures for each, so that every instance finds each of them out of date as it starts.
    await addPrices(shared.database.db, await Promise.all(models.map(async (model) => ({ model, price: { ...(await shipped(model)), output: "99" } }))), "bundled", LAST_YEAR);
    const cfg = withModels(models.map((id) => ({ id })));
    // On PostgreSQL each instance has its own pool, as separate processes would.
    const databases: Database[] = [];
    for (let i = 0; i < 4; i++) {
      const database = shared.url ? await openDatabase({ url: shared.url, maxConnections: 2, migrate: false }) : shared.database;
      if (database !== shared.database) cleanups.push(() => database.close());
      databases.push(database);
    }
    const started = await Promise.all(databases.map((database) => instance(database, cfg)));
    for (const model of models) {
      const history = await started[0]!.plane.prices.history(model);
      expect({ model, rows: history.map((h) => [h.origin, h.price.output]) }).toEqual({ model, rows: [["bundled", "99"], ["bundled", model === "anthropic/claude-sonnet-4-5" ? sonnet.output : (await shipped(model)).output]] });
    }
    for (const gw of started) expect(gw.plane.prices.get("anthropic/claude-sonnet-4-5")?.price.cacheWrite1h).toBe(sonnet.cacheWrite1h);
  });
});
