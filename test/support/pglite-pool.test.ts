import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { freshStore, type TestStore } from "./stores.js";

const one = async <T>(store: TestStore, query: ReturnType<typeof sql>): Promise<T> => ((await store.database.db.execute(query)) as unknown as T[])[0]!;
const txid = async (store: TestStore) => BigInt((await one<{ id: string }>(store, sql`select txid_current()::text as id`)).id);

describe("in-memory test stores lent from a pool", () => {
  it("lends the next test the same store emptied: no rows, no settings, no locks, no transaction", async () => {
    const first = await freshStore("pglite");
    await first.database.execute("insert into feature_toggles (name, enabled, locked, controlled_by) values ('a1', true, false, 'BOTH')");
    await first.database.execute("set application_name = 'left behind'; select pg_advisory_lock(42); begin; insert into feature_toggles (name, enabled, locked, controlled_by) values ('a2', true, false, 'BOTH')");
    const lastOfFirst = await txid(first);
    await first.cleanup();

    const second = await freshStore("pglite");
    try {
      // The same Postgres: transaction ids go on from the first test's (a new copy of the archive starts over).
      expect(await txid(second)).toBeGreaterThan(lastOfFirst);
      expect(await one(second, sql`select count(*)::int as n from feature_toggles`)).toEqual({ n: 0 });
      expect(await one(second, sql`select current_setting('application_name') as name`)).toEqual({ name: "" });
      expect(await one(second, sql`select count(*)::int as n from pg_locks where locktype = 'advisory'`)).toEqual({ n: 0 });
      // The first test's open transaction had a transaction id: a new one has none until it writes.
      expect(await one(second, sql`select txid_current_if_assigned() is null as fresh`)).toEqual({ fresh: true });
    } finally {
      await second.cleanup();
    }
  });

  it("refuses a closed handle's requests, as a closed store does, while the store is lent on", async () => {
    const first = await freshStore("pglite");
    await first.cleanup();
    const failed = (await first.database.db.execute(sql`select 1`).catch((err: unknown) => err)) as Error;
    expect((failed.cause as Error).message).toBe("the store is closed");

    const second = await freshStore("pglite");
    try {
      await second.database.execute("insert into feature_toggles (name, enabled, locked, controlled_by) values ('a3', true, false, 'BOTH')");
      // A late write through the first handle reaches nothing.
      await expect(first.database.execute("delete from feature_toggles")).rejects.toThrow("the store is closed");
      expect(await one(second, sql`select count(*)::int as n from feature_toggles`)).toEqual({ n: 1 });
    } finally {
      await second.cleanup();
    }
  });

  it("never lends a store whose schema a test changed", async () => {
    const first = await freshStore("pglite");
    await first.database.execute("create table notes (body text); alter table feature_toggles add column note text");
    await first.cleanup();
    const second = await freshStore("pglite");
    try {
      expect(await one(second, sql`select count(*)::int as n from pg_tables where tablename = 'notes'`)).toEqual({ n: 0 });
      expect(await one(second, sql`select count(*)::int as n from information_schema.columns where table_name = 'feature_toggles' and column_name = 'note'`)).toEqual({ n: 0 });
    } finally {
      await second.cleanup();
    }
  });
});
