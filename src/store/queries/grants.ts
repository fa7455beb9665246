import { and, desc, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { approvalGrants, auditEvents, changeRequests, type ApprovalGrantRow } from "../schema/index.js";
import { rowsOf } from "./rows.js";

/** Grants not revoked and not expired. */
export function liveGrants(db: Db): Promise<ApprovalGrantRow[]> {
  return db.select().from(approvalGrants).where(and(isNull(approvalGrants.revokedAt), gt(approvalGrants.expiresAt, sql`now()`)));
}

export function recentGrants(db: Db, limit: number): Promise<ApprovalGrantRow[]> {
  return db.select().from(approvalGrants).orderBy(desc(approvalGrants.createdAt)).limit(limit);
}

export async function grantById(db: Db, id: string): Promise<ApprovalGrantRow | undefined> {
  const [row] = await db.select().from(approvalGrants).where(eq(approvalGrants.id, id));
  return row;
}

/**
 * Counts one call against a grant if it still has room: one statement, so concurrent calls on any
 * number of instances never pass `max_calls`. A grant with a spend limit also takes the call's worst
 * case into `spend_used` until the call settles (see settleGrantCall), so calls running together count
 * before they have cost anything. Answers whether the call may run.
 */
export async function useGrant(db: Db, id: string, hold: string): Promise<boolean> {
  const result = await db.execute(sql`
    update ${approvalGrants} set calls_used = calls_used + 1, last_used_at = now(),
      spend_used = spend_used + (case when max_spend_usd is null then 0 else ${hold}::numeric end)
    where id = ${id} and revoked_at is null and expires_at > now()
      and (max_calls is null or calls_used < max_calls) and (max_spend_usd is null or spend_used < max_spend_usd)
    returning id`);
  return rowsOf(result).length > 0;
}

/**
 * Settles one call on a grant: its spend moves by `amount` (the call's cost less the worst case it held,
 * below zero when it cost less), and a call that reached no provider takes back the call it counted.
 * One statement, so a call given back and another counted at the same moment never lose either.
 */
export async function settleGrantCall(db: Db, id: string, amount: string, callsBack: 0 | 1): Promise<void> {
  await db.execute(sql`update ${approvalGrants} set spend_used = spend_used + ${amount}::numeric, calls_used = calls_used - ${callsBack}::int where id = ${id}`);
}

export interface NewGrant {
  id: string;
  keyId: string;
  operation: string;
  expiresAt: Date;
  maxCalls: number | null;
  maxSpendUsd: string | null;
  grantedBy: string;
  grantedByKind: string;
  auditId: string;
}

/** Creates a grant and its audit row in one statement. */
export async function insertGrant(db: Db, grant: NewGrant): Promise<void> {
  await db.execute(sql`
    with created as (
      insert into ${approvalGrants} (id, key_id, operation, expires_at, max_calls, max_spend_usd, granted_by)
      values (${grant.id}, ${grant.keyId}, ${grant.operation}, ${grant.expiresAt.toISOString()}::timestamptz, ${grant.maxCalls}::int, ${grant.maxSpendUsd}::numeric, ${grant.grantedBy})
      returning *
    )
    insert into ${auditEvents} (id, action, target, actor, actor_kind, outcome, details)
    select ${grant.auditId}, 'grant.create', id, granted_by, ${grant.grantedByKind}, 'applied',
      jsonb_build_object('keyId', key_id, 'operation', operation, 'expiresAt', expires_at, 'maxCalls', max_calls, 'maxSpendUsd', max_spend_usd::text)
    from created`);
}

/** Revokes a live grant, audited in the same statement. */
export async function revokeGrant(db: Db, id: string, by: { keyId: string; kind: string; auditId: string }): Promise<boolean> {
  const result = await db.execute(sql`
    with revoked as (update ${approvalGrants} set revoked_at = now() where id = ${id} and revoked_at is null returning id),
    audited as (
      insert into ${auditEvents} (id, action, target, actor, actor_kind, outcome, details)
      select ${by.auditId}, 'grant.revoke', id, ${by.keyId}, ${by.kind}, 'applied', '{}'::jsonb from revoked
    )
    select id from revoked`);
  return rowsOf(result).length > 0;
}

/** The pending request for a grant to this key and operation, if one waits. */
export async function pendingGrantRequest(db: Db, target: string): Promise<string | undefined> {
  const [row] = await db
    .select({ id: changeRequests.id })
    .from(changeRequests)
    .where(and(eq(changeRequests.kind, "grant"), eq(changeRequests.target, target), eq(changeRequests.status, "PENDING"), gt(changeRequests.expiresAt, sql`now()`)))
    .limit(1);
  return row?.id;
}
