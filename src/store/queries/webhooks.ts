import { desc, eq, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { webhookDeliveries, type WebhookDeliveryRow } from "../schema/index.js";
import { rowsOf } from "./rows.js";

export type NewDelivery = Pick<WebhookDeliveryRow, "id" | "eventId" | "webhook" | "event" | "body">;

/** Queues deliveries; one whose id is already queued is left as it is (an event fanned out again after a crash). */
export async function enqueueDeliveries(db: Db, rows: NewDelivery[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(webhookDeliveries).values(rows.map((row) => ({ ...row, status: "pending" as const }))).onConflictDoNothing();
}

export async function removeDelivery(db: Db, id: string): Promise<void> {
  await db.delete(webhookDeliveries).where(eq(webhookDeliveries.id, id));
}

export interface ClaimedDelivery {
  id: string;
  eventId: string;
  webhook: string;
  event: string;
  body: unknown;
  attempts: number;
}

/** Whose deliveries to claim: one webhook's, or those of every webhook but these (ones no longer configured). */
export type DeliveryLane = { to: string } | { notTo: readonly string[] };

/**
 * Takes up to `limit` deliveries of `lane` that are due and not held by another instance, holding them
 * for `lockMs`: an instance that dies mid-delivery lets them go when the lock runs out.
 */
export async function claimDeliveries(db: Db, lane: DeliveryLane, limit: number, lockMs: number): Promise<ClaimedDelivery[]> {
  const whose = "to" in lane ? sql`webhook = ${lane.to}` : lane.notTo.length === 0 ? sql`true` : sql`webhook not in (${sql.join(lane.notTo.map((name) => sql`${name}`), sql`, `)})`;
  const result = await db.execute(sql`
    update ${webhookDeliveries} set locked_until = now() + ${lockMs}::int * interval '1 millisecond', attempts = attempts + 1
    where id in (
      select id from ${webhookDeliveries}
      where status = 'pending' and next_attempt_at <= now() and (locked_until is null or locked_until < now()) and ${whose}
      order by next_attempt_at limit ${limit} for update skip locked
    )
    returning id, event_id as "eventId", webhook, event, body, attempts`);
  return rowsOf<ClaimedDelivery>(result);
}

export async function markDelivered(db: Db, id: string, status: number): Promise<void> {
  await db.execute(sql`update ${webhookDeliveries} set status = 'delivered', delivered_at = now(), last_status = ${status}, locked_until = null where id = ${id}`);
}

/** Records a failed attempt: tried again after `retryInMs`, or given up on when that is undefined. */
export async function markAttemptFailed(db: Db, id: string, error: string, status: number | null, retryInMs: number | undefined): Promise<void> {
  await db.execute(sql`
    update ${webhookDeliveries} set last_error = ${error}, last_status = ${status}, locked_until = null,
      status = ${retryInMs === undefined ? "failed" : "pending"},
      next_attempt_at = now() + ${retryInMs ?? 0}::int * interval '1 millisecond'
    where id = ${id}`);
}

export function recentDeliveries(db: Db, limit: number): Promise<WebhookDeliveryRow[]> {
  return db.select().from(webhookDeliveries).orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)).limit(limit);
}
