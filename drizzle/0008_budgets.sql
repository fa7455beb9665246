CREATE TABLE "budget_leases" (
	"budget_name" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"holder" text NOT NULL,
	"amount" numeric(24, 12) DEFAULT '0' NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "budget_leases_budget_name_window_start_holder_pk" PRIMARY KEY("budget_name","window_start","holder")
);
--> statement-breakpoint
CREATE TABLE "budget_windows" (
	"budget_name" text NOT NULL,
	"start" timestamp with time zone NOT NULL,
	"end" timestamp with time zone NOT NULL,
	"limit_usd" numeric(24, 12) NOT NULL,
	"spent" numeric(24, 12) DEFAULT '0' NOT NULL,
	"reserved" numeric(24, 12) DEFAULT '0' NOT NULL,
	"warned_at" timestamp with time zone,
	"exhausted_at" timestamp with time zone,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "budget_windows_budget_name_start_pk" PRIMARY KEY("budget_name","start")
);
--> statement-breakpoint
CREATE TABLE "budgets" (
	"name" text PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"target" text NOT NULL,
	"period" text NOT NULL,
	"timezone" text NOT NULL,
	"limit_usd" numeric(24, 12) NOT NULL,
	"warn_usd" numeric(24, 12),
	"source" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "budget_charges" jsonb;