/*
 * What budgets tell the outside (their status, their events), apart from the budgets themselves and
 * free of the store: the library's public types name them, and a project that type-checks its
 * dependencies must not have to compile Drizzle's declarations.
 */

export type BudgetEventType = "budget.window_opened" | "budget.warning" | "budget.exhausted";

/** What the notification hook hears; change control sends these on to webhooks. */
export interface BudgetEvent {
  type: BudgetEventType;
  budget: string;
  scope: string;
  /** Absent for a global budget, as in GET /admin/budgets. */
  target?: string;
  windowStart: string;
  windowEnd: string;
  limit: string;
  spent?: string;
}

export interface BudgetStatus {
  name: string;
  scope: string;
  /** Absent for a global budget, as in what PUT /admin/budgets/:name takes. */
  target?: string;
  window: "daily" | "monthly";
  timezone: string;
  limit: string;
  warnAt: string | null;
  source: "config" | "admin";
  updatedAt: string;
  updatedBy: string | null;
  /** The window open now, when any call has opened it. */
  current: { start: string; end: string; spent: string; reserved: string; remaining: string; warned: boolean; exhausted: boolean } | null;
}
