import type { Principal } from "../auth/principal.js";
import { newId } from "../core/ids.js";
import type { Db } from "../store/database.js";
import { insertAuditEvent, recentAuditEvents, type AuditFilter } from "../store/queries/audit.js";
import type { AuditEventRow } from "../store/schema/index.js";
import { normalizeDecimal } from "../store/queries/ledger.js";

/** The append-only audit log, as the admin API and the gateway's direct changes use it. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  /** One row for a change an admin key made directly (a route, a price). */
  record(action: string, target: string, by: Pick<Principal, "keyId" | "kind">, details: Record<string, unknown>): Promise<unknown> {
    return insertAuditEvent(this.db, { id: newId("audit"), action, target, actor: by.keyId, actorKind: by.kind, outcome: "applied", details });
  }

  /** The newest events first. */
  async recent(limit: number, filter?: AuditFilter): Promise<AuditEventRow[]> {
    const rows = await recentAuditEvents(this.db, limit, filter);
    return rows.map((row) => ({ ...row, details: unpadded(row.details) as AuditEventRow["details"] }));
  }
}

/** Fields whose values the store writes from its money columns, padded to their twelve places. */
const MONEY_FIELDS = new Set(["limit", "warnAt", "maxSpendUsd"]);
const DECIMAL = /^-?\d+\.\d+$/;

/**
 * An event's details with money written as every answer writes it ("4.5", not "4.500000000000"). Details
 * record what a column held at the time (a budget's limit before a change, a grant's spend limit); the
 * places are the column's, not the event's, so they are trimmed where the details are read, for rows old
 * and new alike.
 */
function unpadded(value: unknown, field = ""): unknown {
  if (typeof value === "string") return MONEY_FIELDS.has(field) && DECIMAL.test(value) ? normalizeDecimal(value) : value;
  if (Array.isArray(value)) return value.map((item) => unpadded(item, field));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, unpadded(item, key)]));
  return value;
}
