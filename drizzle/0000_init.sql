CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"key_hash" text NOT NULL,
	"key_prefix" text NOT NULL,
	"user_id" text,
	"team_id" text,
	"org_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "ledger" (
	"id" text PRIMARY KEY NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"request_id" text NOT NULL,
	"trace_id" text,
	"key_id" text,
	"user_id" text,
	"team_id" text,
	"end_user" text,
	"session_id" text,
	"operation" text,
	"requested_model" text,
	"model" text,
	"provider" text,
	"endpoint" text NOT NULL,
	"stream" boolean DEFAULT false NOT NULL,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"cached_input_tokens" integer DEFAULT 0 NOT NULL,
	"cache_write_tokens" integer DEFAULT 0 NOT NULL,
	"reasoning_tokens" integer DEFAULT 0 NOT NULL,
	"cost" numeric(24, 12) NOT NULL,
	"provider_cost" numeric(24, 12),
	"price_missing" boolean DEFAULT false NOT NULL,
	"usage_estimated" boolean DEFAULT false NOT NULL,
	"latency_ms" integer NOT NULL,
	"ttft_ms" integer,
	"outcome" text NOT NULL,
	"error_code" text,
	"http_status" integer NOT NULL,
	"attempt_count" integer DEFAULT 0 NOT NULL,
	"attempts" jsonb DEFAULT '[]'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "api_keys_user_idx" ON "api_keys" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "ledger_ts_idx" ON "ledger" USING btree ("ts");--> statement-breakpoint
CREATE INDEX "ledger_operation_ts_idx" ON "ledger" USING btree ("operation","ts");--> statement-breakpoint
CREATE INDEX "ledger_key_ts_idx" ON "ledger" USING btree ("key_id","ts");