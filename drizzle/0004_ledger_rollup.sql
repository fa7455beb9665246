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
-- Rows written before the rollup existed: fold them in once, as the ledger insert does from now on.
INSERT INTO "ledger_rollup" ("dimension", "grain", "start", "value", "requests", "errors", "input_tokens", "output_tokens", "cost")
SELECT d.dimension, g.grain, date_trunc(g.grain, l."ts", 'UTC'), d.value, count(*), count(*) FILTER (WHERE l."outcome" <> 'success'),
       sum(l."input_tokens"), sum(l."output_tokens"), sum(l."cost")
FROM "ledger" l
CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
CROSS JOIN LATERAL (VALUES
  ('total', ''),
  ('operation', coalesce(l."operation", '(none)')),
  ('model', coalesce(l."model", '(none)')),
  ('provider', coalesce(l."provider", '(none)')),
  ('user', coalesce(l."end_user", l."user_id", '(none)')),
  ('team', coalesce(l."team_id", '(none)')),
  ('key', coalesce(l."key_id", '(none)'))
) AS d(dimension, value)
GROUP BY 1, 2, 3, 4;
