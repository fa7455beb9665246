import { and, asc, eq, sql } from "drizzle-orm";
import type { PagePosition } from "../../core/page-cursor.js";
import type { Db } from "../database.js";
import { artifacts, auditEvents, directives, type ArtifactRow, type DirectiveRow } from "../schema/index.js";
import { newId } from "../../core/ids.js";
import { newestFirstPage } from "./pages.js";
import { rowsOf } from "./rows.js";

export type NewDirective = Omit<DirectiveRow, "status" | "blockedReasons" | "approvedBy" | "humanOverride" | "createdAt" | "updatedAt" | "proposedAt" | "approvedAt" | "idempotencyKey"> & {
  idempotencyKey?: string | null;
};
export type DirectiveStatusValue = DirectiveRow["status"];

/** The statuses of a directive that waits on its issuer or an admin: not yet approved, and not ended. */
export const UNDECIDED_STATUSES = ["draft", "proposed", "blocked"] as const;

/**
 * What inserting a draft did: `created` it; found the directive its issuer made before under the same
 * idempotency key (`same` when it was issued with the same fields); or made nothing, as the issuer
 * has `maxPending` undecided directives already.
 */
export type DirectiveInsert = { created: DirectiveRow } | { existing: DirectiveRow; same: boolean } | { full: true };

/**
 * A new draft. With `maxPending`, only while its issuer has fewer undecided directives than that
 * (checked in the same statement). With an idempotency key its issuer used before, nothing is
 * inserted: the directive made then is answered, whether or not the issuer has room for another.
 */
export async function insertDirective(db: Db, directive: NewDirective, maxPending?: number, auditId = newId("audit")): Promise<DirectiveInsert> {
  const d = { ...directive, idempotencyKey: directive.idempotencyKey ?? null };
  const undecided = sql.join(UNDECIDED_STATUSES.map((s) => sql`${s}`), sql`, `);
  const room = maxPending === undefined ? sql`true` : sql`(select count(*) from ${directives} where issued_by = ${d.issuedBy} and status in (${undecided})) < ${maxPending}`;
  // Audited by the same statement: a directive is never without the row that says who issued it.
  const result = await db.execute(sql`
    with created as (
      insert into ${directives} (id, role, type, payload, issued_by, issued_by_kind, objective, scope, constraints, success_metrics, budget, timebox_seconds, idempotency_key, status)
      select ${d.id}, ${d.role}, ${d.type}, ${JSON.stringify(d.payload)}::jsonb, ${d.issuedBy}, ${d.issuedByKind}, ${d.objective}, ${d.scope},
        ${JSON.stringify(d.constraints)}::jsonb, ${JSON.stringify(d.successMetrics)}::jsonb, ${d.budget}, ${d.timeboxSeconds}, ${d.idempotencyKey}, 'draft'
      where ${room}
      on conflict (issued_by, idempotency_key) do nothing
      returning id, type, issued_by, issued_by_kind, created_at
    ), audited as (
      insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
      select ${auditId}, created_at, 'directive.create', id, issued_by, issued_by_kind, 'applied', jsonb_build_object('type', type, 'to', 'draft')
      from created
    )
    select id from created`);
  if (rowsOf(result).length > 0) {
    const created = await getDirective(db, d.id);
    if (!created) throw new Error("directive insert left no row");
    return { created };
  }
  if (d.idempotencyKey === null) return { full: true };
  // Compared by the store, so that a payload's keys in another order (jsonb keeps its own) are the same payload.
  const [found] = rowsOf<{ id: string; same: boolean }>(
    await db.execute(sql`
      select id, (role = ${d.role} and type = ${d.type} and payload = ${JSON.stringify(d.payload)}::jsonb and objective = ${d.objective} and scope = ${d.scope}
        and constraints = ${JSON.stringify(d.constraints)}::jsonb and success_metrics = ${JSON.stringify(d.successMetrics)}::jsonb
        and budget is not distinct from ${d.budget}::text and timebox_seconds is not distinct from ${d.timeboxSeconds}::int) as same
      from ${directives} where issued_by = ${d.issuedBy} and idempotency_key = ${d.idempotencyKey}`),
  );
  const existing = found && (await getDirective(db, found.id));
  return existing ? { existing, same: found.same } : { full: true };
}

export async function getDirective(db: Db, id: string): Promise<DirectiveRow | undefined> {
  const [row] = await db.select().from(directives).where(eq(directives.id, id));
  return row;
}

/**
 * Newest first by when each was made, on (created_at, id): a directive that moves on keeps its place,
 * so a page never skips nor repeats one. Each row with its place in the list.
 */
export function listDirectives(db: Db, filter: { status?: DirectiveStatusValue; after?: PagePosition; limit: number }): Promise<Array<DirectiveRow & { createdMicros: string }>> {
  return newestFirstPage(db, directives, filter.status ? [eq(directives.status, filter.status)] : [], filter.after, filter.limit);
}

export interface TransitionFields {
  blockedReasons?: string[] | null;
  approvedBy?: string | null;
  humanOverride?: boolean | null;
}

/** A status change of a directive, audited in the statement that makes it. */
export interface DirectiveAudit {
  id: string;
  /** `directive.propose`, `directive.block`, `directive.approve`, `directive.abort`, `directive.execute`, `directive.complete`, `directive.fail`. */
  action: string;
  actor: string;
  actorKind: string;
}

/**
 * The only statement that writes a directive's status: it moves `from` → `to` only if the directive is
 * still in `from`, so two writers cannot both move it. Undefined when it was not in `from`. With `audit`
 * (as Directives always moves one), the audit row is written by the same statement, so the change is
 * never without its row.
 */
export async function moveDirective(
  db: Db,
  id: string,
  from: DirectiveStatusValue,
  to: DirectiveStatusValue,
  fields: TransitionFields = {},
  audit?: DirectiveAudit,
): Promise<DirectiveRow | undefined> {
  const update = db
    .update(directives)
    .set({
      status: to,
      updatedAt: sql`now()`,
      ...(to === "proposed" ? { proposedAt: sql`now()`, blockedReasons: null } : {}),
      ...(to === "approved" ? { approvedAt: sql`now()` } : {}),
      ...fields,
    })
    .where(and(eq(directives.id, id), eq(directives.status, from)));
  if (!audit) {
    const [row] = await update.returning();
    return row;
  }
  // The builder's SQL, not the builder: embedded as a builder, it would be wrapped in parentheses.
  const moved = update.returning({ id: directives.id, type: directives.type, updatedAt: directives.updatedAt }).getSQL();
  const result = await db.execute(sql`
    with moved as (${moved}), audited as (
      insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
      select ${audit.id}, updated_at, ${audit.action}, id, ${audit.actor}, ${audit.actorKind}, 'applied', jsonb_build_object('type', type, 'from', ${from}::text, 'to', ${to}::text)
      from moved
    )
    select id from moved`);
  return rowsOf(result).length > 0 ? getDirective(db, id) : undefined;
}

export function artifactsOf(db: Db, directiveId: string): Promise<ArtifactRow[]> {
  return db.select().from(artifacts).where(eq(artifacts.directiveId, directiveId)).orderBy(asc(artifacts.createdAt), asc(artifacts.id));
}
