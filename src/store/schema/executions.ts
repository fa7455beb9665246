import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/** One attempt to carry out a directive through an execution module. */
export const executionRuns = pgTable(
  "execution_runs",
  {
    id: text("id").primaryKey(),
    directiveId: text("directive_id").notNull(),
    module: text("module").notNull(),
    status: text("status", { enum: ["pending", "running", "completed", "failed", "canceled"] }).notNull(),
    /** What the module is given: the same key means the same result, and never a second side effect. */
    idempotencyKey: text("idempotency_key").notNull(),
    /** The durable workflow carrying the run (DBOS workflow id). */
    workflowId: text("workflow_id").notNull(),
    /** The worker that picked it up. */
    executorId: text("executor_id").notNull(),
    /** SUCCESS, FAILURE or ERROR, as the module said. */
    moduleStatus: text("module_status"),
    output: jsonb("output").$type<unknown>(),
    error: text("error"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    endedAt: timestamp("ended_at", { withTimezone: true, mode: "date" }),
    durationMs: integer("duration_ms"),
  },
  (t) => [
    uniqueIndex("execution_runs_directive_idx").on(t.directiveId),
    // The admin list's order, newest first by (created_at, id), whole and by status, read off an index
    // from the page's cursor on; `id` breaks ties between runs made in the same microsecond.
    index("execution_runs_status_idx").on(t.status, t.createdAt, t.id),
    index("execution_runs_created_idx").on(t.createdAt, t.id),
  ],
);

/** A module's side effect, recorded under its idempotency key: a replayed step finds it and does not act again. */
export const moduleEffects = pgTable("module_effects", {
  idempotencyKey: text("idempotency_key").primaryKey(),
  module: text("module").notNull(),
  result: jsonb("result").$type<unknown>().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

export type ExecutionRunRow = typeof executionRuns.$inferSelect;
export type ModuleEffectRow = typeof moduleEffects.$inferSelect;
