import { index, jsonb, numeric, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Proposed configuration changes and what became of them: PENDING, then APPROVED (and at once
 * APPLIED, in the statement that approves it), REJECTED or EXPIRED. `current` is the target's state
 * when the change was proposed; an approval finds it unchanged or is refused as stale.
 */
export const changeRequests = pgTable(
  "change_requests",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["route", "price", "budget", "toggle", "grant"] }).notNull(),
    /** The operation, model, budget or toggle the change is for; for a grant, `<key id>/<operation>`. */
    target: text("target").notNull(),
    /** What the change is, in words people use: model_switch, route_change, price_change, budget_change, toggle_change, cost_increase. */
    category: text("category").notNull(),
    status: text("status", { enum: ["PENDING", "APPROVED", "APPLIED", "REJECTED", "EXPIRED"] }).notNull(),
    current: jsonb("current").$type<unknown>(),
    proposed: jsonb("proposed").$type<unknown>().notNull(),
    /** USD per month the proposer expects to save (negative: to spend more). */
    estimatedSavingsUsd: numeric("estimated_savings_usd", { precision: 24, scale: 12 }),
    qualityImpact: text("quality_impact"),
    confidence: numeric("confidence", { precision: 4, scale: 3 }),
    reasoning: text("reasoning"),
    /** The last days of the ledger replayed under the proposed model or price: what the change would have cost (route and price changes). */
    impact: jsonb("impact").$type<ChangeImpact>(),
    requestedBy: text("requested_by").notNull(),
    requestedByKind: text("requested_by_kind").notNull(),
    requestedAt: timestamp("requested_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    decidedBy: text("decided_by"),
    decidedAt: timestamp("decided_at", { withTimezone: true, mode: "date" }),
    decisionNote: text("decision_note"),
    appliedAt: timestamp("applied_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("change_requests_status_idx").on(t.status, t.requestedAt)],
);

export type ChangeRequestRow = typeof changeRequests.$inferSelect;

export interface ChangeImpact {
  /** Days of ledger replayed, and the successful calls in them. */
  days: number;
  calls: number;
  /** What those calls cost, and what they would have cost under the change (USD, exact). */
  currentCostUsd: string;
  projectedCostUsd: string;
  /** The difference scaled to 30 days: positive costs more. */
  projectedMonthlyChangeUsd: string;
  /** Which calls were replayed under which price. */
  basis: string;
}
