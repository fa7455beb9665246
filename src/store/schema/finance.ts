import { date, numeric, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** An exact amount for a period of whole UTC days, both ends included; fresh builders for each table. */
function periodAmount() {
  return {
    /** USD, exact, for the whole period. */
    amount: numeric("amount", { precision: 24, scale: 12 }).notNull(),
    periodStart: date("period_start", { mode: "string" }).notNull(),
    periodEnd: date("period_end", { mode: "string" }).notNull(),
    description: text("description"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** The admin key that entered it. */
    createdBy: text("created_by"),
  };
}

/**
 * What running the product costs outside the AI calls Airlock records (servers, other APIs, an AI
 * bill paid elsewhere). The profit-and-loss report spreads each entry evenly over its days.
 */
export const operatingCosts = pgTable("operating_costs", {
  id: text("id").primaryKey(),
  category: text("category", { enum: ["ai_inference", "vm", "api_service", "other"] }).notNull(),
  ...periodAmount(),
});

/** Revenue per strategy (a plan, a product line, a channel). */
export const revenue = pgTable("revenue", {
  id: text("id").primaryKey(),
  strategy: text("strategy").notNull(),
  ...periodAmount(),
});

export type OperatingCostRow = typeof operatingCosts.$inferSelect;
export type RevenueRow = typeof revenue.$inferSelect;
