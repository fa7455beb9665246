import { desc, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, changeRequests, type ChangeRequestRow } from "../schema/index.js";
import { reopened } from "./budgets.js";
import { rowsOf } from "./rows.js";

export type ChangeKind = ChangeRequestRow["kind"];
export type NewChangeRequest = Omit<ChangeRequestRow, "status" | "current" | "requestedAt" | "decidedBy" | "decidedAt" | "decisionNote" | "appliedAt">;

/**
 * Each kind's target state as one jsonb value, read by the same expression when a change is proposed
 * (the snapshot) and inside the statement that approves it (the stale check), so the two compare alike.
 */
function currentState(kind: ChangeKind, target: string): SQL {
  switch (kind) {
    case "route":
      return sql`(select definition from routes where name = ${target})`;
    case "price":
      return sql`(select price from prices where model = ${target} and effective_from <= now() order by effective_from desc limit 1)`;
    case "budget":
      return sql`(select jsonb_build_object('scope', scope, 'target', target, 'window', period, 'timezone', timezone, 'limit', limit_usd::text, 'warnAt', warn_usd::text)
        from budgets where name = ${target} and deleted_at is null)`;
    case "toggle":
      return sql`(select jsonb_build_object('enabled', enabled, 'locked', locked, 'controlledBy', controlled_by) from feature_toggles where name = ${target})`;
    case "grant":
      // The grants the key and operation can still call under: granting once more is harmless, so only their
      // ids are compared. A grant used up since the proposal leaves the key refused, pointed at this request
      // (see Grants.use), which must then still be approvable.
      return sql`(select jsonb_agg(id order by id) from approval_grants where key_id || '/' || operation = ${target} and revoked_at is null and expires_at > now()
        and (max_calls is null or calls_used < max_calls) and (max_spend_usd is null or spend_used < max_spend_usd))`;
  }
}

/**
 * The CTEs that write the approved change. `approved` is the CTE holding the change request row;
 * each writes nothing when it is empty, so a refused approval changes nothing.
 */
function applyChange(kind: ChangeKind, approver: string): SQL {
  switch (kind) {
    case "route":
      return sql`written as (insert into routes (name, definition, source, updated_at, updated_by)
        select target, proposed, 'admin', now(), ${approver} from approved
        on conflict (name) do update set definition = excluded.definition, source = 'admin', updated_at = excluded.updated_at, updated_by = excluded.updated_by)`;
    case "price":
      return sql`written as (insert into prices (model, effective_from, price, origin, created_by)
        select target, now(), proposed, 'admin', ${approver} from approved)`;
    case "budget":
      // The open windows take the new limit in the same statement, as a direct budget change does. A global
      // budget is proposed without a target, and stored with an empty one, as budgetInput stores it.
      return sql`written as (insert into budgets (name, scope, target, period, timezone, limit_usd, warn_usd, source, updated_at, updated_by)
        select a.target, p.scope, coalesce(p.target, ''), p."window", p.timezone, p."limit", p."warnAt", 'admin', now(), ${approver}
        from approved a cross join lateral jsonb_to_record(a.proposed) as p(scope text, target text, "window" text, timezone text, "limit" numeric, "warnAt" numeric)
        on conflict (name) do update set scope = excluded.scope, target = excluded.target, period = excluded.period, timezone = excluded.timezone,
          limit_usd = excluded.limit_usd, warn_usd = excluded.warn_usd, source = 'admin', updated_at = excluded.updated_at, updated_by = excluded.updated_by, deleted_at = null
        returning name, limit_usd, warn_usd),
      relimited as (update budget_windows w set limit_usd = written.limit_usd, ${reopened(sql`written`)} from written where w.budget_name = written.name and w."end" > now())`;
    case "toggle":
      return sql`written as (update feature_toggles t set enabled = coalesce((a.proposed->>'enabled')::boolean, t.enabled),
          locked = coalesce((a.proposed->>'locked')::boolean, t.locked),
          controlled_by = coalesce(a.proposed->>'controlledBy', t.controlled_by), updated_at = now(), updated_by = ${approver}
        from approved a where t.name = a.target)`;
    case "grant":
      return sql`written as (insert into approval_grants (id, key_id, operation, expires_at, max_calls, max_spend_usd, granted_by, request_id)
        select 'grant_' || replace(gen_random_uuid()::text, '-', ''), p."keyId", p.operation, now() + p."expiresInHours" * interval '1 hour',
          p."maxCalls", p."maxSpendUsd", ${approver}, a.id
        from approved a cross join lateral jsonb_to_record(a.proposed) as p("keyId" text, operation text, "expiresInHours" numeric, "maxCalls" int, "maxSpendUsd" numeric))`;
  }
}

/** The target's state now, as a change request records it. */
export async function readCurrentState(db: Db, kind: ChangeKind, target: string): Promise<unknown> {
  const [row] = rowsOf<{ state: unknown }>(await db.execute(sql`select ${currentState(kind, target)} as state`));
  return row?.state ?? null;
}

/** The requests a key has waiting for a decision (unexpired). */
function pendingOf(keyId: string): SQL {
  return sql`(select count(*) from ${changeRequests} where requested_by = ${keyId} and status = 'PENDING' and expires_at > now())`;
}

/** Whether a key has `max` pending requests or more; see pendingOf. */
export async function hasPending(db: Db, keyId: string, max: number): Promise<boolean> {
  const [row] = rowsOf<{ full: boolean }>(await db.execute(sql`select ${pendingOf(keyId)} >= ${max} as full`));
  return row?.full === true;
}

/**
 * Records a proposal with the target's state as it is in the same statement, and audits it. With
 * `maxPending`, only while its requester has fewer pending requests than that (checked in the same
 * statement); undefined when it has as many.
 */
export async function insertChangeRequest(db: Db, request: NewChangeRequest, auditId: string, maxPending?: number): Promise<ChangeRequestRow | undefined> {
  const room = maxPending === undefined ? sql`true` : sql`${pendingOf(request.requestedBy)} < ${maxPending}`;
  const result = await db.execute(sql`
    with created as (
      insert into ${changeRequests} (id, kind, target, category, status, current, proposed, estimated_savings_usd, quality_impact, confidence, reasoning,
        impact, requested_by, requested_by_kind, expires_at)
      select ${request.id}, ${request.kind}, ${request.target}, ${request.category}, 'PENDING', ${currentState(request.kind, request.target)},
        ${JSON.stringify(request.proposed)}::jsonb, ${request.estimatedSavingsUsd}::numeric, ${request.qualityImpact}, ${request.confidence}::numeric,
        ${request.reasoning}, ${request.impact === null ? null : JSON.stringify(request.impact)}::jsonb, ${request.requestedBy}, ${request.requestedByKind}, ${request.expiresAt.toISOString()}::timestamptz
      where ${room}
      returning id
    ), audited as (
      insert into ${auditEvents} (id, action, target, reason, actor, actor_kind, outcome, details)
      select ${auditId}, 'change_request.create', id, ${request.reasoning}, ${request.requestedBy}, ${request.requestedByKind}, 'applied',
        jsonb_build_object('kind', ${request.kind}::text, 'target', ${request.target}::text, 'category', ${request.category}::text)
      from created
    )
    select id from created`);
  const [row] = rowsOf<{ id: string }>(result);
  if (!row) {
    if (maxPending !== undefined) return undefined;
    throw new Error("change request insert returned no row");
  }
  const saved = await getChangeRequest(db, row.id);
  if (!saved) throw new Error("change request insert returned no row");
  return saved;
}

/** Pending requests past their expiry become EXPIRED; done before any read, so no reader sees one pending. */
export async function expireChangeRequests(db: Db): Promise<void> {
  await db.execute(sql`
    with expired as (
      update ${changeRequests} set status = 'EXPIRED', decided_at = expires_at where status = 'PENDING' and expires_at <= now()
      returning id, kind, target, expires_at
    )
    insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
    select 'audit_' || replace(gen_random_uuid()::text, '-', ''), expires_at, 'change_request.expire', id, 'system', 'system', 'applied',
      jsonb_build_object('kind', kind, 'target', target)
    from expired`);
}

export async function getChangeRequest(db: Db, id: string): Promise<ChangeRequestRow | undefined> {
  const [row] = await db.select().from(changeRequests).where(eq(changeRequests.id, id));
  return row;
}

export function listChangeRequests(db: Db, status: ChangeRequestRow["status"] | undefined, limit: number): Promise<ChangeRequestRow[]> {
  const query = db.select().from(changeRequests);
  return (status ? query.where(eq(changeRequests.status, status)) : query).orderBy(desc(changeRequests.requestedAt), desc(changeRequests.id)).limit(limit);
}

export interface Decision {
  id: string;
  decidedBy: string;
  decidedByKind: string;
  note: string | null;
  auditId: string;
}

/**
 * Approves and applies a pending request in one statement, atomic on both stores: the request turns
 * APPLIED, the change is written and the audit row added, or none of it happens. It happens only if
 * the request is still pending and unexpired, the approver is not its requester, and the target is
 * as it was when the change was proposed. Answers whether it happened.
 */
export async function approveAndApply(db: Db, kind: ChangeKind, target: string, decision: Decision): Promise<boolean> {
  const result = await db.execute(sql`
    with approved as (
      update ${changeRequests} set status = 'APPLIED', decided_by = ${decision.decidedBy}, decided_at = now(), applied_at = now(), decision_note = ${decision.note}
      where id = ${decision.id} and status = 'PENDING' and expires_at > now() and requested_by <> ${decision.decidedBy}
        and current is not distinct from ${currentState(kind, target)}
      returning *
    ), ${applyChange(kind, decision.decidedBy)}, audited as (
      insert into ${auditEvents} (id, action, target, reason, actor, actor_kind, outcome, details)
      select ${decision.auditId}, 'change_request.apply', id, ${decision.note}, ${decision.decidedBy}, ${decision.decidedByKind}, 'applied',
        jsonb_build_object('kind', kind, 'target', target, 'category', category, 'from', current, 'to', proposed, 'requestedBy', requested_by)
      from approved
    )
    select id from approved`);
  return rowsOf(result).length > 0;
}

/** Rejects a pending request, audited in the same statement. Answers whether it was pending. */
export async function rejectChangeRequest(db: Db, decision: Decision): Promise<boolean> {
  const result = await db.execute(sql`
    with rejected as (
      update ${changeRequests} set status = 'REJECTED', decided_by = ${decision.decidedBy}, decided_at = now(), decision_note = ${decision.note}
      where id = ${decision.id} and status = 'PENDING'
      returning *
    ), audited as (
      insert into ${auditEvents} (id, action, target, reason, actor, actor_kind, outcome, details)
      select ${decision.auditId}, 'change_request.reject', id, ${decision.note}, ${decision.decidedBy}, ${decision.decidedByKind}, 'applied',
        jsonb_build_object('kind', kind, 'target', target, 'requestedBy', requested_by)
      from rejected
    )
    select id from rejected`);
  return rowsOf(result).length > 0;
}
