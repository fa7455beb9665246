import { desc, eq, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { webhookDeliveries, webhookSenders, type WebhookDeliveryRow } from "../schema/index.js";
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

/**
 * Takes up to `limit` deliveries to `webhook` that are due and not held by another instance, holding them
 * for `lockMs`: an instance that dies mid-delivery lets them go when the lock runs out.
 */
export async function claimDeliveries(db: Db, webhook: string, limit: number, lockMs: number): Promise<ClaimedDelivery[]> {
  const result = await db.execute(sql`
    update ${webhookDeliveries} set locked_until = now() + ${lockMs}::int * interval '1 millisecond', attempts = attempts + 1
    where id in (
      select id from ${webhookDeliveries}
      where status = 'pending' and next_attempt_at <= now() and (locked_until is null or locked_until < now()) and webhook = ${webhook}
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

/** Hands back a delivery whose attempt was cut off by its instance closing: due at once, the attempt not counted. */
export async function releaseDelivery(db: Db, id: string): Promise<void> {
  await db.execute(sql`update ${webhookDeliveries} set locked_until = null, attempts = greatest(attempts - 1, 0) where id = ${id} and status = 'pending'`);
}

export function recentDeliveries(db: Db, limit: number): Promise<WebhookDeliveryRow[]> {
  return db.select().from(webhookDeliveries).orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)).limit(limit);
}

/** Says that `instance` sends these webhooks, for the next `liveMs`; forgets senders silent for longer. */
export async function renewSender(db: Db, instance: string, webhooks: readonly string[], liveMs: number): Promise<void> {
  await db
    .insert(webhookSenders)
    .values({ instance, webhooks: [...webhooks], seenAt: sql`now()` })
    .onConflictDoUpdate({ target: webhookSenders.instance, set: { webhooks: [...webhooks], seenAt: sql`now()` } });
  await db.delete(webhookSenders).where(sql`seen_at < now() - ${liveMs}::int * interval '1 millisecond'`);
}

export async function forgetSenders(db: Db): Promise<void> {
  await db.delete(webhookSenders);
}

/**
 * Ends as failed, without an attempt, each pending delivery whose webhook no sender renewed within
 * `liveMs` names, and each event queued for every webhook (`everyWebhook`) when no live sender has any.
 * One held by an instance mid-attempt is left to it. Returns what it ended.
 */
export async function endUnsendable(db: Db, everyWebhook: string, liveMs: number): Promise<Array<{ id: string; webhook: string }>> {
  const live = sql`seen_at >= now() - ${liveMs}::int * interval '1 millisecond'`;
  const result = await db.execute(sql`
    update ${webhookDeliveries} set status = 'failed', locked_until = null, last_status = null,
      last_error = case when webhook = ${everyWebhook} then 'no running instance has a webhook configured to send this event to'
        else 'no running instance has a webhook named "' || webhook || '" configured any more' end
    where status = 'pending' and (locked_until is null or locked_until < now()) and (
      (webhook <> ${everyWebhook} and webhook not in (select jsonb_array_elements_text(webhooks) from ${webhookSenders} where ${live}))
      or (webhook = ${everyWebhook} and not exists (select 1 from ${webhookSenders} where ${live} and jsonb_array_length(webhooks) > 0)))
    returning id, webhook`);
  return rowsOf<{ id: string; webhook: string }>(result);
}
