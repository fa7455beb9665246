import { readFile } from "node:fs/promises";
import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import type { Db } from "./database.js";
import { insertLedgerRows, nextWhole, spendBy } from "./queries/ledger.js";
import { rowsOf } from "./queries/rows.js";
import type { NewLedgerRow } from "./schema/ledger.js";
import { SPEND_GROUPS } from "./spend-groups.js";
import { spendSeries } from "./queries/spend-series.js";

const HOUR = 3_600_000;
const BASE = Date.parse("2026-11-20T10:00:00Z");

function row(i: number, minutes: number, overrides: Partial<NewLedgerRow> = {}): NewLedgerRow {
  return {
    id: `call_${i}`,
    ts: new Date(BASE + minutes * 60_000),
    requestId: `req_${i}`,
    endpoint: "chat",
    cost: `0.00000${i}`,
    inputTokens: 10 * i,
    outputTokens: i,
    latencyMs: 5,
    outcome: i % 4 === 0 ? "error" : "success",
    httpStatus: i % 4 === 0 ? 502 : 200,
    operation: i % 2 ? "summarize" : undefined,
    model: i % 3 ? "openai/gpt-4.1" : "anthropic/claude-sonnet-4",
    provider: i % 3 ? "openai" : "anthropic",
    keyId: `key_${i % 5}`,
    endUser: i % 7 ? undefined : "alice",
    userId: i % 2 ? "bob" : undefined,
    teamId: i % 2 ? "red" : undefined,
    ...overrides,
  };
}

/** The same report summed straight from the ledger, the reference the rollup must match. */
async function fromLedgerOnly(db: Db, by: (typeof SPEND_GROUPS)[number], since: Date) {
  const group = {
    operation: sql`coalesce(operation, '(none)')`,
    model: sql`coalesce(model, '(none)')`,
    provider: sql`coalesce(provider, '(none)')`,
    user: sql`coalesce(end_user, user_id, '(none)')`,
    team: sql`coalesce(team_id, '(none)')`,
    key: sql`coalesce(key_id, '(none)')`,
    day: sql`to_char(ts at time zone 'UTC', 'YYYY-MM-DD')`,
  }[by];
  const result = await db.execute(sql`
    select ${group} as "group", count(*)::int as requests, (count(*) filter (where outcome <> 'success'))::int as errors,
      sum(input_tokens)::int as "inputTokens", sum(output_tokens)::int as "outputTokens", sum(cost)::text as cost
    from ledger where ts >= ${since} group by 1 order by sum(cost) desc, 1`);
  const rows = rowsOf(result) as Array<Record<string, unknown>>;
  return rows.map((r) => ({ ...r, cost: String(r.cost).replace(/0+$/, "").replace(/\.$/, "") }));
}

describe.each(STORE_KINDS)("ledger rollup on %s", (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it("answers every grouping exactly as the ledger does, for windows that cut an hour", async () => {
    // 60 calls, one every 67 minutes from 10:00 on the 20th, across three UTC days and two batches (one retried in part).
    const rows = Array.from({ length: 60 }, (_, i) => row(i + 1, i * 67));
    await insertLedgerRows(store.database, rows.slice(0, 40));
    await insertLedgerRows(store.database, rows.slice(30));
    for (const minutes of [0, 25, 61, 200, 14 * 60, 14 * 60 + 30, 20 * 60 + 59]) {
      const since = new Date(BASE + minutes * 60_000);
      for (const by of SPEND_GROUPS) {
        const expected = await fromLedgerOnly(store.database.db, by, since);
        expect(expected.length).toBeGreaterThan(0);
        expect(await spendBy(store.database.db, by, since), `${by} since +${minutes}m`).toEqual(expected);
      }
    }
  });

  it("gives spend over time, per hour and per day and split by a dimension, exactly as the ledger does", async () => {
    const rows = Array.from({ length: 60 }, (_, i) => row(i + 1, i * 67));
    await insertLedgerRows(store.database, rows);
    const group = { operation: sql`coalesce(operation, '(none)')`, model: sql`coalesce(model, '(none)')`, key: sql`coalesce(key_id, '(none)')` } as const;
    for (const minutes of [0, 25, 14 * 60 + 30]) {
      const since = new Date(BASE + minutes * 60_000);
      for (const grain of ["hour", "day"] as const) {
        for (const by of ["operation", "model", "key"] as const) {
          const reference = rowsOf(
            await store.database.db.execute(sql`
              select to_char(date_trunc(${grain}, ts at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "start", ${group[by]} as "group",
                count(*)::int as requests, (count(*) filter (where outcome <> 'success'))::int as errors, sum(cost)::text as cost
              from ledger where ts >= ${since} group by 1, 2 order by 1, 2`),
          ).map((r: any) => ({ ...r, cost: String(r.cost).replace(/0+$/, "").replace(/\.$/, "") }));
          expect(reference.length).toBeGreaterThan(1);
          expect(await spendSeries(store.database.db, by, grain, since), `${by} per ${grain} since +${minutes}m`).toEqual(reference);
        }
      }
    }
  });

  it("holds one row per hour, day and dimension value, and counts a retried batch once", async () => {
    await insertLedgerRows(store.database, [row(1, 5), row(2, 50), row(3, 65)]);
    await insertLedgerRows(store.database, [row(2, 50), row(3, 65)]);
    const result = await store.database.db.execute(
      sql`select grain, to_char(start at time zone 'UTC', 'DD HH24') as start, requests::int as requests, cost::text as cost from ledger_rollup where dimension = 'total' order by grain desc, start`,
    );
    expect(rowsOf(result)).toEqual([
      { grain: "hour", start: "20 10", requests: 2, cost: "0.000003000000" },
      { grain: "hour", start: "20 11", requests: 1, cost: "0.000003000000" },
      { grain: "day", start: "20 00", requests: 3, cost: "0.000006000000" },
    ]);
  });

  it("is rebuilt by the migration's backfill exactly as the ledger insert built it", async () => {
    const db = store.database.db;
    // One call every 97 minutes: 30 calls over two UTC days, so both grains have several rows.
    await insertLedgerRows(store.database, Array.from({ length: 30 }, (_, i) => row(i + 1, i * 97)));
    const snapshot = async () =>
      rowsOf(await db.execute(sql`select dimension, grain, start::text, value, requests::int, errors::int, input_tokens::int, output_tokens::int, cost::text from ledger_rollup order by 1, 2, 3, 4`));
    const built = await snapshot();
    expect(built.length).toBeGreaterThan(100);
    await db.execute(sql`delete from ledger_rollup`);
    const migration = await readFile(new URL("../../drizzle/0004_ledger_rollup.sql", import.meta.url), "utf8");
    const backfill = migration.split("--> statement-breakpoint").filter((part) => part.includes('INSERT INTO "ledger_rollup"'));
    expect(backfill).toHaveLength(8);
    for (const statement of backfill) await db.execute(sql.raw(statement));
    expect(await snapshot()).toEqual(built);
  });
});


describe("nextWhole", () => {
  it("rounds up to the hour or day, and keeps a moment already on one", () => {
    expect(nextWhole(new Date(BASE), HOUR).getTime()).toBe(BASE);
    expect(nextWhole(new Date(BASE + 1), HOUR).getTime()).toBe(BASE + HOUR);
    expect(nextWhole(new Date(BASE + HOUR - 1), HOUR).getTime()).toBe(BASE + HOUR);
    expect(nextWhole(new Date(BASE), 24 * HOUR).toISOString()).toBe("2026-11-21T00:00:00.000Z");
    expect(nextWhole(new Date("2026-11-21T00:00:00Z"), 24 * HOUR).toISOString()).toBe("2026-11-21T00:00:00.000Z");
  });
});
