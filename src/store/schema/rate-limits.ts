import { bigint, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

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
