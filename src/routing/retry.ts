import { AirlockError } from "../core/errors.js";
import { ProviderError } from "../providers/errors.js";
import { UnsetKeyError } from "../providers/unset-key.js";

export interface RetryPolicy {
  /** Attempts per candidate, including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After above this is not waited out: the next candidate is tried instead. */
  maxRetryAfterMs: number;
}

export type RetryDecision =
  | { action: "retry"; delayMs: number }
  | { action: "fallback" }
  | { action: "stop" };

/** Full jitter: uniform in [0, min(cap, base·2^attempt)], so that many clients retrying never march in step. */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/**
 * What to do after a failed attempt, as a pure function of the error, how many attempts this candidate
 * has had, and the policy. `attemptsMade` counts the one that just failed.
 */
export function decideRetry(error: unknown, attemptsMade: number, policy: RetryPolicy, random: () => number = Math.random): RetryDecision {
  if (error instanceof AirlockError) {
    // A target that Airlock itself refuses (noop provider, a provider without its key) may have a working sibling.
    return error.code === "disabled" || error instanceof UnsetKeyError ? { action: "fallback" } : { action: "stop" };
  }
  // Anything else is a defect inside Airlock (an adapter's translation threw). Trying the same target
  // again would fail the same way, but the next candidate may use another adapter that translates the
  // request differently, so the call moves on rather than failing outright. It is logged where it happens.
  if (!(error instanceof ProviderError)) return { action: "fallback" };
  if (!error.isRetryable) return error.fallbackable ? { action: "fallback" } : { action: "stop" };
  if (attemptsMade >= policy.maxAttempts) return { action: "fallback" };
  if (error.retryAfterMs !== undefined) {
    // The upstream said when it will be ready; waiting longer than the cap is worse than moving on.
    return error.retryAfterMs > policy.maxRetryAfterMs ? { action: "fallback" } : { action: "retry", delayMs: error.retryAfterMs };
  }
  return { action: "retry", delayMs: backoffDelay(attemptsMade - 1, policy, random) };
}

/** A short, bounded word for why an attempt failed: it goes on the ledger and into metrics labels. */
export function failureReason(error: unknown): string {
  if (error instanceof AirlockError) return error.code;
  if (error instanceof ProviderError) {
    if (error.kind !== "http") return error.kind;
    if (error.credentialsRefused) return "credentials_refused";
    if (error.contextTooLong) return "context_length_exceeded";
    const status = error.status ?? 0;
    if (status === 429) return error.isRetryable ? "rate_limited" : "insufficient_quota";
    if (status === 402) return "insufficient_quota";
    if (status === 408) return "timeout";
    if (status >= 500) return "server_error";
    // Retryable, hence fallbackable, but it says nothing of the model: a lock or conflict upstream.
    if (status === 409) return "conflict";
    if (error.fallbackable) return "model_unavailable";
    return "client_error";
  }
  if (isAbort(error)) return "timeout";
  return "internal";
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}
