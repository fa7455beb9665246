CREATE TABLE "kill_switches" (
	"scope" text PRIMARY KEY NOT NULL,
	"active" boolean NOT NULL,
	"reason" text NOT NULL,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" text PRIMARY KEY NOT NULL,
	"ts" timestamp with time zone DEFAULT now() NOT NULL,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"reason" text,
	"actor" text NOT NULL,
	"actor_kind" text NOT NULL,
	"outcome" text NOT NULL,
	"details" jsonb
);
--> statement-breakpoint
CREATE INDEX "audit_events_ts_idx" ON "audit_events" USING btree ("ts");