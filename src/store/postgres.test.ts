import { readdir } from "node:fs/promises";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "../../test/support/stores.js";
import { openDatabase } from "./database.js";
import { MIGRATIONS_FOLDER } from "./pglite-client.js";

// PGlite belongs to one process, so only PostgreSQL can see instances start side by side.
if (STORE_KINDS.includes("postgres")) {
  describe("migrations on PostgreSQL", () => {
    it("run once when several instances start on one fresh database at the same moment", async () => {
      const url = await createScratchDatabase({ empty: true });
      try {
        // Each with one connection: an instance may not need a second one to migrate.
        const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openDatabase({ url: url.href, maxConnections: 1 })));
        const failures = opened.filter((o) => o.status === "rejected").map((o) => String((o as PromiseRejectedResult).reason));
        for (const o of opened) if (o.status === "fulfilled") await o.value.close();
        expect(failures).toEqual([]);

        const files = (await readdir(MIGRATIONS_FOLDER)).filter((f) => f.endsWith(".sql"));
        const client = new pg.Client({ connectionString: url.href });
        await client.connect();
        try {
          const { rows } = await client.query<{ n: string }>("select count(*)::text as n from drizzle.__drizzle_migrations");
          expect(Number(rows[0]!.n)).toBe(files.length);
          const locks = await client.query<{ n: string }>("select count(*)::text as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())");
          expect(locks.rows[0]!.n).toBe("0"); // every instance let go of the migration lock
        } finally {
          await client.end();
        }
      } finally {
        await dropScratchDatabase(url);
      }
    });
  });
}
