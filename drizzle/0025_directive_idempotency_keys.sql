ALTER TABLE "directives" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "directives_idempotency_idx" ON "directives" USING btree ("issued_by","idempotency_key");