import { sql, type SQL } from "drizzle-orm";
import { ledger } from "../schema/index.js";

/**
 * What the dashboard narrows its panels to. Unfiltered, panels read the rollups; filtered, they read the
 * ledger through its indexes on operation, model and user (rollups of every combination would grow as
 * large as the ledger). `(none)` matches calls that had no such value.
 */
export interface LedgerFilters {
  operation?: string;
  model?: string;
  user?: string;
}

export const FILTER_NAMES = ["operation", "model", "user"] as const;

export function isFiltered(filters: LedgerFilters | undefined): filters is LedgerFilters {
  return filters !== undefined && FILTER_NAMES.some((name) => filters[name] !== undefined);
}

/** ` and …` for each filter, written so each matches its index: a plain column or the indexed expression. */
export function filterSql(filters: LedgerFilters | undefined): SQL {
  const parts: SQL[] = [];
  const match = (column: SQL, value: string | undefined) => {
    if (value === undefined) return;
    parts.push(value === "(none)" ? sql` and ${column} is null` : sql` and ${column} = ${value}`);
  };
  match(sql`${ledger.operation}`, filters?.operation);
  match(sql`${ledger.model}`, filters?.model);
  match(sql`coalesce(${ledger.endUser}, ${ledger.userId})`, filters?.user);
  return sql.join(parts, sql``);
}
