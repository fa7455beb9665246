import { index, integer, numeric, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Approval grants: a key may call one HIGH-criticality operation until the grant expires, for at most
 * `max_calls` calls or `max_spend_usd` of spend. Each call counts itself here as it starts.
 */
export const approvalGrants = pgTable(
  "approval_grants",
  {
    id: text("id").primaryKey(),
    keyId: text("key_id").notNull(),
    operation: text("operation").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    maxCalls: integer("max_calls"),
    maxSpendUsd: numeric("max_spend_usd", { precision: 24, scale: 12 }),
    callsUsed: integer("calls_used").notNull().default(0),
    spendUsed: numeric("spend_used", { precision: 24, scale: 12 }).notNull().default("0"),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    grantedBy: text("granted_by").notNull(),
    /** The change request that asked for it, when it was granted by approving one. */
    requestId: text("request_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("approval_grants_key_operation_idx").on(t.keyId, t.operation)],
);

export type ApprovalGrantRow = typeof approvalGrants.$inferSelect;
