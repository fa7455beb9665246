import { desc } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, type AuditEventRow } from "../schema/index.js";

export function insertAuditEvent(db: Db, event: typeof auditEvents.$inferInsert): Promise<unknown> {
  return db.insert(auditEvents).values(event);
}

export function recentAuditEvents(db: Db, limit: number): Promise<AuditEventRow[]> {
  return db.select().from(auditEvents).orderBy(desc(auditEvents.ts), desc(auditEvents.id)).limit(limit);
}
