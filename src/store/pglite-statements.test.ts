import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPglite, type PgliteThread } from "./pglite-client.js";

/**
 * The store's thread runs statements with plain parameters (text, numbers, booleans), or none, as one
 * wire-protocol message of its own (pglite-statements.mjs), and any other through PGlite's query().
 * Both paths must answer alike.
 */
describe("statements on the embedded store's thread", () => {
  let thread: PgliteThread;
  const query = async (sql: string, params: unknown[] = [], method: "all" | "execute" = "execute") => (await thread.send({ op: "query", sql, params, method })).rows ?? [];
  const keptTexts = async () => (await query("select statement from pg_prepared_statements where name like $1 order by statement", ["airlock_query_%"])).map((r) => (r as { statement: string }).statement);

  beforeAll(async () => {
    thread = await startPglite({ migrate: false });
    await thread.send({
      op: "exec",
      sql: `create table kinds (id int primary key, big bigint, amount numeric(24, 12), flag boolean, at timestamptz, doc jsonb, tags text[], note text);
        insert into kinds values (1, 9007199254740993, 0.000000000001, true, '2026-12-06T10:00:00.123Z', '{"a":[1,"x"]}', '{a,"b c"}', null)`,
    });
  });
  afterAll(() => thread.close());

  it("answers the same rows for plain parameters as PGlite's own path does for others", async () => {
    const select = "select id, big, amount, flag, at, doc, tags, note from kinds where id = $1 and flag = $2 and at = $3";
    const at = "2026-12-06T10:00:00.123Z";
    for (const method of ["execute", "all"] as const) {
      // A Date goes through PGlite's query(); text, numbers and booleans go as one message.
      const viaPglite = await query(select, [1, true, new Date(at)], method);
      expect(viaPglite).toHaveLength(1);
      expect(await query(select, ["1", "true", at], method)).toEqual(viaPglite);
      expect(await query(select, [1, true, at], method)).toEqual(viaPglite);
    }
    const [row] = (await query(select, [1, true, at])) as Array<Record<string, unknown>>;
    expect(row).toMatchObject({ id: 1, amount: "0.000000000001", flag: true, doc: { a: [1, "x"] }, tags: ["a", "b c"], note: null });
    // Timestamps stay text, as drizzle's own PGlite driver reads them.
    expect(row!.at).toBe("2026-12-06 10:00:00.123+00");
  });

  it("writes a null parameter as NULL, and text that holds a comma whole", async () => {
    await query("insert into kinds (id, note) values ($1, $2)", ["2", null]);
    await query("insert into kinds (id, note) values ($1, $2)", ["3", "one, two"]);
    expect(await query("select id, note from kinds where id > $1 order by id", ["1"])).toEqual([
      { id: 2, note: null },
      { id: 3, note: "one, two" },
    ]);
  });

  it("keeps a statement without parameters parsed under a name, once", async () => {
    const count = "select count(*)::int as n from kinds";
    expect(await query(count)).toEqual([{ n: 3 }]);
    await query("insert into kinds (id) values ($1)", ["4"]);
    expect(await query(count)).toEqual([{ n: 4 }]);
    expect((await keptTexts()).filter((text) => text === count)).toHaveLength(1);
    // A statement with parameters is parsed afresh each time, under no name.
    expect(await keptTexts()).not.toContain("insert into kinds (id) values ($1)");
  });

  it("parses a kept statement again when a schema change alters the columns it answers", async () => {
    await thread.send({ op: "exec", sql: "create table grows (a int); insert into grows values (1)" });
    expect(await query("select * from grows")).toEqual([{ a: 1 }]);
    await thread.send({ op: "exec", sql: "alter table grows add column b text default 'added'" });
    expect(await query("select * from grows")).toEqual([{ a: 1, b: "added" }]);
    expect((await keptTexts()).filter((text) => text === "select * from grows")).toHaveLength(1);
  });

  it("answers a failed statement's error, keeps nothing of it, and stays usable", async () => {
    await expect(query("insert into kinds (id) values ($1)", ["1"])).rejects.toMatchObject({ code: "23505" });
    await expect(query("select from where")).rejects.toMatchObject({ code: "42601" });
    await expect(query("select from where")).rejects.toMatchObject({ code: "42601" });
    expect(await keptTexts()).not.toContain("select from where");
    expect(await query("select max(id)::int as top from kinds")).toEqual([{ top: 4 }]);
  });

  it("runs every statement past the texts it keeps, parsing the rest each time", async () => {
    for (let i = 0; i < 300; i++) expect(await query(`select ${i} as n`)).toEqual([{ n: i }]);
    const kept = await keptTexts();
    expect(kept.length).toBeLessThanOrEqual(256);
    expect(kept).toContain("select 0 as n");
    expect(kept).not.toContain("select 299 as n");
  });
});
