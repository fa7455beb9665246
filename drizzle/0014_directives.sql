CREATE TABLE "artifacts" (
	"id" text PRIMARY KEY NOT NULL,
	"directive_id" text NOT NULL,
	"run_id" text,
	"type" text NOT NULL,
	"body" jsonb,
	"uri" text NOT NULL,
	"size_bytes" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "directives" (
	"id" text PRIMARY KEY NOT NULL,
	"role" text NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"issued_by" text NOT NULL,
	"issued_by_kind" text NOT NULL,
	"objective" text NOT NULL,
	"scope" text NOT NULL,
	"constraints" jsonb NOT NULL,
	"success_metrics" jsonb NOT NULL,
	"budget" text,
	"timebox_seconds" integer,
	"status" text NOT NULL,
	"blocked_reasons" jsonb,
	"approved_by" text,
	"human_override" boolean,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"proposed_at" timestamp with time zone,
	"approved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "artifacts_directive_idx" ON "artifacts" USING btree ("directive_id","created_at");--> statement-breakpoint
CREATE INDEX "artifacts_type_idx" ON "artifacts" USING btree ("type","created_at");--> statement-breakpoint
CREATE INDEX "directives_status_idx" ON "directives" USING btree ("status","updated_at");--> statement-breakpoint
CREATE INDEX "directives_role_idx" ON "directives" USING btree ("role","created_at");--> statement-breakpoint
-- Artifacts are immutable (the function is migration 0010's).
CREATE TRIGGER "artifacts_no_update_or_delete" BEFORE UPDATE OR DELETE OR TRUNCATE ON "artifacts" FOR EACH STATEMENT EXECUTE FUNCTION "refuse_row_changes"();
