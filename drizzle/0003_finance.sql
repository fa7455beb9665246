CREATE TABLE "operating_costs" (
	"id" text PRIMARY KEY NOT NULL,
	"category" text NOT NULL,
	"amount" numeric(24, 12) NOT NULL,
	"period_start" date NOT NULL,
	"period_end" date NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text
);
--> statement-breakpoint
CREATE TABLE "revenue" (
	"id" text PRIMARY KEY NOT NULL,
	"strategy" text NOT NULL,
	"amount" numeric(24, 12) NOT NULL,
	"period_start" date NOT NULL,
	"period_end" date NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text
);
