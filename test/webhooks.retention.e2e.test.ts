import { sql } from "drizzle-orm";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.js";
import type { Db } from "../src/store/database.js";
import { pruneDeliveries } from "../src/store/queries/webhooks.js";
import { rowsOf } from "../src/store/queries/rows.js";
import { routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";
import { startReceiver } from "./support/webhook-receiver.js";

/**
 * Webhook deliveries that ended are deleted once past notifications.retentionDays, in the background,
 * a batch at a time, by one instance at a time; pending ones and recent ones stay.
 */

/** The lock instances take turns on (src/governance/webhook-retention.ts). */
const PRUNE_LOCK = 0x57687270;

/** `n` deliveries of webhook `webhook`, `status`, queued `daysAgo` days ago, with ids `<prefix>_<i>`. */
async function queuedLongAgo(db: Db, prefix: string, n: number, status: string, daysAgo: number, webhook = "ops"): Promise<void> {
  await db.execute(sql`
    insert into webhook_deliveries (id, event_id, webhook, event, body, status, attempts, created_at, next_attempt_at)
    select ${prefix} || '_' || i, 'evt_' || ${prefix} || '_' || i, ${webhook}, 'kill_switch.flipped', '{}'::jsonb, ${status}, 1,
      now() - ${daysAgo}::int * interval '1 day', now() + interval '1 day'
    from generate_series(1, ${n}) as i`);
}

async function countsByPrefix(db: Db): Promise<Record<string, number>> {
  const rows = rowsOf<{ prefix: string; n: number }>(await db.execute(sql`select split_part(id, '_', 1) as prefix, count(*)::int as n from webhook_deliveries group by 1`));
  return Object.fromEntries(rows.map((r) => [r.prefix, r.n]));
}

describe.each(STORE_KINDS)("webhook delivery retention on %s", (kind) => {
  const { config, store, instance } = routesSuite(kind);

  it("deletes deliveries that ended past the retention, in batches, and keeps pending and recent ones", async () => {
    const shared = await store();
    const db = shared.database.db;
    // More than a batch (500) of each ended status past a 7-day retention; a pending one as old, and ended ones within it.
    await queuedLongAgo(db, "olddelivered", 700, "delivered", 8);
    await queuedLongAgo(db, "oldfailed", 503, "failed", 40);
    await queuedLongAgo(db, "oldpending", 1, "pending", 8);
    await queuedLongAgo(db, "recent", 3, "delivered", 6);
    await queuedLongAgo(db, "recentfailed", 2, "failed", 6);
    const hanging = await startReceiver("hang");
    try {
      // "ops" is a webhook of the instance, so its old pending delivery stays due (tomorrow), not ended as unsendable.
      await instance(shared.database, config({ notifications: { webhooks: [{ name: "ops", url: hanging.url }], retentionDays: 7 } }));
      const { value } = await waitFor(() => countsByPrefix(db), (counts) => counts.olddelivered === undefined && counts.oldfailed === undefined, 20_000);
      expect(value).toEqual({ oldpending: 1, recent: 3, recentfailed: 2 });
    } finally {
      await hanging.close();
    }
  });

  it("keeps 30 days unless told otherwise, and takes a retention of whole days from 1 to 3650", () => {
    expect(resolveConfig(config(), "test").config.notifications.retentionDays).toBe(30);
    expect(resolveConfig(config({ notifications: { retentionDays: 90 } }), "test").config.notifications.retentionDays).toBe(90);
    for (const bad of [0, 1.5, 3651]) expect(() => resolveConfig(config({ notifications: { retentionDays: bad } }), "test")).toThrow(/retentionDays/);
  });

  // Needs a second session to hold the lock: the embedded store has one, which its own advisory locks never block.
  if (kind === "postgres") {
    it("prunes from one instance at a time: a batch waits for no lock, and is left to whoever holds it", async () => {
      const shared = await store();
      const db = shared.database.db;
      await queuedLongAgo(db, "older", 500, "delivered", 40);
      await queuedLongAgo(db, "old", 120, "failed", 35);
      // Another instance pruning: it holds the lock, as a pruning statement does for its transaction.
      const other = new pg.Client({ connectionString: shared.url });
      await other.connect();
      try {
        await other.query("select pg_advisory_lock($1)", [PRUNE_LOCK]);
        expect(await pruneDeliveries(db, 30, 500, PRUNE_LOCK)).toBeUndefined();
        expect(await countsByPrefix(db)).toEqual({ older: 500, old: 120 });
        await other.query("select pg_advisory_unlock($1)", [PRUNE_LOCK]);
        // A batch at most, oldest first; the next takes the rest.
        expect(await pruneDeliveries(db, 30, 500, PRUNE_LOCK)).toBe(500);
        expect(await countsByPrefix(db)).toEqual({ old: 120 });
        expect(await pruneDeliveries(db, 30, 500, PRUNE_LOCK)).toBe(120);
        expect(await pruneDeliveries(db, 30, 500, PRUNE_LOCK)).toBe(0);
        // The statement's lock ends with it: nothing is left held for the other instance to wait on.
        const held = await other.query<{ locked: boolean }>("select pg_try_advisory_lock($1) as locked", [PRUNE_LOCK]);
        expect(held.rows[0]!.locked).toBe(true);
      } finally {
        await other.end();
      }
    });
  }
});
