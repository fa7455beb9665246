CREATE TABLE "rate_limit_rules" (
	"name" text PRIMARY KEY NOT NULL,
	"definition" jsonb NOT NULL,
	"source" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text,
	"deleted_at" timestamp with time zone
);
