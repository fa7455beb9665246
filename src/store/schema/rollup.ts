import { bigint, numeric, pgTable, primaryKey, smallint, text, timestamp } from "drizzle-orm/pg-core";

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

/**
 * Calls per UTC hour and day by how they ended: endpoint, outcome and error code. The SLO panel and
 * the errors-by-code table read it (fallback rate, model error rate, cost per message, approval rate,
 * tool-call success). Kept by the ledger insert, like `ledgerRollup`; a handful of rows per hour.
 */
export const ledgerOutcomes = pgTable(
  "ledger_outcomes",
  {
    grain: text("grain", { enum: ["hour", "day"] }).notNull(),
    start: timestamp("start", { withTimezone: true, mode: "date" }).notNull(),
    endpoint: text("endpoint").notNull(),
    outcome: text("outcome").notNull(),
    /** The error code; empty for a success. */
    code: text("code").notNull(),
    requests: bigint("requests", { mode: "number" }).notNull(),
    /** Calls that moved on to another candidate at least once. */
    fallbackRequests: bigint("fallback_requests", { mode: "number" }).notNull(),
    toolCalls: bigint("tool_calls", { mode: "number" }).notNull(),
    toolCallFailures: bigint("tool_call_failures", { mode: "number" }).notNull(),
    cost: numeric("cost", { precision: 30, scale: 12 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.grain, t.start, t.endpoint, t.outcome, t.code] })],
);

/**
 * Latency and time to first token of the calls that reached a provider (a refusal takes no time worth
 * plotting), per UTC hour and day, as histograms: bucket `b` counts calls that
 * took more than 2^((b-1)/8) ms and at most 2^(b/8) ms (bucket 0: at most 1 ms), so a percentile read
 * from it is within one bucket (about 9%) of the exact one, however many calls the range holds.
 */
export const ledgerLatency = pgTable(
  "ledger_latency",
  {
    kind: text("kind", { enum: ["latency", "ttft"] }).notNull(),
    grain: text("grain", { enum: ["hour", "day"] }).notNull(),
    start: timestamp("start", { withTimezone: true, mode: "date" }).notNull(),
    bucket: smallint("bucket").notNull(),
    calls: bigint("calls", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.grain, t.start, t.bucket] })],
);
