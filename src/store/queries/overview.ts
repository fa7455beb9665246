import { sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { ledger, ledgerLatency, ledgerOutcomes } from "../schema/index.js";
import { filterSql, type LedgerFilters } from "./ledger-filters.js";
import { latencyBucketSql } from "./ledger-rollups.js";
import { GROUP_COLUMN, normalizeDecimal, stretchesSince, type SpendLine } from "./ledger.js";
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

export type LatencyKind = "latency" | "ttft";
export type Histograms = Record<LatencyKind, Map<number, number>>;

/** The per-line sums of calls grouped by endpoint, outcome and code, from rows of `ledger`. */
const OUTCOME_SUMS = sql`count(*) as requests, count(*) filter (where ${ledger.fallbacks} > 0) as fallback_requests,
  sum(${ledger.toolCalls}) as tool_calls, sum(${ledger.toolCallFailures}) as tool_call_failures, sum(${ledger.cost}) as cost`;

/** Every call since `since` by endpoint, outcome and error code, from the rollup. */
export async function outcomesSince(db: Db, since: Date): Promise<OutcomeLine[]> {
  const range = stretchesSince(since);
  const result = await db.execute(sql`
    select endpoint, outcome, code, sum(requests)::text as requests, sum(fallback_requests)::text as fallback_requests,
      sum(tool_calls)::text as tool_calls, sum(tool_call_failures)::text as tool_call_failures, sum(cost)::text as cost
    from (
      select ${ledgerOutcomes.endpoint} as endpoint, ${ledgerOutcomes.outcome} as outcome, ${ledgerOutcomes.code} as code, ${ledgerOutcomes.requests} as requests,
        ${ledgerOutcomes.fallbackRequests} as fallback_requests, ${ledgerOutcomes.toolCalls} as tool_calls, ${ledgerOutcomes.toolCallFailures} as tool_call_failures, ${ledgerOutcomes.cost} as cost
      from ${ledgerOutcomes}
      where ${range.wholes(sql`${ledgerOutcomes.grain}`, sql`${ledgerOutcomes.start}`)}
      union all
      select ${ledger.endpoint}, ${ledger.outcome}, coalesce(${ledger.errorCode}, ''), ${OUTCOME_SUMS}
      from ${ledger} where ${range.ledgerMinutes} group by 1, 2, 3
    ) as outcomes
    group by 1, 2, 3
    order by 1, 2, 3`);
  return rowsOf<Record<string, string>>(result).map(outcomeLine);
}

/** Latency and time-to-first-token histograms (see `ledgerLatency`) since `since`, from the rollup. */
export async function latencySince(db: Db, since: Date): Promise<Histograms> {
  const range = stretchesSince(since);
  const result = await db.execute(sql`
    select kind, bucket, sum(calls)::text as calls
    from (
      select ${ledgerLatency.kind} as kind, ${ledgerLatency.bucket} as bucket, ${ledgerLatency.calls} as calls
      from ${ledgerLatency}
      where ${range.wholes(sql`${ledgerLatency.grain}`, sql`${ledgerLatency.start}`)}
      union all
      select k.kind, ${sql.raw(latencyBucketSql("k.ms"))}, count(*)
      from ${ledger} cross join lateral (values ('latency', ${ledger.latencyMs}), ('ttft', ${ledger.ttftMs})) as k(kind, ms)
      where k.ms is not null and ${ledger.outcome} <> 'refused' and ${range.ledgerMinutes}
      group by 1, 2
    ) as buckets
    group by 1, 2`);
  return histogramsOf(rowsOf<{ kind: LatencyKind; bucket: number | string; calls: string }>(result));
}

export const TOP_DIMENSIONS = ["operation", "model", "user", "key"] as const;
export type TopDimension = (typeof TOP_DIMENSIONS)[number];

export interface NarrowedOverview {
  outcomes: OutcomeLine[];
  histograms: Histograms;
  /** The costliest values of each dimension among the matching calls, costliest first. */
  top: Record<TopDimension, SpendLine[]>;
}

/**
 * The overview of the calls that match the filters, in one statement: the matching ledger rows are
 * read once, through the index of a filter, and summed every way the overview needs. No rollup holds
 * the filters' combinations.
 */
export async function narrowedOverview(db: Db, since: Date, filters: LedgerFilters, topLines: number): Promise<NarrowedOverview> {
  const bucket = (column: string) => sql.raw(latencyBucketSql(column));
  const spendBy = (dimension: TopDimension) => sql`
    select ${dimension}, ${GROUP_COLUMN[dimension]}, null, count(*), count(*) filter (where ${ledger.outcome} <> 'success'),
      sum(${ledger.inputTokens}), sum(${ledger.outputTokens}), sum(${ledger.cost})::text
    from matched as ${ledger} group by 2`;
  // Each part reads the matched rows under the ledger's own name, so the column names the schema
  // gives (and GROUP_COLUMN's expressions) apply to them as they are.
  const result = await db.execute(sql`
    with matched as materialized (select * from ${ledger} where ${ledger.ts} >= ${since}${filterSql(filters)})
    select * from (
    select 'outcome' as part, ${ledger.endpoint} || '|' || ${ledger.outcome} as a, coalesce(${ledger.errorCode}, '') as b, count(*) as n,
      count(*) filter (where ${ledger.fallbacks} > 0) as m, sum(${ledger.toolCalls}) as x, sum(${ledger.toolCallFailures}) as y, sum(${ledger.cost})::text as cost
    from matched as ${ledger} group by 2, 3
    union all
    select 'latency', ${bucket('"ledger"."latency_ms"')}::text, null, count(*), null, null, null, null
    from matched as ${ledger} where ${ledger.outcome} <> 'refused' group by 2
    union all
    select 'ttft', ${bucket('"ledger"."ttft_ms"')}::text, null, count(*), null, null, null, null
    from matched as ${ledger} where ${ledger.outcome} <> 'refused' and ${ledger.ttftMs} is not null group by 2
    ${sql.join(TOP_DIMENSIONS.map((dimension) => sql` union all ${spendBy(dimension)}`), sql``)}
    ) as parts
    -- The top lists come out costliest first, as spendBy orders them.
    order by part, (case when part in ('operation', 'model', 'user', 'key') then cost::numeric end) desc nulls last, a`);
  const narrowed: NarrowedOverview = { outcomes: [], histograms: { latency: new Map(), ttft: new Map() }, top: { operation: [], model: [], user: [], key: [] } };
  for (const r of rowsOf<{ part: string; a: string; b: string | null; n: string; m: string | null; x: string | null; y: string | null; cost: string | null }>(result)) {
    if (r.part === "outcome") {
      const [endpoint = "", outcome = ""] = r.a.split("|");
      narrowed.outcomes.push(outcomeLine({ endpoint, outcome, code: r.b ?? "", requests: r.n, fallback_requests: r.m ?? "0", tool_calls: r.x ?? "0", tool_call_failures: r.y ?? "0", cost: r.cost ?? "0" }));
    } else if (r.part === "latency" || r.part === "ttft") {
      narrowed.histograms[r.part].set(Number(r.a), Number(r.n));
    } else if (narrowed.top[r.part as TopDimension].length < topLines) {
      narrowed.top[r.part as TopDimension].push({ group: r.a, requests: Number(r.n), errors: Number(r.m), inputTokens: Number(r.x), outputTokens: Number(r.y), cost: normalizeDecimal(String(r.cost)) });
    }
  }
  narrowed.outcomes.sort((p, q) => `${p.endpoint}|${p.outcome}|${p.code}`.localeCompare(`${q.endpoint}|${q.outcome}|${q.code}`));
  return narrowed;
}

function outcomeLine(r: Record<string, string>): OutcomeLine {
  return {
    endpoint: String(r.endpoint),
    outcome: String(r.outcome),
    code: String(r.code),
    requests: Number(r.requests),
    fallbackRequests: Number(r.fallback_requests),
    toolCalls: Number(r.tool_calls),
    toolCallFailures: Number(r.tool_call_failures),
    cost: normalizeDecimal(String(r.cost)),
  };
}

function histogramsOf(rows: Array<{ kind: LatencyKind; bucket: number | string; calls: string }>): Histograms {
  const histograms: Histograms = { latency: new Map(), ttft: new Map() };
  for (const r of rows) histograms[r.kind].set(Number(r.bucket), Number(r.calls));
  return histograms;
}
