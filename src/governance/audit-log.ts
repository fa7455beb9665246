import type { Principal } from "../auth/principal.js";
import { newId } from "../core/ids.js";
import type { Db } from "../store/database.js";
import { insertAuditEvent, recentAuditEvents, type AuditFilter } from "../store/queries/audit.js";
import type { AuditEventRow } from "../store/schema/index.js";

/** The append-only audit log, as the admin API and the gateway's direct changes use it. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  /** One row for a change an admin key made directly (a route, a price). */
  record(action: string, target: string, by: Pick<Principal, "keyId" | "kind">, details: Record<string, unknown>): Promise<unknown> {
    return insertAuditEvent(this.db, { id: newId("audit"), action, target, actor: by.keyId, actorKind: by.kind, outcome: "applied", details });
  }

  /** The newest events first. */
  recent(limit: number, filter?: AuditFilter): Promise<AuditEventRow[]> {
    return recentAuditEvents(this.db, limit, filter);
  }
}
