import { bigint, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The shared counter of one rate limit, for one subject (a key, a user, an operation) and one unit,
 * in one fixed minute: how many requests or tokens instances have been granted. Instances lease
 * from it in chunks and count down in memory; the row is never more than the limit.
 */
export const rateWindows = pgTable(
  "rate_windows",
  {
    limitName: text("limit_name").notNull(),
    subject: text("subject").notNull(),
    unit: text("unit", { enum: ["requests", "tokens"] }).notNull(),
    start: timestamp("start", { withTimezone: true, mode: "date" }).notNull(),
    granted: bigint("granted", { mode: "number" }).notNull().default(0),
    /** What the statement that last changed the row granted: its RETURNING reads the grant from here. */
    lastGrant: bigint("last_grant", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.limitName, t.subject, t.unit, t.start] })],
);

/**
 * The rate limits in force, one row per limit. The config file's limits are seeded here; an admin may
 * add, change or delete limits through the admin API, and those changes stand until changed again.
 */
export const rateLimitRules = pgTable("rate_limit_rules", {
  name: text("name").primaryKey(),
  /** The limit as the config file writes it (`rateLimits[]`); read back through the config's own schema. */
  definition: jsonb("definition").$type<RateLimitDefinition>().notNull(),
  source: text("source", { enum: ["config", "admin"] }).notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedBy: text("updated_by"),
  /** Set when an admin deleted the limit: the row stays, so that the file's seed does not bring it back. */
  deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
});

export type RateLimitRuleRow = typeof rateLimitRules.$inferSelect;

/** A rate limit as stored: the config's shape, which the store does not interpret. */
export interface RateLimitDefinition {
  name: string;
  [field: string]: unknown;
}
