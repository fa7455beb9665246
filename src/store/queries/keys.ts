import { eq, isNull, and } from "drizzle-orm";
import type { Db } from "../database.js";
import { apiKeys, type ApiKeyRow, type NewApiKeyRow } from "../schema/index.js";

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
