import { numeric, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Spending limits, one row per budget. The config file's budgets are seeded here; an admin may add,
 * change or delete budgets through the admin API, and those changes stand until changed again.
 */
export const budgets = pgTable("budgets", {
  name: text("name").primaryKey(),
  scope: text("scope", { enum: ["key", "user", "team", "org", "operation", "global"] }).notNull(),
  /** The key id, user id, team id, org id or operation name the budget holds; empty for `global`. */
  target: text("target").notNull(),
  period: text("period", { enum: ["daily", "monthly"] }).notNull(),
  /** The IANA time zone whose midnight starts a window. */
  timezone: text("timezone").notNull(),
  /** USD, exact. */
  limitUsd: numeric("limit_usd", { precision: 24, scale: 12 }).notNull(),
  /** USD spent in a window past which one warning is raised. */
  warnUsd: numeric("warn_usd", { precision: 24, scale: 12 }),
  source: text("source", { enum: ["config", "admin"] }).notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedBy: text("updated_by"),
  /** Set when an admin deleted the budget: the row stays, so that the file's seed does not bring it back. */
  deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
});

/**
 * One row per budget and window: the counter every instance shares. `spent` moves only in the ledger
 * insert that records the spend, so it always equals the ledger's total for the window; `reserved`
 * is the sum of the allowances instances hold (budget_leases). A window opens once, by its key, and
 * that insert is the window's reset.
 */
export const budgetWindows = pgTable(
  "budget_windows",
  {
    budgetName: text("budget_name").notNull(),
    start: timestamp("start", { withTimezone: true, mode: "date" }).notNull(),
    end: timestamp("end", { withTimezone: true, mode: "date" }).notNull(),
    limitUsd: numeric("limit_usd", { precision: 24, scale: 12 }).notNull(),
    spent: numeric("spent", { precision: 24, scale: 12 }).notNull().default("0"),
    reserved: numeric("reserved", { precision: 24, scale: 12 }).notNull().default("0"),
    warnedAt: timestamp("warned_at", { withTimezone: true, mode: "date" }),
    exhaustedAt: timestamp("exhausted_at", { withTimezone: true, mode: "date" }),
    openedAt: timestamp("opened_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.budgetName, t.start] })],
);

/**
 * The allowance one instance holds from one window. It expires unless renewed, so an instance that
 * dies (SIGKILL, a lost host) gives its allowance back to the window within a bounded time.
 */
export const budgetLeases = pgTable(
  "budget_leases",
  {
    budgetName: text("budget_name").notNull(),
    windowStart: timestamp("window_start", { withTimezone: true, mode: "date" }).notNull(),
    /** The instance: a random id per process start. */
    holder: text("holder").notNull(),
    amount: numeric("amount", { precision: 24, scale: 12 }).notNull().default("0"),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.budgetName, t.windowStart, t.holder] })],
);

export type BudgetRow = typeof budgets.$inferSelect;
export type BudgetWindowRow = typeof budgetWindows.$inferSelect;
