CREATE TABLE "routes" (
	"name" text PRIMARY KEY NOT NULL,
	"definition" jsonb NOT NULL,
	"source" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "fallbacks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "route_reason" text;