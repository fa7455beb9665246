import { asc, isNull, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, rateLimitRules, type RateLimitDefinition, type RateLimitRuleRow } from "../schema/index.js";
import { markDeleted, type AdminAudit } from "./admin-rows.js";

/**
 * Seeds the config file's limits: a config limit is replaced by the file's version, one the file no
 * longer has is dropped, and an admin's limit is left alone (it stands until an admin changes it),
 * deleted ones included: their rows stay, marked, so that the file does not bring them back.
 */
export async function seedRateLimitRules(db: Db, fromConfig: readonly RateLimitDefinition[]): Promise<void> {
  const incoming = JSON.stringify(fromConfig.map((definition) => ({ name: definition.name, definition })));
  await db.execute(sql`
    with incoming as (select * from json_to_recordset(${incoming}::json) as r(name text, definition jsonb)),
    dropped as (delete from ${rateLimitRules} where source = 'config' and name not in (select name from incoming))
    insert into ${rateLimitRules} (name, definition, source, updated_by)
    select name, definition, 'config', 'config' from incoming
    on conflict (name) do update set definition = excluded.definition, updated_at = now()
    where ${rateLimitRules}.source = 'config' and ${rateLimitRules}.definition is distinct from excluded.definition`);
}

/** The limits in force: every row but those an admin deleted. */
export function readRateLimitRules(db: Db): Promise<RateLimitRuleRow[]> {
  return db.select().from(rateLimitRules).where(isNull(rateLimitRules.deletedAt)).orderBy(asc(rateLimitRules.name));
}

/** Creates or replaces a limit as an admin's, audited in the same statement. */
export async function writeRateLimitRule(db: Db, definition: RateLimitDefinition, audit: AdminAudit): Promise<void> {
  await db.execute(sql`
    with written as (
      insert into ${rateLimitRules} (name, definition, source, updated_at, updated_by)
      values (${definition.name}, ${JSON.stringify(definition)}::jsonb, 'admin', now(), ${audit.actor})
      on conflict (name) do update set definition = excluded.definition, source = 'admin', updated_at = excluded.updated_at, updated_by = excluded.updated_by, deleted_at = null
      returning name, definition, updated_at
    )
    insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
    select ${audit.auditId}, updated_at, 'rate_limit.set', name, ${audit.actor}, ${audit.actorKind}, 'applied', definition from written`);
}

/** Deletes a limit (its row stays, marked; see markDeleted), audited. Its minutes' counters age out. */
export function deleteRateLimitRule(db: Db, name: string, audit: AdminAudit): Promise<boolean> {
  return markDeleted(db, rateLimitRules, name, "rate_limit.delete", audit);
}
