CREATE TABLE "rate_windows" (
	"limit_name" text NOT NULL,
	"subject" text NOT NULL,
	"unit" text NOT NULL,
	"start" timestamp with time zone NOT NULL,
	"granted" bigint DEFAULT 0 NOT NULL,
	"last_grant" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "rate_windows_limit_name_subject_unit_start_pk" PRIMARY KEY("limit_name","subject","unit","start")
);
