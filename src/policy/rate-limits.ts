import type { RateLimitConfig } from "../config/schema.js";
import { AirlockError } from "../core/errors.js";
import type { BudgetSubject, Window } from "./budgets.js";

export type RateUnit = "requests" | "tokens";

const MINUTE_MS = 60_000;

/** The fixed minute that holds `at`: limits reset on the minute, on every instance alike. */
export function minuteAt(at: number): Window {
  const start = Math.floor(at / MINUTE_MS) * MINUTE_MS;
  return { start, end: start + MINUTE_MS };
}

/**
 * The subjects a limit counts this call under: one per matching key, user or operation, or none. A
 * `user` limit counts both the key's user and a named end user, so naming another escapes nothing.
 */
export function limitSubjects(limit: RateLimitConfig, subject: BudgetSubject): string[] {
  const { principal, endUser, operation } = subject;
  let found: Array<string | null | undefined>;
  switch (limit.scope) {
    case "key":
      found = [principal.keyId];
      break;
    case "user":
      found = endUser && endUser !== principal.userId ? [principal.userId, endUser] : [principal.userId];
      break;
    case "operation":
      found = [operation];
      break;
    case "global":
      return [""];
  }
  return found.filter((s): s is string => Boolean(s) && (limit.target === undefined || s === limit.target));
}

export function perMinute(limit: RateLimitConfig, unit: RateUnit): number | undefined {
  return unit === "requests" ? limit.requestsPerMinute : limit.tokensPerMinute;
}

/** The refusal: 429 with `Retry-After` at the minute's end, when the limit has room again. */
export function rateLimited(limit: RateLimitConfig, unit: RateUnit, window: Window, now: number): AirlockError {
  const max = perMinute(limit, unit);
  return new AirlockError("rate_limited", `rate limit "${limit.name}" (${max} ${unit} per minute${limit.scope === "global" ? "" : ` per ${limit.scope}`}) is used up for this minute`, {
    retryAfterSeconds: Math.max(1, Math.ceil((window.end - now) / 1000)),
    details: { rate_limit: limit.name, scope: limit.scope, unit, limit: max, resets_at: new Date(window.end).toISOString() },
  });
}

/**
 * The refusal of a call whose worst case alone is more than a whole minute allows: no wait lets it
 * through, so it carries no `Retry-After` and is not retryable, and it says what to lower.
 */
export function overRateLimit(limit: RateLimitConfig, unit: RateUnit, requested: number): AirlockError {
  const max = perMinute(limit, unit);
  return new AirlockError(
    "rate_limited",
    `this call may use up to ${requested} ${unit}, more than rate limit "${limit.name}" allows in a whole minute (${max}${limit.scope === "global" ? "" : ` per ${limit.scope}`}): lower max_tokens or shorten the input`,
    { retryable: false, details: { rate_limit: limit.name, scope: limit.scope, unit, limit: max, requested } },
  );
}
