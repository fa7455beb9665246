import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The webhook outbox: one row per event and webhook. An event is written here by the instance that
 * raised it, and any instance delivers it: rows are claimed with a lock that expires, retried with
 * backoff, and end `delivered` or `failed` with the last error kept.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    /** The event's own id, the same for every webhook it goes to: receivers deduplicate on it. */
    eventId: text("event_id").notNull(),
    webhook: text("webhook").notNull(),
    event: text("event").notNull(),
    /** The body to send, already in the webhook's format. */
    body: jsonb("body").$type<unknown>().notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
    /** A resend: the failed delivery it sends again, as a delivery of its own under the same event id. */
    resentFrom: text("resent_from"),
  },
  (t) => [
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    // The admin list pages newest first on (created_at, id), and retention deletes the oldest: both walk this index.
    index("webhook_deliveries_created_idx").on(t.createdAt, t.id),
    // The list filtered to pending or failed deliveries, which are few among many delivered ones: walking
    // the index above for them reads every newer delivered row first (45 ms over 200k rows for 10 failed
    // ones, on a table without statistics, as the embedded store's often is), this one only theirs.
    index("webhook_deliveries_undelivered_idx").on(t.createdAt, t.id).where(sql`${t.status} <> 'delivered'`),
  ],
);

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

/**
 * The instances that send webhooks, and the names of theirs, each renewed every few seconds. Instances
 * whose files differ (a rolling deploy) share one outbox: each sends only its own webhooks' deliveries,
 * and a delivery whose webhook no live instance names any more is ended, not left pending for ever.
 */
export const webhookSenders = pgTable("webhook_senders", {
  instance: text("instance").primaryKey(),
  webhooks: jsonb("webhooks").$type<string[]>().notNull(),
  seenAt: timestamp("seen_at", { withTimezone: true, mode: "date" }).notNull(),
});
