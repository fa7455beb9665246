ALTER TABLE "webhook_deliveries" ADD COLUMN "resent_from" text;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_created_idx" ON "webhook_deliveries" USING btree ("created_at","id");