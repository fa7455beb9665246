CREATE TABLE "change_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	"category" text NOT NULL,
	"status" text NOT NULL,
	"current" jsonb,
	"proposed" jsonb NOT NULL,
	"estimated_savings_usd" numeric(24, 12),
	"quality_impact" text,
	"confidence" numeric(4, 3),
	"reasoning" text,
	"requested_by" text NOT NULL,
	"requested_by_kind" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"decision_note" text,
	"applied_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "change_requests_status_idx" ON "change_requests" USING btree ("status","requested_at");--> statement-breakpoint
-- Append-only tables (the audit log here, artifacts later): whatever role the application connects with, no statement changes or removes a row.
CREATE FUNCTION "refuse_row_changes"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_events_no_update_or_delete" BEFORE UPDATE OR DELETE ON "audit_events" FOR EACH STATEMENT EXECUTE FUNCTION "refuse_row_changes"();
--> statement-breakpoint
CREATE TRIGGER "audit_events_no_truncate" BEFORE TRUNCATE ON "audit_events" FOR EACH STATEMENT EXECUTE FUNCTION "refuse_row_changes"();
