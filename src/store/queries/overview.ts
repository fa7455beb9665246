import { sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { ledger, ledgerLatency, ledgerOutcomes } from "../schema/index.js";
import { filterSql, isFiltered, type LedgerFilters } from "./ledger-filters.js";
import { latencyBucketSql } from "./ledger-rollups.js";
import { nextWhole, normalizeDecimal } from "./ledger.js";
import { rowsOf } from "./rows.js";

export interface OutcomeLine {
  endpoint: string;
  outcome: string;
  /** The error code; empty for a success. */
  code: string;
  requests: number;
  fallbackRequests: number;
  toolCalls: number;
  toolCallFailures: number;
  /** USD, exact decimal string. */
  cost: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * The stretches a report since `since` reads: whole days from the daily rollup, the whole hours
 * before them from the hourly one, and the minutes before the first whole hour from the ledger.
 */
function stretches(since: Date) {
  const hoursFrom = nextWhole(since, HOUR_MS);
  const daysFrom = nextWhole(since, DAY_MS);
  return {
    rollup: (grain: SQL, start: SQL) => sql`((${grain} = 'day' and ${start} >= ${daysFrom}) or (${grain} = 'hour' and ${start} >= ${hoursFrom} and ${start} < ${daysFrom}))`,
    ledgerUntil: hoursFrom,
  };
}

/** Calls since `since` by endpoint, outcome and error code. */
export async function outcomesSince(db: Db, since: Date, filters?: LedgerFilters): Promise<OutcomeLine[]> {
  const fromLedger = (until: Date | undefined) => sql`
    select ${ledger.endpoint} as endpoint, ${ledger.outcome} as outcome, coalesce(${ledger.errorCode}, '') as code, count(*) as requests,
      count(*) filter (where ${ledger.fallbacks} > 0) as fallback_requests, sum(${ledger.toolCalls}) as tool_calls,
      sum(${ledger.toolCallFailures}) as tool_call_failures, sum(${ledger.cost}) as cost
    from ${ledger}
    where ${ledger.ts} >= ${since}${until ? sql` and ${ledger.ts} < ${until}` : sql``}${filterSql(filters)}
    group by 1, 2, 3`;
  let source: SQL;
  if (isFiltered(filters)) {
    source = fromLedger(undefined);
  } else {
    const range = stretches(since);
    source = sql`
      select ${ledgerOutcomes.endpoint}, ${ledgerOutcomes.outcome}, ${ledgerOutcomes.code}, ${ledgerOutcomes.requests}, ${ledgerOutcomes.fallbackRequests},
        ${ledgerOutcomes.toolCalls}, ${ledgerOutcomes.toolCallFailures}, ${ledgerOutcomes.cost}
      from ${ledgerOutcomes}
      where ${range.rollup(sql`${ledgerOutcomes.grain}`, sql`${ledgerOutcomes.start}`)}
      union all ${fromLedger(range.ledgerUntil)}`;
  }
  const result = await db.execute(sql`
    select endpoint, outcome, code, sum(requests)::text as requests, sum(fallback_requests)::text as fallback_requests,
      sum(tool_calls)::text as tool_calls, sum(tool_call_failures)::text as tool_call_failures, sum(cost)::text as cost
    from (${source}) as outcomes
    group by 1, 2, 3
    order by 1, 2, 3`);
  return rowsOf<Record<string, string>>(result).map((r) => ({
    endpoint: String(r.endpoint),
    outcome: String(r.outcome),
    code: String(r.code),
    requests: Number(r.requests),
    fallbackRequests: Number(r.fallback_requests),
    toolCalls: Number(r.tool_calls),
    toolCallFailures: Number(r.tool_call_failures),
    cost: normalizeDecimal(String(r.cost)),
  }));
}

export type LatencyKind = "latency" | "ttft";

/** Histogram buckets (see `ledgerLatency`) since `since` of the calls that reached a provider: calls per bucket, for latency and time to first token. */
export async function latencySince(db: Db, since: Date, filters?: LedgerFilters): Promise<Record<LatencyKind, Map<number, number>>> {
  const fromLedger = (until: Date | undefined) => sql`
    select k.kind, ${sql.raw(latencyBucketSql("k.ms"))} as bucket, count(*) as calls
    from ${ledger} cross join lateral (values ('latency', ${ledger.latencyMs}), ('ttft', ${ledger.ttftMs})) as k(kind, ms)
    where k.ms is not null and ${ledger.outcome} <> 'refused' and ${ledger.ts} >= ${since}${until ? sql` and ${ledger.ts} < ${until}` : sql``}${filterSql(filters)}
    group by 1, 2`;
  let source: SQL;
  if (isFiltered(filters)) {
    source = fromLedger(undefined);
  } else {
    const range = stretches(since);
    source = sql`
      select ${ledgerLatency.kind}, ${ledgerLatency.bucket}, ${ledgerLatency.calls}
      from ${ledgerLatency}
      where ${range.rollup(sql`${ledgerLatency.grain}`, sql`${ledgerLatency.start}`)}
      union all ${fromLedger(range.ledgerUntil)}`;
  }
  const result = await db.execute(sql`select kind, bucket, sum(calls)::text as calls from (${source}) as buckets group by 1, 2 order by 1, 2`);
  const histograms: Record<LatencyKind, Map<number, number>> = { latency: new Map(), ttft: new Map() };
  for (const r of rowsOf<{ kind: LatencyKind; bucket: number | string; calls: string }>(result)) histograms[r.kind].set(Number(r.bucket), Number(r.calls));
  return histograms;
}
