import { sql, type SQL } from "drizzle-orm";
import { ledger } from "../schema/index.js";
import { FILTER_NAMES, type LedgerFilters } from "../spend-groups.js";

export { FILTER_NAMES, type LedgerFilters } from "../spend-groups.js";

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
