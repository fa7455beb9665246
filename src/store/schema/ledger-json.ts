/**
 * The shapes of the ledger's JSON columns. Apart from the table, and free of Drizzle, because the
 * library's public types (a failed call's attempts) name them: a project that type-checks its
 * dependencies must not have to compile Drizzle's declarations for every database it supports.
 */

/** One budget window's share of a call: `spent` is the call's cost, `released` the part of it the holder's lease covered. */
export interface BudgetCharge {
  budget: string;
  /** The window's start, ISO 8601. */
  window: string;
  holder: string;
  spent: string;
  released: string;
}

export interface LedgerAttempt {
  model: string;
  provider: string;
  outcome: "success" | "error";
  status?: number;
  /** Why the attempt failed: rate_limited, server_error, timeout, connection, client_error, disabled… */
  reason?: string;
  latencyMs: number;
  /** How long Airlock waited before starting this attempt. */
  delayMs: number;
  /** Set for the extra request that asked the model to fix output that did not match the schema. */
  purpose?: "repair";
}
