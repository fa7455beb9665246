import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { activeKeys, insertKey, listKeys, revokeKey } from "./queries/keys.js";
import { countLedgerRows, insertLedgerRows, recentLedgerRows, spendBy } from "./queries/ledger.js";
import { rowsOf } from "./queries/rows.js";
import type { NewLedgerRow } from "./schema/ledger.js";

function row(i: number, overrides: Partial<NewLedgerRow> = {}): NewLedgerRow {
  return {
    id: `call_${i}`,
    ts: new Date(),
    requestId: `req_${i}`,
    endpoint: "chat",
    cost: "0.000000000001",
    latencyMs: 5,
    outcome: "success",
    httpStatus: 200,
    ...overrides,
  };
}

describe.each(STORE_KINDS)("store on %s", (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it("opens a migrated store and round-trips a key", async () => {
    const db = store.database.db;
    await insertKey(db, { id: "key_a", name: "a", kind: "user", keyHash: "h1", keyPrefix: "sk-al-abc", userId: "u1" });
    await insertKey(db, { id: "key_b", name: "b", kind: "agent", keyHash: "h2", keyPrefix: "sk-al-def" });
    expect((await listKeys(db)).map((k) => k.id).sort()).toEqual(["key_a", "key_b"]);
    expect(await revokeKey(db, "key_a", new Date())).toMatchObject({ id: "key_a" });
    expect(await revokeKey(db, "key_a", new Date())).toBeUndefined();
    expect((await activeKeys(db)).map((k) => k.id)).toEqual(["key_b"]);
  });

  it("indexes the directive and run lists' order, newest first by (created_at, id), whole and by status", async () => {
    const indexes = rowsOf<{ indexname: string; indexdef: string }>(
      await store.database.db.execute(sql`select indexname, indexdef from pg_indexes where tablename in ('directives', 'execution_runs') order by indexname`),
    );
    const columns = Object.fromEntries(indexes.map((i) => [i.indexname, /\((.*)\)$/.exec(i.indexdef)?.[1]]));
    expect(columns).toMatchObject({
      directives_created_idx: "created_at, id",
      directives_status_created_idx: "status, created_at, id",
      execution_runs_created_idx: "created_at, id",
      execution_runs_status_idx: "status, created_at, id",
    });
  });

  it("refuses two keys with the same hash", async () => {
    const db = store.database.db;
    await insertKey(db, { id: "key_a", name: "a", kind: "user", keyHash: "same", keyPrefix: "p" });
    await expect(insertKey(db, { id: "key_b", name: "b", kind: "user", keyHash: "same", keyPrefix: "p" })).rejects.toThrow();
  });

  it("takes batches larger than one statement and sums cost exactly", async () => {
    // 2,500 rows of 1e-12 USD: a float sum drifts, a numeric sum is exactly 2.5e-9.
    const rows = Array.from({ length: 2500 }, (_, i) => row(i, { operation: i % 2 ? "odd" : "even", cost: "0.000000000001" }));
    await insertLedgerRows(store.database, rows);
    expect(await countLedgerRows(store.database.db)).toBe(2500);
    const lines = await spendBy(store.database.db, "operation", new Date(Date.now() - 60_000));
    expect(lines.map((l) => [l.group, l.requests, l.cost])).toEqual([
      ["even", 1250, "0.00000000125"],
      ["odd", 1250, "0.00000000125"],
    ]);
  });

  it("stores a row's time given as epoch milliseconds, as a Date, or as ISO text, to the millisecond", async () => {
    const at = Date.UTC(2026, 11, 3, 5, 30, 12, 345);
    // ISO text is how a Date serializes, and how rows spooled before the number was used hold it.
    const iso = { ...row(3), ts: new Date(at - 2).toISOString() } as unknown as NewLedgerRow;
    await insertLedgerRows(store.database, [{ ...row(1), ts: at }, row(2, { ts: new Date(at - 1) }), iso]);
    const rows = await recentLedgerRows(store.database.db, 10);
    expect(rows.map((r) => [r.id, r.ts.getTime()]).sort()).toEqual([
      ["call_1", at],
      ["call_2", at - 1],
      ["call_3", at - 2],
    ]);
  });

  it("ignores a row it already has, so a retried batch never double-counts", async () => {
    await insertLedgerRows(store.database, [row(1), row(2)]);
    await insertLedgerRows(store.database, [row(2), row(3)]);
    expect(await countLedgerRows(store.database.db)).toBe(3);
  });

  it("runs a prepared statement again after it failed, and never keeps a statement that did not parse", async () => {
    await store.database.execute("create table prepared_probe (n int primary key)");
    const insert = { name: "probe_insert", text: "insert into prepared_probe (n) values ($1::int)" };
    await store.database.runPrepared(insert, ["1"]);
    // A run that fails after the parse: the error keeps its SQLSTATE, and the statement stays usable.
    await expect(store.database.runPrepared(insert, ["1"])).rejects.toMatchObject({ code: "23505" });
    await store.database.runPrepared(insert, ["2"]);
    const broken = { name: "probe_broken", text: "insert into no_such_table (n) values ($1::int)" };
    await expect(store.database.runPrepared(broken, ["3"])).rejects.toMatchObject({ code: "42P01" });
    await store.database.execute("create table no_such_table (n int)");
    await store.database.runPrepared(broken, ["3"]);
    const counted = rowsOf<{ n: number }>(await store.database.db.execute(sql`select (select count(*) from prepared_probe)::int + (select count(*) from no_such_table)::int as n`));
    expect(counted[0]!.n).toBe(3);
  });

  it("hands a prepared statement a list parameter as its items joined by commas, whatever their size", async () => {
    await store.database.execute("create table joined_probe (n int primary key, t text not null)");
    const insert = { name: "joined_probe_insert", text: "insert into joined_probe (n, t) values ($1::int, $2)" };
    // Multibyte text (its bytes outnumber its characters), then lists past the thread's first
    // message buffer (64 KB) and past the size it keeps between runs (1 MB), then small ones again.
    const lists = [["a", "é€😀", "", "c"], Array.from({ length: 3000 }, (_, i) => `row-${i}-é`), Array.from({ length: 1500 }, (_, i) => `${i}`.padEnd(1000, "x")), ["x"], []];
    for (const [n, list] of lists.entries()) await store.database.runPrepared(insert, [String(n), list]);
    await store.database.runPrepared(insert, ["9", "plain"]);
    const stored = rowsOf<{ n: number; t: string }>(await store.database.db.execute(sql`select n, t from joined_probe order by n`));
    expect(stored).toEqual([...lists.map((list, n) => ({ n, t: list.join(",") })), { n: 9, t: "plain" }]);
  });

  it("groups spend by day, key and user, and leaves out rows before `since`", async () => {
    const old = new Date(Date.now() - 3 * 86_400_000);
    await insertLedgerRows(store.database, [
      row(1, { keyId: "key_a", endUser: "alice", cost: "0.25" }),
      row(2, { keyId: "key_a", userId: "bob", cost: "0.5" }),
      row(3, { keyId: "key_b", cost: "1", ts: old }),
    ]);
    const since = new Date(Date.now() - 86_400_000);
    expect((await spendBy(store.database.db, "key", since)).map((l) => [l.group, l.cost])).toEqual([["key_a", "0.75"]]);
    expect((await spendBy(store.database.db, "user", since)).map((l) => [l.group, l.cost])).toEqual([
      ["bob", "0.5"],
      ["alice", "0.25"],
    ]);
    const days = await spendBy(store.database.db, "day", new Date(0));
    expect(days.map((l) => l.group).sort()).toEqual([old.toISOString().slice(0, 10), new Date().toISOString().slice(0, 10)].sort());
  });

  it("keeps the audio seconds and characters of unit-billed calls, and leaves them empty for the rest", async () => {
    const db = store.database.db;
    await insertLedgerRows(store.database, [row(1, { audioSeconds: "61.5", cost: "0.00615" }), row(2, { characters: 1234, cost: "0.01851" }), row(3)]);
    const rows = await recentLedgerRows(db, 3);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get("call_1")).toMatchObject({ audioSeconds: "61.500", characters: null });
    expect(byId.get("call_2")).toMatchObject({ audioSeconds: null, characters: 1234 });
    expect(byId.get("call_3")).toMatchObject({ audioSeconds: null, characters: null });
  });
});
