CREATE TABLE "webhook_senders" (
	"instance" text PRIMARY KEY NOT NULL,
	"webhooks" jsonb NOT NULL,
	"seen_at" timestamp with time zone NOT NULL
);
