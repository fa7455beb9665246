ALTER TABLE "ledger" ADD COLUMN "audio_input_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "ledger" ADD COLUMN "audio_output_tokens" integer DEFAULT 0 NOT NULL;