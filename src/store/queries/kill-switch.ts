import { sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, killSwitches, type KillSwitchRow } from "../schema/index.js";
import { rowsOf } from "./rows.js";

export interface Flip {
  scope: string;
  active: boolean;
  reason: string;
  actor: string;
  actorKind: string;
  auditId: string;
}

/**
 * Sets a scope and writes its audit event in one statement: both stores run it atomically, so a flip
 * is never without its audit row, nor an audit row without its flip.
 */
export async function flipKillSwitch(db: Db, flip: Flip): Promise<KillSwitchRow> {
  const result = await db.execute(sql`
    with flipped as (
      insert into ${killSwitches} (scope, active, reason, updated_by, updated_at)
      values (${flip.scope}, ${flip.active}, ${flip.reason}, ${flip.actor}, now())
      on conflict (scope) do update set active = excluded.active, reason = excluded.reason, updated_by = excluded.updated_by, updated_at = excluded.updated_at
      returning scope, active, reason, updated_by, updated_at
    ), audited as (
      insert into ${auditEvents} (id, ts, action, target, reason, actor, actor_kind, outcome)
      select ${flip.auditId}, updated_at, case when active then 'kill_switch.on' else 'kill_switch.off' end, scope, reason, updated_by, ${flip.actorKind}, 'applied'
      from flipped
      returning id
    )
    select scope, active, reason, updated_by as "updatedBy", updated_at as "updatedAt" from flipped`);
  const [row] = rowsOf<{ scope: string; active: boolean; reason: string; updatedBy: string; updatedAt: string | Date }>(result);
  if (!row) throw new Error("kill switch flip returned no row");
  return { ...row, updatedAt: new Date(row.updatedAt) };
}

/** Built once: every instance runs this several times a second, and building it through the query builder cost more than running it. */
const READ_KILL_SWITCHES = sql`select scope, active, reason, updated_by as "updatedBy", updated_at as "updatedAt" from kill_switches`;

export async function readKillSwitches(db: Db): Promise<KillSwitchRow[]> {
  const rows = rowsOf<Omit<KillSwitchRow, "updatedAt"> & { updatedAt: string | Date }>(await db.execute(READ_KILL_SWITCHES));
  return rows.map((row) => ({ ...row, updatedAt: new Date(row.updatedAt) }));
}


