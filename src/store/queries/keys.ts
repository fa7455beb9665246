import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { apiKeys, dashboardSignOuts, type ApiKeyRow, type NewApiKeyRow } from "../schema/index.js";

export async function insertKey(db: Db, row: NewApiKeyRow): Promise<ApiKeyRow> {
  const [inserted] = await db.insert(apiKeys).values(row).returning();
  if (!inserted) throw new Error("insert returned no row");
  return inserted;
}

export function listKeys(db: Db): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).orderBy(apiKeys.createdAt);
}

export function activeKeys(db: Db): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).where(isNull(apiKeys.revokedAt));
}

/** Returns the revoked row, or undefined when there is no such active key. */
export async function revokeKey(db: Db, id: string, at: Date): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: at })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning();
  return row;
}

/** Records a dashboard sign-out, and forgets those whose sessions have expired since. */
export async function insertSignOut(db: Db, session: string, expiresAt: Date): Promise<void> {
  await db.execute(sql`
    with expired as (delete from ${dashboardSignOuts} where expires_at < now())
    insert into ${dashboardSignOuts} (session, expires_at) values (${session}, ${expiresAt}) on conflict do nothing`);
}

/** The sessions signed out of that have not expired yet. */
export async function liveSignOuts(db: Db): Promise<string[]> {
  const rows = await db.select({ session: dashboardSignOuts.session }).from(dashboardSignOuts).where(gt(dashboardSignOuts.expiresAt, sql`now()`));
  return rows.map((row) => row.session);
}
