import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Operation routes. The config file seeds them (`source = config`); the admin API changes them
 * (`source = admin`), and an admin version outlives config reloads until it is deleted.
 */
export const routes = pgTable("routes", {
  name: text("name").primaryKey(),
  /** The operation's definition, as its config entry is written. */
  definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
  source: text("source", { enum: ["config", "admin"] }).notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  /** The key id that made an admin change. */
  updatedBy: text("updated_by"),
});

export type RouteRow = typeof routes.$inferSelect;
