import { pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Dashboard sessions ended by signing out, until they would have expired anyway. Sessions are signed
 * cookies that need no table to verify, so without this a copied cookie outlived its sign-out.
 */
export const dashboardSignOuts = pgTable("dashboard_sign_outs", {
  /** `<key id>.<expiry>`: the signed part of the cookie, without its signature. */
  session: text("session").primaryKey(),
  expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
});
