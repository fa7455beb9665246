/**
 * The statements that keep the dashboard's rollups (`ledger_outcomes`, `ledger_latency`; see
 * schema/rollup.ts) from a set of ledger rows named `l`. The ledger insert runs them over the rows it
 * inserted, in the same statement; migration 0016 ran them once over the rows already there.
 */

/** The histogram bucket of a duration in milliseconds: eight per doubling, 160 (about 18 minutes and more) the last. */
export function latencyBucketSql(ms: string): string {
  return `least(160, ceil(8 * ln(greatest(${ms}, 1)::float8) / ln(2::float8)))::smallint`;
}

const GRAINS = `(values ('hour'), ('day')) as g(grain)`;

/**
 * Rows are first summed by hour and key, then spread over the grains: a batch's rows share a few
 * keys, so the grains multiply a handful of sums rather than every row (measured in PGlite: a batch
 * of 500 alike calls sorted 2,000 rows for the latency rollup, 8 ms of a 39 ms insert).
 */
const BY_HOUR = `select date_trunc('hour', l.ts, 'UTC') as hour`;

export function outcomesRollupSql(source: string): string {
  return `insert into ledger_outcomes (grain, start, endpoint, outcome, code, requests, fallback_requests, tool_calls, tool_call_failures, cost)
select g.grain, date_trunc(g.grain, h.hour, 'UTC'), h.endpoint, h.outcome, h.code, sum(h.requests), sum(h.fallback_requests),
  sum(h.tool_calls), sum(h.tool_call_failures), sum(h.cost)
from (${BY_HOUR}, l.endpoint, l.outcome, coalesce(l.error_code, '') as code, count(*) as requests, count(*) filter (where l.fallbacks > 0) as fallback_requests,
    sum(l.tool_calls) as tool_calls, sum(l.tool_call_failures) as tool_call_failures, sum(l.cost) as cost
  from ${source} l group by 1, 2, 3, 4) h cross join ${GRAINS}
group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
on conflict (grain, start, endpoint, outcome, code) do update set
  requests = ledger_outcomes.requests + excluded.requests, fallback_requests = ledger_outcomes.fallback_requests + excluded.fallback_requests,
  tool_calls = ledger_outcomes.tool_calls + excluded.tool_calls, tool_call_failures = ledger_outcomes.tool_call_failures + excluded.tool_call_failures,
  cost = ledger_outcomes.cost + excluded.cost`;
}

export function latencyRollupSql(source: string): string {
  return `insert into ledger_latency (kind, grain, start, bucket, calls)
select h.kind, g.grain, date_trunc(g.grain, h.hour, 'UTC'), h.bucket, sum(h.calls)
from (${BY_HOUR}, k.kind, ${latencyBucketSql("k.ms")} as bucket, count(*) as calls
  from ${source} l cross join lateral (values ('latency', l.latency_ms), ('ttft', l.ttft_ms)) as k(kind, ms)
  where k.ms is not null and l.outcome <> 'refused' group by 1, 2, 3) h cross join ${GRAINS}
group by 1, 2, 3, 4 order by 1, 2, 3, 4
on conflict (kind, grain, start, bucket) do update set calls = ledger_latency.calls + excluded.calls`;
}
