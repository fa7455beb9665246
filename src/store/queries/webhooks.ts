import { eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, webhookDeliveries, webhookSenders, type WebhookDeliveryRow } from "../schema/index.js";
import type { PagePosition } from "../../core/page-cursor.js";
import type { AdminAudit } from "./admin-rows.js";
import { newestFirstPage } from "./pages.js";
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

export type DeliveryStatus = WebhookDeliveryRow["status"];

export interface DeliveryFilter {
  status?: DeliveryStatus;
  webhook?: string;
  after?: PagePosition;
  limit: number;
}

/** Newest first, on (created_at, id) so that a page never skips nor repeats a row; each row with its place in the list. */
export async function listDeliveries(db: Db, filter: DeliveryFilter): Promise<Array<WebhookDeliveryRow & { createdMicros: string }>> {
  const conditions: SQL[] = [];
  if (filter.status) conditions.push(eq(webhookDeliveries.status, filter.status));
  // Said outright, so that even a plan made for any status (a generic one) may use the partial index of the undelivered.
  if (filter.status !== undefined && filter.status !== "delivered") conditions.push(sql`${webhookDeliveries.status} <> 'delivered'`);
  if (filter.webhook !== undefined) conditions.push(eq(webhookDeliveries.webhook, filter.webhook));
  return newestFirstPage(db, webhookDeliveries, conditions, filter.after, filter.limit);
}

export function getDelivery(db: Db, id: string): Promise<WebhookDeliveryRow | undefined> {
  return db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).then((rows) => rows[0]);
}

/** What a resend found: the delivery's status and webhook (none when no such delivery), and the new delivery when it made one. */
export interface ResendOutcome {
  found?: { status: DeliveryStatus; webhook: string; sendable: boolean };
  resentId?: string;
}

/**
 * Queues a failed delivery again, as a new delivery of the same event, body and webhook, audited in the
 * same statement. Only when the delivery is `failed` and, unless `liveMs` is undefined, a sender renewed
 * within `liveMs` has its webhook (any webhook, for an event queued for every webhook): a new delivery
 * nobody sends would only end failed again. Whatever was not met is in the outcome.
 */
export async function resendDelivery(db: Db, id: string, newId: string, everyWebhook: string, liveMs: number | undefined, audit: AdminAudit): Promise<ResendOutcome> {
  const live = sql`seen_at >= now() - ${liveMs ?? 0}::int * interval '1 millisecond'`;
  const sendable =
    liveMs === undefined
      ? sql`true`
      : sql`case when d.webhook = ${everyWebhook} then exists (select 1 from ${webhookSenders} where ${live} and jsonb_array_length(webhooks) > 0)
          else exists (select 1 from ${webhookSenders} where ${live} and webhooks @> jsonb_build_array(d.webhook)) end`;
  const result = await db.execute(sql`
    with source as (
      select d.id, d.event_id, d.webhook, d.event, d.body, d.status, ${sendable} as sendable
      from ${webhookDeliveries} d where d.id = ${id}
    ),
    resent as (
      insert into ${webhookDeliveries} (id, event_id, webhook, event, body, status, resent_from)
      select ${newId}, event_id, webhook, event, body, 'pending', id from source where status = 'failed' and sendable
      returning id, resent_from, webhook, event, event_id
    ),
    audited as (
      insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
      select ${audit.auditId}, now(), 'webhook_delivery.resend', resent_from, ${audit.actor}, ${audit.actorKind}, 'applied',
        jsonb_build_object('delivery', id, 'webhook', webhook, 'event', event, 'eventId', event_id) from resent
    )
    select s.status, s.webhook, s.sendable, r.id as "resentId" from source s left join resent r on true`);
  const [row] = rowsOf<{ status: DeliveryStatus; webhook: string; sendable: boolean; resentId: string | null }>(result);
  if (!row) return {};
  return { found: { status: row.status, webhook: row.webhook, sendable: row.sendable }, ...(row.resentId ? { resentId: row.resentId } : {}) };
}

/**
 * Deletes up to `batch` of the oldest deliveries that ended (delivered or failed) more than `days` days
 * after they were queued, if no other instance is pruning: one statement holds an advisory lock for
 * its transaction, so instances sharing the store take turns, batch by batch. Undefined when another
 * instance held the lock; else how many it deleted.
 */
export async function pruneDeliveries(db: Db, days: number, batch: number, lockKey: number): Promise<number | undefined> {
  const result = await db.execute(sql`
    with lease as materialized (select pg_try_advisory_xact_lock(${lockKey}::bigint) as held),
    pruned as (
      delete from ${webhookDeliveries} where id in (
        select id from ${webhookDeliveries}
        where (select held from lease) and created_at < now() - ${days}::int * interval '1 day' and status <> 'pending'
        order by created_at limit ${batch})
      returning 1
    )
    select (select held from lease) as held, (select count(*) from pruned)::int as pruned`);
  const [row] = rowsOf<{ held: boolean; pruned: number }>(result);
  return row?.held ? Number(row.pruned) : undefined;
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
