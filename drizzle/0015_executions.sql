CREATE TABLE "execution_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"directive_id" text NOT NULL,
	"module" text NOT NULL,
	"status" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"workflow_id" text NOT NULL,
	"executor_id" text NOT NULL,
	"module_status" text,
	"output" jsonb,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"duration_ms" integer
);
--> statement-breakpoint
CREATE TABLE "module_effects" (
	"idempotency_key" text PRIMARY KEY NOT NULL,
	"module" text NOT NULL,
	"result" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "execution_runs_directive_idx" ON "execution_runs" USING btree ("directive_id");--> statement-breakpoint
CREATE INDEX "execution_runs_status_idx" ON "execution_runs" USING btree ("status","created_at");