import { sql } from "drizzle-orm";
import { newId } from "../../core/ids.js";
import type { Db } from "../database.js";
import { auditEvents, budgets, rateLimitRules } from "../schema/index.js";
import { rowsOf } from "./rows.js";

/** Who made an admin change, for the audit row written in the same statement as the change. */
export interface AdminAudit {
  auditId: string;
  actor: string;
  actorKind: string;
}

export function auditBy(actor: { keyId: string; kind: string }): AdminAudit {
  return { auditId: newId("audit"), actor: actor.keyId, actorKind: actor.kind };
}

/**
 * Deletes a row of a table the config file seeds (budgets, rate limits), audited in the same
 * statement. The row stays as the admin's, marked deleted, so a restart with a file that still has it
 * keeps it deleted: the seed leaves admin rows alone. True when a live row was deleted.
 */
export async function markDeleted(db: Db, table: typeof budgets | typeof rateLimitRules, name: string, action: string, audit: AdminAudit): Promise<boolean> {
  const result = await db.execute(sql`
    with deleted as (
      update ${table} set deleted_at = now(), source = 'admin', updated_at = now(), updated_by = ${audit.actor}
      where name = ${name} and deleted_at is null returning name
    ),
    audited as (
      insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
      select ${audit.auditId}, now(), ${action}, name, ${audit.actor}, ${audit.actorKind}, 'applied', '{}'::jsonb from deleted
    )
    select name from deleted`);
  return rowsOf(result).length > 0;
}
