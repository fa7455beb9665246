DROP INDEX "execution_runs_status_idx";--> statement-breakpoint
CREATE INDEX "directives_created_idx" ON "directives" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "directives_status_created_idx" ON "directives" USING btree ("status","created_at","id");--> statement-breakpoint
CREATE INDEX "execution_runs_created_idx" ON "execution_runs" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "execution_runs_status_idx" ON "execution_runs" USING btree ("status","created_at","id");