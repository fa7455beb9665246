import { boolean, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The kill switch, one row per scope: `global`, or `operation:<name>`. A flip updates the row and
 * writes its audit event in one statement (see queries/kill-switch.ts).
 */
export const killSwitches = pgTable("kill_switches", {
  scope: text("scope").primaryKey(),
  active: boolean("active").notNull(),
  reason: text("reason").notNull(),
  /** The key id that flipped it. */
  updatedBy: text("updated_by").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

export type KillSwitchRow = typeof killSwitches.$inferSelect;
