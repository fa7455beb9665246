import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, numeric, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import type { BudgetCharge, LedgerAttempt } from "./ledger-json.js";

export type { BudgetCharge, LedgerAttempt } from "./ledger-json.js";

/**
 * One row per call, whatever its outcome. Append-only: nothing updates or deletes rows.
 * Never holds prompt or completion text.
 */
export const ledger = pgTable(
  "ledger",
  {
    id: text("id").primaryKey(),
    ts: timestamp("ts", { withTimezone: true, mode: "date" }).notNull(),
    requestId: text("request_id").notNull(),
    traceId: text("trace_id"),
    keyId: text("key_id"),
    userId: text("user_id"),
    teamId: text("team_id"),
    /** The end user the caller named with `x-airlock-user`. */
    endUser: text("end_user"),
    sessionId: text("session_id"),
    operation: text("operation"),
    /** What the caller asked for: a model, alias, tier or operation name. */
    requestedModel: text("requested_model"),
    /** The catalog id that served the call (or was last tried). */
    model: text("model"),
    provider: text("provider"),
    endpoint: text("endpoint", { enum: ["chat", "embeddings", "transcriptions", "speech"] }).notNull(),
    stream: boolean("stream").notNull().default(false),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    cachedInputTokens: integer("cached_input_tokens").notNull().default(0),
    cacheWriteTokens: integer("cache_write_tokens").notNull().default(0),
    /** The part of cache_write_tokens kept for an hour (Anthropic), priced at its own rate. */
    cacheWrite1hTokens: integer("cache_write_1h_tokens").notNull().default(0),
    /** The parts of input_tokens and output_tokens that were audio, priced at their own rates. */
    audioInputTokens: integer("audio_input_tokens").notNull().default(0),
    audioOutputTokens: integer("audio_output_tokens").notNull().default(0),
    reasoningTokens: integer("reasoning_tokens").notNull().default(0),
    /** Seconds of audio in, for transcription. */
    audioSeconds: numeric("audio_seconds", { precision: 14, scale: 3 }),
    /** Characters of text in, for speech. */
    characters: integer("characters"),
    /** USD, exact. */
    cost: numeric("cost", { precision: 24, scale: 12 }).notNull(),
    /** What the provider itself said the call cost, when it says (OpenRouter). */
    providerCost: numeric("provider_cost", { precision: 24, scale: 12 }),
    priceMissing: boolean("price_missing").notNull().default(false),
    usageEstimated: boolean("usage_estimated").notNull().default(false),
    latencyMs: integer("latency_ms").notNull(),
    ttftMs: integer("ttft_ms"),
    outcome: text("outcome", { enum: ["success", "error", "refused"] }).notNull(),
    errorCode: text("error_code"),
    httpStatus: integer("http_status").notNull(),
    attemptCount: integer("attempt_count").notNull().default(0),
    /** Tool calls in the answer, and how many of them named no declared tool or had arguments that are not a JSON object. */
    toolCalls: integer("tool_calls").notNull().default(0),
    toolCallFailures: integer("tool_call_failures").notNull().default(0),
    /** How many times the call moved on to another candidate. */
    fallbacks: integer("fallbacks").notNull().default(0),
    /** Why the route differed from what was asked: org_default, model_not_allowed, session_pinned. */
    routeReason: text("route_reason"),
    /** Each attempt: target, outcome, status, error code, latency and the delay before it. */
    attempts: jsonb("attempts").$type<LedgerAttempt[]>().notNull().default([]),
    /** What the call charged to each budget it ran under; the insert moves the budgets' counters by it (see queries/ledger.ts). */
    budgetCharges: jsonb("budget_charges").$type<BudgetCharge[]>(),
  },
  (t) => [
    index("ledger_ts_idx").on(t.ts),
    index("ledger_operation_ts_idx").on(t.operation, t.ts),
    index("ledger_key_ts_idx").on(t.keyId, t.ts),
    // The dashboard's filters by model and by user read the ledger through these.
    index("ledger_model_ts_idx").on(t.model, t.ts),
    index("ledger_user_ts_idx").on(sql`coalesce(${t.endUser}, ${t.userId})`, t.ts),
  ],
);

export type LedgerRow = typeof ledger.$inferSelect;
export type NewLedgerRow = typeof ledger.$inferInsert;
