import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { ledger, ledgerRollup } from "../schema/index.js";
import { SPEND_GROUPS, type SpendGroup } from "../spend-groups.js";
import { GROUP_COLUMN, normalizeDecimal, stretchesSince } from "./ledger.js";
import { filterSql, isFiltered, type LedgerFilters } from "./ledger-filters.js";
import { rowsOf } from "./rows.js";

export type SeriesGrain = "hour" | "day";
export type SeriesDimension = Exclude<SpendGroup, "day">;
export const SERIES_DIMENSIONS = SPEND_GROUPS.filter((group): group is SeriesDimension => group !== "day");

export interface SeriesPoint {
  /** The bucket's start, UTC, ISO 8601. */
  start: string;
  group: string;
  requests: number;
  errors: number;
  /** USD, exact decimal string. */
  cost: string;
}


/**
 * Spend over time, per hour or per day, split by one dimension (stacked in a chart). Like spendBy it
 * reads whole days and hours from the rollup and only the minutes before the first whole hour from
 * the ledger, so it stays fast on a large ledger and exact to the row.
 */
export async function spendSeries(db: Db, by: SeriesDimension, grain: SeriesGrain, since: Date, filters?: LedgerFilters): Promise<SeriesPoint[]> {
  const filtered = isFiltered(filters);
  const { hoursFrom, daysFrom, ledgerMinutes } = stretchesSince(since);
  const bucket = (moment: SQL) => sql`date_trunc(${grain}, ${moment} at time zone 'UTC')`;
  const rollup = (rollupGrain: "hour" | "day", from: Date, to: Date | undefined) => sql`
    select ${bucket(sql`${ledgerRollup.start}`)} as b, ${ledgerRollup.value} as grp, ${ledgerRollup.requests} as requests, ${ledgerRollup.errors} as errors, ${ledgerRollup.cost} as cost
    from ${ledgerRollup}
    where ${ledgerRollup.dimension} = ${by} and ${ledgerRollup.grain} = ${rollupGrain} and ${ledgerRollup.start} >= ${from}${to ? sql` and ${ledgerRollup.start} < ${to}` : sql``}`;
  // Per hour, every whole hour comes from the hourly rollup; per day, whole days from the daily one.
  // Filtered, every bucket comes from the ledger: no rollup holds the filters' combination.
  const wholes = filtered
    ? sql``
    : sql`${grain === "hour" ? rollup("hour", hoursFrom, undefined) : sql`${rollup("day", daysFrom, undefined)} union all ${rollup("hour", hoursFrom, daysFrom)}`} union all`;
  const result = await db.execute(sql`
    select to_char(b, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "start", grp as "group", sum(requests)::text as requests, sum(errors)::text as errors, sum(cost)::text as cost
    from (
      ${wholes}
      select ${bucket(sql`${ledger.ts}`)} as b, ${GROUP_COLUMN[by]} as grp, count(*) as requests, count(*) filter (where ${ledger.outcome} <> 'success') as errors, sum(${ledger.cost}) as cost
      from ${ledger}
      where ${filtered ? sql`${ledger.ts} >= ${since}${filterSql(filters)}` : ledgerMinutes}
      group by 1, 2
    ) as spend
    group by b, grp
    order by b, grp`);
  return rowsOf<{ start: string; group: string; requests: string; errors: string; cost: string }>(result).map((r) => ({
    start: String(r.start),
    group: String(r.group),
    requests: Number(r.requests),
    errors: Number(r.errors),
    cost: normalizeDecimal(String(r.cost)),
  }));
}
