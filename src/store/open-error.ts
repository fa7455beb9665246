import { AirlockError, errorCode } from "../core/errors.js";

/**
 * Why a store did not open, naming the store: a PostgreSQL URL shown without its password or query
 * (which may hold one too), or the embedded store's directory. Without it, a start failed with the
 * driver's bare words ("connect ECONNREFUSED 127.0.0.1:5433", "getaddrinfo ENOTFOUND base",
 * "[object Object]") and nothing said that the store was the problem, let alone which one.
 *
 * An AirlockError (`unavailable`), so that an application's one `instanceof AirlockError` check sees
 * it. Retryable when the server could not be reached or was not taking sessions yet (a restart, a
 * failover): a later call opens the store again. Not when it answered no (no such database, a wrong
 * password) or the URL or the embedded store's files are wrong: no wait mends those.
 */
export class StoreOpenError extends AirlockError {
  constructor(store: string, reason: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super("unavailable", `cannot open ${store}: ${reason}`, { cause: options.cause, retryable: options.retryable ?? false });
    this.name = "StoreOpenError";
  }
}

/**
 * SQLSTATEs of a server not taking sessions for now: class 08 (connection exception), 53 (insufficient
 * resources: too many connections), 57P01–57P03 (shutting down, crashed, starting up).
 */
const PASSING_STATE = /^(08|53|57P0[123])/;

/** System errors of a server out of reach for now, as a fetch that failed is retried (the Vercel AI SDK, openai-node). */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "EHOSTDOWN", "ENETUNREACH", "ENETDOWN", "ENOTFOUND", "EAI_AGAIN"]);

/** The driver's own words for a connection that timed out or dropped, which carry no code. */
const DRIVER_CONNECTION = /^(timeout expired|Connection terminated)/;

/**
 * Whether a PostgreSQL server was out of reach for now: no connection (refused, reset, timed out, host
 * not found), or the answer of a server not taking sessions yet. Not a server's no (no such database,
 * a wrong password), nor what the URL or this machine got wrong (an invalid URL, a missing certificate
 * file): no wait mends those. The server's answers are the driver's errors with a `severity`.
 */
export function serverUnreachable(err: unknown): boolean {
  const answer = serverAnswer(err);
  if (answer !== undefined) return PASSING_STATE.test(answer);
  const code = errorCode(err);
  return code !== undefined ? NETWORK_CODES.has(code) : DRIVER_CONNECTION.test(reasonOf(err));
}

/** The SQLSTATE of the server's error on `err` or a cause it wraps (drizzle wraps the driver's). */
function serverAnswer(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== "object" || err === null) return undefined;
  const { severity, code, cause } = err as { severity?: unknown; code?: unknown; cause?: unknown };
  if (typeof severity === "string" && typeof code === "string") return code;
  return serverAnswer(cause, depth + 1);
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
