import { index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Who changed a guard, or tried to, and why: append-only, like the ledger. */
export const auditEvents = pgTable(
  "audit_events",
  {
    id: text("id").primaryKey(),
    ts: timestamp("ts", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** `kill_switch.on`, `kill_switch.off`, … */
    action: text("action").notNull(),
    /** What it acted on: a kill switch scope, a toggle name. */
    target: text("target").notNull(),
    reason: text("reason"),
    /** The key id behind it. */
    actor: text("actor").notNull(),
    /** The key's kind: admin, service, user, agent. */
    actorKind: text("actor_kind").notNull(),
    /** `applied`, or `refused` when the actor was not allowed to. */
    outcome: text("outcome", { enum: ["applied", "refused"] }).notNull(),
    details: jsonb("details").$type<Record<string, unknown>>(),
  },
  (t) => [index("audit_events_ts_idx").on(t.ts)],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;
