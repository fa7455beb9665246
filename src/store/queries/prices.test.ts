import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../../test/support/stores.js";
import { openDatabase, type Database } from "../database.js";
import { addBundledPrices, addPrices, seedSerially } from "./prices.js";
import { rowsOf } from "./rows.js";

describe.each(STORE_KINDS)("bundled price seeding on %s", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function store(): Promise<TestStore> {
    const made = await freshStore(kind);
    cleanups.push(() => made.cleanup());
    return made;
  }

  it("adds each changed catalog price once when several instances seed at the same moment", async () => {
    const shared = await store();
    // Several pools, as several instances (processes) have; PGlite serves one process.
    const databases: Database[] = [shared.database];
    for (let i = 1; i < 4; i++) {
      const database = shared.url ? await openDatabase({ url: shared.url, maxConnections: 1, migrate: false }) : shared.database;
      if (database !== shared.database) cleanups.push(() => database.close());
      databases.push(database);
    }
    const models = Array.from({ length: 20 }, (_, i) => `p/m${i}`);
    await addPrices(shared.database.db, models.map((model) => ({ model, price: { input: "1", output: "2", per: "1M" } })), "bundled", new Date(Date.now() - 86_400_000));
    const catalog = models.map((model) => ({ model, price: { input: "1", output: "3", per: "1M" } }));
    // Each model in its own round, every instance at once, each at its own moment as their clocks give.
    for (const model of models) {
      const entries = catalog.filter((entry) => entry.model === model);
      await Promise.all(databases.map((database, i) => seedSerially(database.db, database.kind, (db) => addBundledPrices(db, entries, new Date(Date.now() + i)))));
    }
    const counts = rowsOf<{ model: string; n: number }>(await shared.database.db.execute(sql`select model, count(*)::int as n from prices group by model order by model`));
    expect(counts.filter((c) => c.n !== 2)).toEqual([]);
    expect(counts).toHaveLength(models.length);
  });
});
