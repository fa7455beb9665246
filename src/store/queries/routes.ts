import { eq, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { routes, type RouteRow } from "../schema/index.js";

export function allRoutes(db: Db): Promise<RouteRow[]> {
  return db.select().from(routes).orderBy(routes.name);
}

export async function upsertRoute(db: Db, row: Omit<RouteRow, "updatedAt">, at: Date): Promise<RouteRow> {
  const [saved] = await db
    .insert(routes)
    .values({ ...row, updatedAt: at })
    .onConflictDoUpdate({ target: routes.name, set: { definition: row.definition, source: row.source, updatedBy: row.updatedBy, updatedAt: at } })
    .returning();
  if (!saved) throw new Error("upsert returned no row");
  return saved;
}

export async function deleteRoute(db: Db, name: string): Promise<boolean> {
  const deleted = await db.delete(routes).where(eq(routes.name, name)).returning({ name: routes.name });
  return deleted.length > 0;
}

/**
 * Brings the config's operations into the store: new ones are inserted, ones the file changed are
 * updated, and ones the file dropped are deleted, unless an admin changed them (an admin version stands
 * until it is deleted through the admin API). One statement, so it is atomic on either engine.
 */
export async function seedRoutes(db: Db, fromConfig: ReadonlyMap<string, Record<string, unknown>>, at: Date): Promise<void> {
  const incoming = JSON.stringify([...fromConfig].map(([name, definition]) => ({ name, definition })));
  await db.execute(sql`
    with incoming as (select * from json_to_recordset(${incoming}::json) as r(name text, definition jsonb)),
    dropped as (delete from ${routes} where source = 'config' and name not in (select name from incoming)),
    seeded as (
      insert into ${routes} (name, definition, source, updated_at)
      select name, definition, 'config', ${at.toISOString()}::timestamptz from incoming
      on conflict (name) do update set definition = excluded.definition, updated_at = excluded.updated_at
      where ${routes}.source = 'config' and ${routes}.definition is distinct from excluded.definition
    )
    select 1`);
}
