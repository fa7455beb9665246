import { sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, featureToggles, type FeatureToggleRow } from "../schema/index.js";
import { rowsOf } from "./rows.js";

export type NewToggle = Pick<FeatureToggleRow, "name" | "enabled" | "locked" | "controlledBy" | "notes">;

/** Adds the toggles that do not exist yet; existing ones keep their state. */
export async function seedToggles(db: Db, toggles: readonly NewToggle[]): Promise<void> {
  if (toggles.length === 0) return;
  await db
    .insert(featureToggles)
    .values(toggles.map((t) => ({ ...t, updatedBy: "seed" })))
    .onConflictDoNothing({ target: featureToggles.name });
}

export function readToggles(db: Db): Promise<FeatureToggleRow[]> {
  return db.select().from(featureToggles);
}

export interface ToggleWrite extends NewToggle {
  actor: string;
  actorKind: string;
  auditId: string;
  action: string;
}

/** Creates or changes a toggle and writes its audit event in one statement, atomic on both stores. */
export async function writeToggle(db: Db, write: ToggleWrite): Promise<FeatureToggleRow> {
  const result = await db.execute(sql`
    with written as (
      insert into ${featureToggles} (name, enabled, locked, controlled_by, notes, updated_at, updated_by)
      values (${write.name}, ${write.enabled}, ${write.locked}, ${write.controlledBy}, ${write.notes}, now(), ${write.actor})
      on conflict (name) do update set enabled = excluded.enabled, locked = excluded.locked, controlled_by = excluded.controlled_by,
        notes = excluded.notes, updated_at = excluded.updated_at, updated_by = excluded.updated_by
      returning *
    ), audited as (
      insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
      select ${write.auditId}, updated_at, ${write.action}, name, updated_by, ${write.actorKind}, 'applied',
        jsonb_build_object('enabled', enabled, 'locked', locked, 'controlledBy', controlled_by)
      from written
      returning id
    )
    select name, enabled, locked, controlled_by as "controlledBy", notes, updated_at as "updatedAt", updated_by as "updatedBy" from written`);
  const [row] = rowsOf<Omit<FeatureToggleRow, "updatedAt"> & { updatedAt: string | Date }>(result);
  if (!row) throw new Error("toggle write returned no row");
  return { ...row, updatedAt: new Date(row.updatedAt) };
}
