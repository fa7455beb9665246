import { sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { PagePosition } from "../../core/page-cursor.js";

/** A row's place in a list kept newest first: its created_at in whole microseconds, as text (a bigint). */
export function createdMicrosOf(createdAt: AnyColumn): SQL<string> {
  return sql<string>`(extract(epoch from ${createdAt}) * 1000000)::bigint::text`;
}

/** The rows after `position` in a list ordered by (created_at, id) descending. */
export function olderThan(createdAt: AnyColumn, id: AnyColumn, position: PagePosition): SQL {
  const at = sql`timestamptz 'epoch' + ${position.createdMicros}::bigint * interval '1 microsecond'`;
  return sql`(${createdAt}, ${id}) < (${at}, ${position.id})`;
}
