import { boolean, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Feature toggles: switches the application and its agents ask about, and that operations may require. */
export const featureToggles = pgTable("feature_toggles", {
  name: text("name").primaryKey(),
  enabled: boolean("enabled").notNull(),
  /** A locked toggle changes only through an admin key. */
  locked: boolean("locked").notNull(),
  /** Who besides admins may flip it: nobody (ADMIN_ONLY), user and service keys (USER), or those and agents (BOTH). */
  controlledBy: text("controlled_by", { enum: ["ADMIN_ONLY", "USER", "BOTH"] }).notNull(),
  notes: text("notes"),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedBy: text("updated_by"),
});

export type FeatureToggleRow = typeof featureToggles.$inferSelect;
