import { and, desc, getTableColumns, sql, type AnyColumn, type InferSelectModel, type SQL } from "drizzle-orm";
import type { AnyPgColumn, PgTable } from "drizzle-orm/pg-core";
import type { PagePosition } from "../../core/page-cursor.js";
import type { Db } from "../database.js";

/** A row's place in a list kept newest first: its created_at in whole microseconds, as text (a bigint). */
export function createdMicrosOf(createdAt: AnyColumn): SQL<string> {
  return sql<string>`(extract(epoch from ${createdAt}) * 1000000)::bigint::text`;
}

/** The rows after `position` in a list ordered by (created_at, id) descending. */
export function olderThan(createdAt: AnyColumn, id: AnyColumn, position: PagePosition): SQL {
  const at = sql`timestamptz 'epoch' + ${position.createdMicros}::bigint * interval '1 microsecond'`;
  return sql`(${createdAt}, ${id}) < (${at}, ${position.id})`;
}

/** A table listed newest first, on (created_at, id). */
type ListedTable = PgTable & { createdAt: AnyPgColumn; id: AnyPgColumn };

/**
 * One page of `table` newest first, on (created_at, id) so that a page never skips nor repeats a row
 * (one that changes keeps its place): the rows matching `conditions` after `after`, each with its
 * place in the list for the next page's cursor.
 */
export function newestFirstPage<T extends ListedTable>(
  db: Db,
  table: T,
  conditions: SQL[],
  after: PagePosition | undefined,
  limit: number,
): Promise<Array<InferSelectModel<T> & { createdMicros: string }>> {
  const where = after ? [...conditions, olderThan(table.createdAt, table.id, after)] : conditions;
  const page = db
    .select({ ...getTableColumns(table), createdMicros: createdMicrosOf(table.createdAt) })
    .from(table as PgTable)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(table.createdAt), desc(table.id))
    .limit(limit);
  // Drizzle cannot follow a generic table's columns through select(); the columns are the table's own.
  return page as unknown as Promise<Array<InferSelectModel<T> & { createdMicros: string }>>;
}
