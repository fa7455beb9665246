CREATE TABLE "prices" (
	"model" text NOT NULL,
	"effective_from" timestamp with time zone NOT NULL,
	"price" jsonb NOT NULL,
	"origin" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text,
	CONSTRAINT "prices_model_effective_from_pk" PRIMARY KEY("model","effective_from")
);
