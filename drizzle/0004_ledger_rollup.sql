CREATE TABLE "ledger_rollup" (
	"dimension" text NOT NULL,
	"grain" text NOT NULL,
	"start" timestamp with time zone NOT NULL,
	"value" text NOT NULL,
	"requests" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"input_tokens" bigint NOT NULL,
	"output_tokens" bigint NOT NULL,
	"cost" numeric(30, 12) NOT NULL,
	CONSTRAINT "ledger_rollup_dimension_grain_start_value_pk" PRIMARY KEY("dimension","grain","start","value")
);
--> statement-breakpoint
-- Rows written before the rollup existed are folded in once, as the ledger insert does from now on:
-- each dimension's hours from the ledger (one small aggregate per scan), then the days from the hours,
-- each written in key order so that a report's range of hours sits on neighbouring pages.
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT 'total', 'hour', date_trunc('hour', "ts", 'UTC'), '', count(*), count(*) FILTER (WHERE "outcome" <> 'success'),
       sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger" GROUP BY 3, 4 ORDER BY 3, 4;
--> statement-breakpoint
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT 'operation', 'hour', date_trunc('hour', "ts", 'UTC'), coalesce("operation", '(none)'), count(*), count(*) FILTER (WHERE "outcome" <> 'success'),
       sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger" GROUP BY 3, 4 ORDER BY 3, 4;
--> statement-breakpoint
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT 'model', 'hour', date_trunc('hour', "ts", 'UTC'), coalesce("model", '(none)'), count(*), count(*) FILTER (WHERE "outcome" <> 'success'),
       sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger" GROUP BY 3, 4 ORDER BY 3, 4;
--> statement-breakpoint
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT 'provider', 'hour', date_trunc('hour', "ts", 'UTC'), coalesce("provider", '(none)'), count(*), count(*) FILTER (WHERE "outcome" <> 'success'),
       sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger" GROUP BY 3, 4 ORDER BY 3, 4;
--> statement-breakpoint
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT 'user', 'hour', date_trunc('hour', "ts", 'UTC'), coalesce("end_user", "user_id", '(none)'), count(*), count(*) FILTER (WHERE "outcome" <> 'success'),
       sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger" GROUP BY 3, 4 ORDER BY 3, 4;
--> statement-breakpoint
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT 'team', 'hour', date_trunc('hour', "ts", 'UTC'), coalesce("team_id", '(none)'), count(*), count(*) FILTER (WHERE "outcome" <> 'success'),
       sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger" GROUP BY 3, 4 ORDER BY 3, 4;
--> statement-breakpoint
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT 'key', 'hour', date_trunc('hour', "ts", 'UTC'), coalesce("key_id", '(none)'), count(*), count(*) FILTER (WHERE "outcome" <> 'success'),
       sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger" GROUP BY 3, 4 ORDER BY 3, 4;
--> statement-breakpoint
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT "dimension", 'day', date_trunc('day', "start", 'UTC'), "value", sum("requests"), sum("errors"), sum("input_tokens"), sum("output_tokens"), sum("cost")
FROM "ledger_rollup" WHERE "grain" = 'hour' GROUP BY 1, 3, 4 ORDER BY 1, 3, 4;
