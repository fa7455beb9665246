import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import type { ArtifactRow, Assert, DirectiveRow, Same } from "./public-rows.js";

/** Agent intent, frozen once proposed: what a role should do, within which scope, budget and time. */
export const directives = pgTable(
  "directives",
  {
    id: text("id").primaryKey(),
    /** The role (target) that should act. */
    role: text("role").notNull(),
    /** The execution module: noop, echo, validate, test, llm_call. */
    type: text("type").notNull(),
    payload: jsonb("payload").$type<unknown>().notNull(),
    issuedBy: text("issued_by").notNull(),
    issuedByKind: text("issued_by_kind").notNull(),
    objective: text("objective").notNull(),
    scope: text("scope").notNull(),
    constraints: jsonb("constraints").$type<unknown>().notNull(),
    successMetrics: jsonb("success_metrics").$type<unknown>().notNull(),
    /** As the issuer wrote it: "$50", "50.00", "100 USD". */
    budget: text("budget"),
    /** Seconds the work may take. */
    timeboxSeconds: integer("timebox_seconds"),
    status: text("status", { enum: ["draft", "proposed", "blocked", "approved", "executing", "complete", "aborted"] }).notNull(),
    /** Why it is blocked, from the last policy evaluation. */
    blockedReasons: jsonb("blocked_reasons").$type<string[]>(),
    approvedBy: text("approved_by"),
    /** True when a person approved it, false when the policy auto-approved it. */
    humanOverride: boolean("human_override"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    proposedAt: timestamp("proposed_at", { withTimezone: true, mode: "date" }),
    approvedAt: timestamp("approved_at", { withTimezone: true, mode: "date" }),
    /** The issuer's `Idempotency-Key`: a request sent again with it answers this directive instead of issuing another. */
    idempotencyKey: text("idempotency_key"),
  },
  (t) => [
    index("directives_status_idx").on(t.status, t.updatedAt),
    index("directives_role_idx").on(t.role, t.createdAt),
    // The admin list's order, newest first by (created_at, id), whole and by status: a page is read off
    // the index from its cursor on, instead of sorting every directive (of that status) for each page.
    index("directives_created_idx").on(t.createdAt, t.id),
    index("directives_status_created_idx").on(t.status, t.createdAt, t.id),
    // Per issuer: two agents may pick the same key. Directives without one (null) never collide.
    uniqueIndex("directives_idempotency_idx").on(t.issuedBy, t.idempotencyKey),
  ],
);

/** What a step leaves behind. Immutable: a trigger refuses updates and deletes. */
export const artifacts = pgTable(
  "artifacts",
  {
    id: text("id").primaryKey(),
    directiveId: text("directive_id").notNull(),
    runId: text("run_id"),
    type: text("type", { enum: ["policy_evaluation", "execution_start", "execution_checkpoint", "execution_end", "llm_call", "llm_usage"] }).notNull(),
    /** The content, when it is stored here (up to 64 KB). */
    body: jsonb("body").$type<unknown>(),
    /** Where it lives: `pg:artifacts/<id>`, or an object store's URI. */
    uri: text("uri").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("artifacts_directive_idx").on(t.directiveId, t.createdAt), index("artifacts_type_idx").on(t.type, t.createdAt)],
);

export type { ArtifactRow, DirectiveRow } from "./public-rows.js";
/** Fails to compile when a column changes and the public row above does not. */
export type RowsMatchTables = [Assert<Same<DirectiveRow, typeof directives.$inferSelect>>, Assert<Same<ArtifactRow, typeof artifacts.$inferSelect>>];
