import { and, desc, gte, like, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, type AuditEventRow } from "../schema/index.js";

export function insertAuditEvent(db: Db, event: typeof auditEvents.$inferInsert): Promise<unknown> {
  return db.insert(auditEvents).values(event);
}

export interface AuditFilter {
  since?: Date;
  /** An action, or a prefix of one ending in `.` (`change_request.`). */
  action?: string;
}

/** The newest events first. */
export function recentAuditEvents(db: Db, limit: number, filter: AuditFilter = {}): Promise<AuditEventRow[]> {
  const conditions: SQL[] = [];
  if (filter.since) conditions.push(gte(auditEvents.ts, filter.since));
  if (filter.action) conditions.push(like(auditEvents.action, filter.action.endsWith(".") ? `${escapeLike(filter.action)}%` : escapeLike(filter.action)));
  return db
    .select()
    .from(auditEvents)
    .where(conditions.length > 0 ? and(...conditions) : undefined)
    .orderBy(desc(auditEvents.ts), desc(auditEvents.id))
    .limit(limit);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
