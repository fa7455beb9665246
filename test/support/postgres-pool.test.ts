import pg from "pg";
import { describe, expect, it } from "vitest";
import { withConnection } from "./admin-sql.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./stores.js";

async function connect(url: URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url.href });
  await client.connect();
  return client;
}

/** The database's oid: the same database keeps it when renamed, and a new copy of the template has its own. */
const oidOf = (url: URL) => withConnection(url.href, async (client) => (await client.query<{ oid: string }>("select oid::text from pg_database where datname = current_database()")).rows[0]!.oid);

const insertToggle = (client: pg.Client, name: string) => client.query("insert into feature_toggles (name, enabled, locked, controlled_by) values ($1, true, false, 'BOTH')", [name]);

describe.runIf(STORE_KINDS.includes("postgres"))("scratch databases lent from a pool", () => {
  it("lends the next test the same database emptied, under a new name, with no setting of the last test's", async () => {
    const first = await createScratchDatabase();
    const firstOid = await oidOf(first);
    await withConnection(first.href, async (client) => {
      await insertToggle(client, "a1");
      await client.query(`alter database ${first.pathname.slice(1)} set statement_timeout = '123s'`);
    });
    await dropScratchDatabase(first);

    const second = await createScratchDatabase();
    try {
      expect(second.pathname).not.toBe(first.pathname);
      expect(await oidOf(second)).toBe(firstOid);
      await withConnection(second.href, async (client) => {
        expect((await client.query("select count(*)::int as n from feature_toggles")).rows).toEqual([{ n: 0 }]);
        expect((await client.query("select current_setting('statement_timeout') as value")).rows).toEqual([{ value: "0" }]);
      });
      // The first test's name leads nowhere, as a dropped database's did.
      await expect(connect(first)).rejects.toThrow(`database "${first.pathname.slice(1)}" does not exist`);
    } finally {
      await dropScratchDatabase(second);
    }
  });

  it("ends a connection the last test left open, which can then write nothing into the next test's database", async () => {
    const first = await createScratchDatabase();
    const firstOid = await oidOf(first);
    const left = await connect(first);
    const errors: Error[] = [];
    left.on("error", (err) => errors.push(err));
    await dropScratchDatabase(first);
    await expect.poll(() => errors.map((err) => err.message)).toContainEqual(expect.stringMatching(/terminat/));

    const second = await createScratchDatabase();
    try {
      // Emptied and lent again, not dropped for the connection it had.
      expect(await oidOf(second)).toBe(firstOid);
      await expect(insertToggle(left, "late")).rejects.toThrow();
      await withConnection(second.href, async (client) => {
        expect((await client.query("select count(*)::int as n from feature_toggles")).rows).toEqual([{ n: 0 }]);
      });
    } finally {
      await left.end().catch(() => undefined);
      await dropScratchDatabase(second);
    }
  });

  it("never lends a database whose schema a test changed: it is dropped", async () => {
    const first = await createScratchDatabase();
    const firstOid = await oidOf(first);
    await withConnection(first.href, (client) => client.query("create table notes (body text); alter table feature_toggles add column note text"));
    await dropScratchDatabase(first);

    const second = await createScratchDatabase();
    try {
      expect(await oidOf(second)).not.toBe(firstOid);
      await withConnection(second.href, async (client) => {
        expect((await client.query("select to_regclass('notes') as notes")).rows).toEqual([{ notes: null }]);
        expect((await client.query("select count(*)::int as n from pg_database where oid = $1", [firstOid])).rows).toEqual([{ n: 0 }]);
      });
    } finally {
      await dropScratchDatabase(second);
    }
  });
});
