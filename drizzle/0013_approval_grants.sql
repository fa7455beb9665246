CREATE TABLE "approval_grants" (
	"id" text PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"operation" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"max_calls" integer,
	"max_spend_usd" numeric(24, 12),
	"calls_used" integer DEFAULT 0 NOT NULL,
	"spend_used" numeric(24, 12) DEFAULT '0' NOT NULL,
	"last_used_at" timestamp with time zone,
	"granted_by" text NOT NULL,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "approval_grants_key_operation_idx" ON "approval_grants" USING btree ("key_id","operation");