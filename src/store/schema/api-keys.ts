import { index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** API keys, stored as a SHA-256 hash of the secret: the secret itself is shown once and never kept. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["admin", "user", "service", "agent"] }).notNull(),
    keyHash: text("key_hash").notNull().unique(),
    /** The first characters of the key, so people can tell keys apart without the secret. */
    keyPrefix: text("key_prefix").notNull(),
    userId: text("user_id"),
    teamId: text("team_id"),
    orgId: text("org_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    /** When the key stops working by itself; null for a key that lasts until it is revoked. */
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    /** The only catalog models the key's calls may be served by; null for every model the org allows. */
    models: text("models").array(),
  },
  (t) => [index("api_keys_user_idx").on(t.userId)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type NewApiKeyRow = typeof apiKeys.$inferInsert;
