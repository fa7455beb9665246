CREATE TABLE "ledger_latency" (
	"kind" text NOT NULL,
	"grain" text NOT NULL,
	"start" timestamp with time zone NOT NULL,
	"bucket" smallint NOT NULL,
	"calls" bigint NOT NULL,
	CONSTRAINT "ledger_latency_kind_grain_start_bucket_pk" PRIMARY KEY("kind","grain","start","bucket")
);
--> statement-breakpoint
CREATE TABLE "ledger_outcomes" (
	"grain" text NOT NULL,
	"start" timestamp with time zone NOT NULL,
	"endpoint" text NOT NULL,
	"outcome" text NOT NULL,
	"code" text NOT NULL,
	"requests" bigint NOT NULL,
	"fallback_requests" bigint NOT NULL,
	"tool_calls" bigint NOT NULL,
	"tool_call_failures" bigint NOT NULL,
	"cost" numeric(30, 12) NOT NULL,
	CONSTRAINT "ledger_outcomes_grain_start_endpoint_outcome_code_pk" PRIMARY KEY("grain","start","endpoint","outcome","code")
);
--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "tool_calls" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "tool_call_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "ledger_model_ts_idx" ON "ledger" USING btree ("model","ts");--> statement-breakpoint
CREATE INDEX "ledger_user_ts_idx" ON "ledger" USING btree (coalesce("end_user", "user_id"),"ts");--> statement-breakpoint
-- Rows written before these rollups existed are folded in once, by the statements the ledger insert runs from now on.
insert into ledger_outcomes (grain, start, endpoint, outcome, code, requests, fallback_requests, tool_calls, tool_call_failures, cost)
select g.grain, date_trunc(g.grain, l.ts, 'UTC'), l.endpoint, l.outcome, coalesce(l.error_code, ''), count(*), count(*) filter (where l.fallbacks > 0),
  sum(l.tool_calls), sum(l.tool_call_failures), sum(l.cost)
from "ledger" l cross join (values ('hour'), ('day')) as g(grain)
group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
on conflict (grain, start, endpoint, outcome, code) do update set
  requests = ledger_outcomes.requests + excluded.requests, fallback_requests = ledger_outcomes.fallback_requests + excluded.fallback_requests,
  tool_calls = ledger_outcomes.tool_calls + excluded.tool_calls, tool_call_failures = ledger_outcomes.tool_call_failures + excluded.tool_call_failures,
  cost = ledger_outcomes.cost + excluded.cost;--> statement-breakpoint
insert into ledger_latency (kind, grain, start, bucket, calls)
select k.kind, g.grain, date_trunc(g.grain, l.ts, 'UTC'), least(160, ceil(8 * ln(greatest(k.ms, 1)::float8) / ln(2::float8)))::smallint, count(*)
from "ledger" l cross join (values ('hour'), ('day')) as g(grain) cross join lateral (values ('latency', l.latency_ms), ('ttft', l.ttft_ms)) as k(kind, ms)
where k.ms is not null and l.outcome <> 'refused'
group by 1, 2, 3, 4 order by 1, 2, 3, 4
on conflict (kind, grain, start, bucket) do update set calls = ledger_latency.calls + excluded.calls;