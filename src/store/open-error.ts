/**
 * Why a store did not open, naming the store: a PostgreSQL URL shown without its password or query
 * (which may hold one too), or the embedded store's directory. Without it, a start failed with the
 * driver's bare words ("connect ECONNREFUSED 127.0.0.1:5433", "getaddrinfo ENOTFOUND base",
 * "[object Object]") and nothing said that the store was the problem, let alone which one.
 */
export class StoreOpenError extends Error {
  constructor(store: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot open ${store}: ${reason}`, options);
    this.name = "StoreOpenError";
  }
}

/** The forms the PostgreSQL driver reads: a postgres(ql):// or socket: URL, or a socket directory. */
const POSTGRES_URL = /^(postgres|postgresql|socket):/i;

/** The store a URL names, as it may be printed. */
export function postgresStore(url: string): string {
  return `the PostgreSQL store at ${shownUrl(url)}`;
}

/**
 * Refuses what the driver would misread rather than reject: text without a scheme is resolved against
 * a placeholder host ("base"), and a mysql:// URL is read as PostgreSQL's. The value is not repeated.
 */
export function checkPostgresUrl(url: string): void {
  if (url.startsWith("/") || POSTGRES_URL.test(url)) return;
  throw new StoreOpenError("the PostgreSQL store", "its URL (DATABASE_URL) does not start with postgres:// or postgresql:// (expected postgres://user:password@host:5432/database)");
}

function shownUrl(url: string): string {
  const withoutQuery = url.split("?")[0]!;
  if (withoutQuery.startsWith("/")) return withoutQuery;
  // user:password@ → user:***@; the last @ ends the credentials, as the driver reads them
  return withoutQuery.replace(/^([a-z]+:\/\/)([^/]*)@/i, (_all, scheme: string, credentials: string) => {
    const colon = credentials.indexOf(":");
    return `${scheme}${colon === -1 ? credentials : `${credentials.slice(0, colon)}:***`}@`;
  });
}

/** The first line of what went wrong; for a refused statement, the store's reason, not the SQL. */
export function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = typeof (err as { query?: unknown }).query === "string" && err.cause instanceof Error ? err.cause : err;
  return cause.message.split("\n")[0] || cause.name;
}

/** PGlite's own words for a store it could not read are an Emscripten abort; say what that means here. */
export function pgliteReason(err: unknown): string {
  const reason = reasonOf(err);
  return reason.startsWith("Aborted(")
    ? "PGlite stopped while reading its files, which are damaged or incomplete (restore the directory from a backup)"
    : reason;
}
