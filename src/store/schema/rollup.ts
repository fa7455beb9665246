import { bigint, numeric, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Spend per UTC hour and per UTC day, for each value of one dimension (`total`, `operation`,
 * `model`, `provider`, `user`, `team`, `key`). The statement that inserts ledger rows keeps it, so it
 * can never disagree with them. A report reads whole days, then whole hours, from here, and only the
 * minutes before its first whole hour from the ledger itself: a 30-day report adds up thousands of
 * rows, not millions, and is still exact to the row.
 *
 * One dimension per row, not every combination: combinations multiply (keys × users × models × …)
 * until the rollup is as big as the ledger, while single dimensions stay small.
 */
export const ledgerRollup = pgTable(
  "ledger_rollup",
  {
    dimension: text("dimension", { enum: ["total", "operation", "model", "provider", "user", "team", "key"] }).notNull(),
    grain: text("grain", { enum: ["hour", "day"] }).notNull(),
    /** The start of the hour or day, UTC. */
    start: timestamp("start", { withTimezone: true, mode: "date" }).notNull(),
    /** The dimension's value; `(none)` when the call had none, empty for `total`. */
    value: text("value").notNull(),
    requests: bigint("requests", { mode: "number" }).notNull(),
    errors: bigint("errors", { mode: "number" }).notNull(),
    inputTokens: bigint("input_tokens", { mode: "number" }).notNull(),
    outputTokens: bigint("output_tokens", { mode: "number" }).notNull(),
    /** USD, exact: the sum of the ledger's costs. */
    cost: numeric("cost", { precision: 30, scale: 12 }).notNull(),
  },
  // Dimension and grain first: a report reads one dimension at one grain over a range of starts.
  (t) => [primaryKey({ columns: [t.dimension, t.grain, t.start, t.value] })],
);

export type LedgerRollupRow = typeof ledgerRollup.$inferSelect;
