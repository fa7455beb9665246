import pg from "pg";
import { describe, expect, it } from "vitest";
import { rawChat, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/** Two sessions of the test's own: one to hold a lock, one to count the sessions of its database waiting on a lock. */
async function lockSessions(url: string): Promise<{ locker: pg.Client; checker: pg.Client; waiting: () => Promise<number> }> {
  const database = new URL(url).pathname.slice(1);
  const locker = new pg.Client({ connectionString: url });
  const checker = new pg.Client({ connectionString: url });
  await Promise.all([locker.connect(), checker.connect()]);
  const waiting = async () =>
    (await checker.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'`, [database])).rows[0]!.n;
  return { locker, checker, waiting };
}

/**
 * Budgets when the store is slow rather than gone: another session holds a lock on the budget's window
 * row (a long admin transaction, a maintenance job), so every lease statement waits on it. Calls that
 * need a lease are refused as `unavailable`, and the instance keeps one lease statement per window
 * waiting, not one per call: calls piling up behind the lock must not take the whole connection pool,
 * which the kill switch's reads and the ledger's writes need too.
 *
 * p1/m1 costs $2 per 1M output tokens: `max_tokens: 500_000` reserves a little over $1, more than a
 * lease's share of the $10 budget, so every such call asks the store for a lease of its own.
 */
if (STORE_KINDS.includes("postgres")) {
  describe("a budget whose window row another session holds locked", () => {
    const { config, store, instance } = routesSuite("postgres");

    it("refuses the calls that need a lease as unavailable with one lease statement waiting, not one per call, and serves again once the lock goes", async () => {
      const shared = await store();
      const gw = await instance(shared.database, config({ budgets: [{ name: "daily", scope: "global", limit: "10" }], ledger: { flushIntervalMs: 100 } }));
      const { locker, checker, waiting } = await lockSessions(shared.url!);
      try {
        expect((await rawChat(gw, gw.adminKey)).status).toBe(200);
        await gw.plane.reports.recentCalls(1);
        await locker.query("begin");
        await locker.query("select * from budget_windows for update");

        const refused = await Promise.all(Array.from({ length: 6 }, () => rawChat(gw, gw.adminKey, { max_tokens: 500_000 })));
        for (const r of refused) expect(r).toMatchObject({ status: 503, body: { error: { code: "unavailable" } } });
        // The one lease statement, and the sync round's renewal of the lease row that statement locked.
        expect(await waiting()).toBeLessThanOrEqual(2);

        await locker.query("commit");
        await waitFor(() => rawChat(gw, gw.adminKey), (r) => r.status === 200, 15_000);
        await gw.plane.reports.recentCalls(1);
        const { rows } = await checker.query<{ spent: string; ledger: string }>(
          `select trim_scale(spent)::text as spent, trim_scale((select sum(cost) from ledger))::text as ledger from budget_windows where budget_name = 'daily'`,
        );
        expect(rows[0]!.spent).toBe(rows[0]!.ledger);
      } finally {
        await locker.query("rollback").catch(() => undefined);
        await Promise.all([locker.end(), checker.end()]);
      }
    });
  });

  describe("a rate limit whose minute row another session holds locked", () => {
    const { config, store, instance } = routesSuite("postgres");

    it("refuses the calls that need permits as unavailable with one lease statement waiting, not one per call, and serves again once the lock goes", async () => {
      const shared = await store();
      // 20 a minute: a lease is one permit, so every call asks the store.
      const gw = await instance(shared.database, config({ rateLimits: [{ name: "per-key", scope: "key", requestsPerMinute: 20 }] }));
      const { locker, checker, waiting } = await lockSessions(shared.url!);
      try {
        expect((await rawChat(gw, gw.adminKey)).status).toBe(200);
        await locker.query("begin");
        await locker.query("select * from rate_windows for update");

        const refused = await Promise.all(Array.from({ length: 6 }, () => rawChat(gw, gw.adminKey)));
        for (const r of refused) expect(r).toMatchObject({ status: 503, body: { error: { code: "unavailable" } } });
        expect(await waiting()).toBeLessThanOrEqual(1);

        await locker.query("commit");
        await waitFor(() => rawChat(gw, gw.adminKey), (r) => r.status === 200, 15_000);
      } finally {
        await locker.query("rollback").catch(() => undefined);
        await Promise.all([locker.end(), checker.end()]);
      }
    });
  });
}
