ALTER TABLE "ledger" ADD COLUMN "audio_seconds" numeric(14, 3);--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "characters" integer;