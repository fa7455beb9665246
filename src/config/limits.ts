// Plain numbers, free of imports, so that the CLI can check its flags without loading the validators.

/** Names that appear in admin paths (`/admin/budgets/:name`): operations, budgets, rate limits, toggles, webhooks. */
export const NAME_MAX_LENGTH = 128;

/**
 * A name of dots alone (`.`, `..`) is refused where names are made: clients (fetch, curl) resolve such
 * a path segment away, so the name could never be read, changed or deleted through the admin API.
 */
export function isDotsOnly(name: string): boolean {
  return /^\.+$/.test(name);
}

/** Free-text labels a key carries (`user`, `team`, `org`): as long as an `x-airlock-user` header may be. */
export const LABEL_MAX_LENGTH = 200;

/** The largest value of a PostgreSQL `integer` column (call counts, seconds). */
export const INT4_MAX = 2_147_483_647;
