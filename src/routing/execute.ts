import { abortedCallError, AirlockError } from "../core/errors.js";
import { Cancellation, type AbortSource } from "../core/cancel.js";
import type { Clock } from "../core/clock.js";
import { ProviderError } from "../providers/errors.js";
import type { LedgerAttempt } from "../store/schema/ledger-json.js";
import type { CircuitBreakers } from "./breaker.js";
import type { CatalogModel } from "./catalog.js";
import { decideRetry, failureReason, isAbort, type RetryPolicy } from "./retry.js";

export type AttemptRecord = LedgerAttempt;

export interface ExecuteOptions {
  policy: RetryPolicy;
  clock: Clock;
  /** The whole call: aborts on client disconnect or the request deadline. */
  signal: AbortSource;
  /** Per-attempt timeout for a target. */
  attemptTimeoutMs(model: CatalogModel): number;
  /**
   * When the call's own deadline passes (`clock` time), if it has one: a wait that would end there
   * leaves no time for the attempt after it, so the call moves to the next candidate instead.
   */
  deadlineAt?: number;
  /** Filled in as attempts happen, so the caller can record them whatever the outcome. */
  attempts: AttemptRecord[];
  /** Per-target breakers: an open one is skipped, and each attempt's result is reported to it. */
  breakers?: CircuitBreakers;
  /**
   * Asked before every attempt: a guard that stops calls (the kill switch) also stops a call that waited
   * for its budget or rate-limit lease, and retries and fallbacks already under way. It may answer
   * later, once the state it judges by is known.
   */
  guard?: () => AirlockError | undefined | Promise<AirlockError | undefined>;
  /**
   * A stream: the successful attempt's deadline is not cleared, but goes on as the limit on its
   * upstream's silence between events; the caller holds it while its consumer has an event, and clears it.
   */
  keepAttemptDeadline?: boolean;
  /** Told of an attempt that failed with neither a ProviderError nor an AirlockError: a defect to log. */
  onUnexpectedError?: (error: unknown, model: CatalogModel) => void;
}

export interface Executed<T> {
  value: T;
  model: CatalogModel;
  /**
   * The breaker generation the successful attempt was admitted under (see CircuitBreakers.admit), for a
   * failure found later (a stream that breaks mid-way); undefined without breakers.
   */
  generation: number | undefined;
}

/**
 * Tries each candidate in order: retries first (as the policy allows), then the next candidate.
 * Returns the first success, or throws an AirlockError that says why the call as a whole failed.
 */
export async function executeWithFallbacks<T>(
  candidates: readonly CatalogModel[],
  run: (model: CatalogModel, attempt: Cancellation) => Promise<T>,
  options: ExecuteOptions,
): Promise<Executed<T>> {
  const { clock, attempts, breakers } = options;
  let lastError: unknown;
  let pendingDelay = 0;
  for (const model of candidates) {
    for (let made = 1; ; made++) {
      // A target already open is skipped at once, rather than after waiting to retry it.
      let skip = pendingDelay > 0 && breakers !== undefined && breakers.isOpen(model.id);
      if (skip) pendingDelay = 0;
      if (pendingDelay > 0) {
        const waitStarted = clock.now();
        await waitOrAbort(clock, pendingDelay, options.signal);
        // A wait cut short (the client left, the gateway closed) is recorded as long as it lasted, not as planned.
        if (options.signal.aborted) pendingDelay = Math.max(0, clock.now() - waitStarted);
      }
      // Asked after the wait: other calls may have opened the breaker while this one waited to retry.
      // Not asked of a call that ended meanwhile, which must not take a half-open breaker's probe.
      // The attempt's result counts only under the generation it was admitted in.
      let generation: number | undefined;
      if (!skip && breakers && !options.signal.aborted) {
        generation = breakers.admit(model.id);
        skip = generation === undefined;
      }
      if (skip) {
        attempts.push({ model: model.id, provider: model.providerName, outcome: "error", reason: "circuit_open", latencyMs: 0, delayMs: pendingDelay });
        pendingDelay = 0;
        // An outage, not the request: the answer must not be an earlier candidate's refusal of it.
        lastError = undefined;
        break;
      }
      // Asked before the first attempt too: the call may have waited on the store for a lease since its
      // guards passed. Awaited only when the guard must wait, so the usual call takes no extra turn.
      const verdict = options.guard?.();
      const stopped = verdict instanceof Promise ? await verdict : verdict;
      // The call ended before this attempt could go out: its client left, or its deadline passed, while it
      // waited for a lease, a retry or the guard. Nothing is sent and no attempt is recorded, so the call
      // does not count as having reached a provider (an approval grant gives its call back), except a
      // retry's wait cut short, recorded as long as it lasted.
      const ended = !stopped && options.signal.aborted;
      if (stopped || ended) {
        // A half-open breaker's probe that never went out is given back, for the next call to take.
        if (breakers && generation !== undefined) breakers.release(model.id, generation);
        if (stopped) throw stopped;
        if (pendingDelay > 0) {
          const reason = abortedCallError(options.signal.reason, CALL_ENDED).code;
          attempts.push({ model: model.id, provider: model.providerName, outcome: "error", reason, latencyMs: 0, delayMs: pendingDelay });
        }
        throw abortedCallError(options.signal.reason, CALL_ENDED, { attempts: publicAttempts(attempts) });
      }
      const started = clock.now();
      const attempt = new Cancellation(options.signal, options.attemptTimeoutMs(model));
      try {
        const value = await run(model, attempt);
        // The deadline covered getting an answer (a stream's may go on, see keepAttemptDeadline). The
        // attempt stays tied to the call, so a stream still being read stops when the call is cancelled.
        if (options.keepAttemptDeadline !== true) attempt.clearDeadline();
        if (breakers && generation !== undefined) breakers.recordSuccess(model.id, generation);
        attempts.push({ model: model.id, provider: model.providerName, outcome: "success", latencyMs: clock.now() - started, delayMs: pendingDelay });
        return { value, model, generation };
      } catch (raw) {
        attempt.dispose();
        const error = options.signal.aborted ? raw : normalizeAttemptTimeout(raw, model, attempt);
        attempts.push({
          model: model.id,
          provider: model.providerName,
          outcome: "error",
          status: error instanceof ProviderError ? error.status : undefined,
          // Cut by the call's end, the attempt says why the call ended: a caller's own abort is no upstream timeout.
          reason: options.signal.aborted ? abortedCallError(options.signal.reason, CALL_ENDED).code : failureReason(error),
          latencyMs: clock.now() - started,
          delayMs: pendingDelay,
        });
        lastError = error;
        pendingDelay = 0;
        // The call itself ended: its deadline passed, its client left, or the gateway shut down.
        if (options.signal.aborted) throw abortedCallError(options.signal.reason, CALL_ENDED, { attempts: publicAttempts(attempts) });
        if (!(error instanceof ProviderError) && !(error instanceof AirlockError) && !isAbort(error)) options.onUnexpectedError?.(error, model);
        if (breakers && generation !== undefined && countsAgainstTarget(error)) breakers.recordFailure(model.id, generation);
        const decision = decideRetry(error, made, options.policy);
        if (decision.action === "stop") throw finalError(error, attempts);
        if (decision.action === "fallback") break;
        // The retry could only start as the call ends (a Retry-After past the deadline): another target may answer now.
        if (options.deadlineAt !== undefined && clock.now() + decision.delayMs >= options.deadlineAt) break;
        pendingDelay = decision.delayMs;
      }
    }
  }
  throw finalError(lastError, attempts, breakers && breakerWaitMs(breakers, candidates));
}

/**
 * When every candidate's breaker refuses calls (each open, or half-open with its probe taken): how long
 * until the first of them lets one through, which is when the route can serve a call again. Undefined
 * when some candidate would take a call now.
 */
function breakerWaitMs(breakers: CircuitBreakers, candidates: readonly CatalogModel[]): number | undefined {
  let wait = Number.POSITIVE_INFINITY;
  for (const model of candidates) wait = Math.min(wait, breakers.waitMs(model.id));
  return wait > 0 && Number.isFinite(wait) ? wait : undefined;
}

/**
 * Only failures that say the target is unwell open its breaker; a malformed request says nothing about it.
 * A refused key and an account out of credit (402, 429 insufficient_quota) are the target's too: every
 * call would meet them, so an open breaker spares each call the round trip until a probe finds them fixed.
 */
function countsAgainstTarget(error: unknown): boolean {
  if (!(error instanceof ProviderError)) return false;
  if (error.isRetryable || error.kind === "protocol" || error.credentialsRefused) return true;
  return error.kind === "http" && (error.status === 402 || error.status === 429);
}

/** The attempt's own timer fired (not the whole call's): a retryable timeout, like a slow upstream. */
function normalizeAttemptTimeout(error: unknown, model: CatalogModel, signal: AbortSource): unknown {
  if (signal.aborted && !(error instanceof ProviderError) && !(error instanceof AirlockError)) {
    return new ProviderError(`no answer from ${model.providerName} within the attempt timeout`, { kind: "timeout", provider: model.providerName });
  }
  return error;
}

async function waitOrAbort(clock: Clock, ms: number, signal: AbortSource): Promise<void> {
  try {
    await clock.sleep(ms, signal);
  } catch {
    // the call was aborted while waiting; the caller sees the abort on its next check
  }
}

const CALL_ENDED = { deadline: "the request deadline passed before any provider answered", left: "the client closed the request" };

/**
 * The error the call as a whole fails with. `breakerWaitMs` (see breakerWaitMs) is set when every
 * candidate's breaker refuses calls: the client is told when to come back, as the route cannot serve it before.
 */
export function finalError(error: unknown, attempts: AttemptRecord[], breakerWaitMs?: number): AirlockError {
  const details = { attempts: publicAttempts(attempts) };
  if (error instanceof AirlockError) {
    // Airlock's own refusal (a request an adapter cannot translate, a disabled target) keeps its code.
    if (error.code !== "disabled" || attempts.every((a) => a.reason === "disabled")) return error;
    return new AirlockError("provider_error", "every candidate failed", { details });
  }
  // The last target's own refusals: a key it refused, or a request it judged wrong (too long for its
  // window included, once no later target was left to take it).
  if (error instanceof ProviderError && error.kind === "http" && !error.isRetryable && (!error.fallbackable || error.credentialsRefused || error.contextTooLong)) {
    // Checked first: Google refuses a bad key with a 400, which is not the caller's mistake.
    if (error.credentialsRefused) {
      return new AirlockError("provider_error", `${error.provider} refused Airlock's credentials; check the provider's apiKey`, { details });
    }
    const status = error.status ?? 0;
    // The upstream judged the request itself malformed: the caller can fix it, so say so plainly.
    if (status === 400 || status === 413 || status === 422) {
      return new AirlockError("invalid_request", `${error.provider} rejected the request: ${error.message}`, { details });
    }
  }
  if (error instanceof ProviderError && error.kind === "unsupported") {
    return new AirlockError("invalid_request", error.message, { details });
  }
  // A failure that ends the route where it happened (a plain 404 from a wrong baseUrl, an answer that
  // could not be read): "every candidate failed" would send the reader to look at candidates never tried.
  if (error instanceof ProviderError && !error.fallbackable && (error.kind === "http" || error.kind === "protocol")) {
    const what = error.kind === "http" ? `answered HTTP ${error.status ?? "?"}` : "sent an answer Airlock could not read";
    return new AirlockError("provider_error", `${error.provider} ${what}, a failure that ends the call without trying the rest of the route`, { details });
  }
  // The last upstream said when it would take calls again (a 429's Retry-After, Google's RetryInfo), or
  // every breaker of the route refuses calls until a probe may go: the client is told so, or its own
  // retry (the openai SDK's, within a second) meets the same refusal.
  const retryAfterMs = breakerWaitMs ?? (error instanceof ProviderError ? error.retryAfterMs : undefined);
  return new AirlockError("provider_error", "every candidate failed", { details, retryAfterMs });
}

function publicAttempts(attempts: AttemptRecord[]): Array<Record<string, unknown>> {
  return attempts.map((a) => ({ model: a.model, provider: a.provider, status: a.status ?? null, error: a.reason ?? null, delay_ms: a.delayMs, latency_ms: a.latencyMs }));
}
