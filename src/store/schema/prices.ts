import { jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Price history: one row per model and moment a price took effect. Rows are only ever added, so a
 * change never rewrites the past; the price in force is the newest row that has taken effect. The
 * ledger keeps each call's cost as computed then, so old rows never depend on today's price.
 */
export const prices = pgTable(
  "prices",
  {
    /** The catalog id, `provider/model-id`. */
    model: text("model").notNull(),
    effectiveFrom: timestamp("effective_from", { withTimezone: true, mode: "date" }).notNull(),
    /** The price as config writes it: decimal strings per `per` tokens, and its long-context tiers (`above`). */
    price: jsonb("price").$type<StoredPrice>().notNull(),
    /** Where it came from: config, bundled (the shipped catalog), openrouter (a sync), admin. */
    origin: text("origin", { enum: ["config", "bundled", "openrouter", "admin"] }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** The key id behind an admin change. */
    createdBy: text("created_by"),
  },
  (t) => [primaryKey({ columns: [t.model, t.effectiveFrom] })],
);

export type PriceRow = typeof prices.$inferSelect;

/** A price as stored: its figures as decimal strings, `above` a list of tiers with a token count each. */
export type StoredPrice = Record<string, string | ReadonlyArray<Record<string, string | number>>>;
