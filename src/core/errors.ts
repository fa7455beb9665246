/**
 * The bounded error taxonomy (DESIGN.md). Every error that leaves Airlock carries one of these codes,
 * and every code maps to exactly one HTTP status.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  // Well-formed, but the resource's current status does not allow it (approving an aborted directive, a
  // change request decided twice): asking again as it is cannot succeed until that status changes.
  conflict: 409,
  // A known path asked with a method it does not take; the answer's `Allow` lists those it does.
  method_not_allowed: 405,
  request_too_large: 413,
  // The client did not send its whole body in time (`server.bodyTimeoutMs`); the connection is closed.
  request_timeout: 408,
  schema_validation: 422,
  // An Idempotency-Key sent again with another body: 422, as the IETF Idempotency-Key draft answers it
  // (its 409 is for a request still in flight under the key, which a directive's one insert never is).
  idempotency_key_reused: 422,
  approval_required: 403,
  budget_exceeded: 429,
  rate_limited: 429,
  kill_switch_active: 503,
  disabled: 503,
  unavailable: 503,
  misconfigured: 500,
  provider_error: 502,
  timeout: 504,
  // nginx's "client closed request": recorded (ledger, access log, metrics), never sent, as the client is gone.
  client_closed: 499,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** OpenAI's `error.type` field, so that OpenAI SDKs classify our errors the way they classify theirs. */
const OPENAI_TYPE: Record<ErrorCode, string> = {
  invalid_request: "invalid_request_error",
  unauthorized: "authentication_error",
  forbidden: "permission_error",
  not_found: "not_found_error",
  conflict: "invalid_request_error",
  idempotency_key_reused: "invalid_request_error",
  method_not_allowed: "invalid_request_error",
  request_too_large: "invalid_request_error",
  request_timeout: "invalid_request_error",
  schema_validation: "invalid_request_error",
  approval_required: "permission_error",
  budget_exceeded: "insufficient_quota",
  rate_limited: "rate_limit_error",
  kill_switch_active: "service_unavailable",
  disabled: "service_unavailable",
  unavailable: "service_unavailable",
  misconfigured: "server_error",
  provider_error: "upstream_error",
  timeout: "timeout_error",
  client_closed: "client_closed_request",
};

/**
 * Codes worth the caller's trying the same call again soon (as the Vercel AI SDK's `isRetryable` means
 * it): a limit that frees up within the minute, or a guard whose state could not be read in time. Not
 * `provider_error` or `timeout`: Airlock has already retried and fallen back before it answers those.
 * Not a budget (its window may be a month) or a switch an operator flipped.
 */
const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["rate_limited", "unavailable"]);

export interface AirlockErrorOptions {
  param?: string | null;
  /** Structured, client-safe detail (attempts, schema issues, approval id). Never prompt text or secrets. */
  details?: Record<string, unknown>;
  /** Seconds the client should wait before retrying (sets `Retry-After`). */
  retryAfterSeconds?: number;
  /**
   * The same wait to the millisecond, where it is known that finely (sets `retry-after-ms`, which the
   * openai SDKs read first); `retryAfterSeconds` defaults to it in whole seconds, rounded up.
   */
  retryAfterMs?: number;
  /** Overrides what the code says: an `unavailable` that no wait can end (a closed library instance) is not retryable. */
  retryable?: boolean;
  cause?: unknown;
}

export class AirlockError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly retryAfterMs: number | undefined;
  /**
   * The call's request id, where a call failed (library calls; the gateway sends it as `x-request-id`):
   * the failed call's ledger row carries the same id.
   */
  requestId: string | undefined;
  private readonly retryable: boolean | undefined;

  constructor(code: ErrorCode, message: string, options: AirlockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AirlockError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.param = options.param ?? null;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs === undefined ? undefined : Math.ceil(options.retryAfterMs);
    this.retryAfterSeconds = options.retryAfterSeconds ?? (this.retryAfterMs === undefined ? undefined : Math.ceil(this.retryAfterMs / 1000));
    this.retryable = options.retryable;
  }

  /** Whether the same call may succeed if made again shortly (after `retryAfterSeconds`, when set). */
  get isRetryable(): boolean {
    return this.retryable ?? RETRYABLE_CODES.has(this.code);
  }

  /** The OpenAI error shape. Deliberately omits the stack and the cause. */
  toJSON(): OpenAIErrorBody {
    return {
      error: {
        message: this.message,
        type: OPENAI_TYPE[this.code],
        code: this.code,
        param: this.param,
        ...(this.details ? this.details : {}),
      },
    };
  }
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: ErrorCode; param: string | null; [detail: string]: unknown };
}

/** Anything thrown that is not an AirlockError becomes an opaque `misconfigured`-class 500 for clients. */
export function toAirlockError(err: unknown): AirlockError {
  if (err instanceof AirlockError) return err;
  return new AirlockError("misconfigured", "internal error", { cause: err });
}

/**
 * The client went away (or a library caller aborted) before its answer was whole. Its own code, not a
 * `timeout`: an operator must tell a user who pressed stop from a deadline that passed or a slow provider.
 * Named `AbortError`, as fetch names the error of an aborted request, so that the checks applications
 * already make for one (`err.name === "AbortError"`, the Vercel AI SDK's `isAbortError`) see it too.
 */
export function clientClosedError(message: string, details?: Record<string, unknown>): AirlockError {
  const error = new AirlockError("client_closed", message, details ? { details } : {});
  error.name = "AbortError";
  return error;
}

/**
 * Why a call whose signal aborted ended, from the abort's reason: a deadline that passed (a
 * `TimeoutError`, the call's own or a library caller's `AbortSignal.timeout`) is `timeout`; an
 * AirlockError given as the reason (the gateway cutting its last requests at shutdown) is itself; any
 * other reason is the client leaving.
 */
export function abortedCallError(reason: unknown, messages: { deadline: string; left: string }, details?: Record<string, unknown>): AirlockError {
  if (reason instanceof AirlockError) return reason;
  if ((reason as { name?: string } | undefined)?.name === "TimeoutError") return new AirlockError("timeout", messages.deadline, details ? { details } : {});
  return clientClosedError(messages.left, details);
}

export function isAirlockError(err: unknown): err is AirlockError {
  return err instanceof AirlockError;
}

/**
 * The first string `code` found on an error, its causes, or the errors of an AggregateError: a system
 * error's (ECONNRESET), undici's (UND_ERR_SOCKET, also inside happy eyeballs' AggregateError), or a
 * database driver's SQLSTATE (22003) under a wrapper.
 */
export function errorCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const found = errorCode(inner, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return errorCode((err as { cause?: unknown }).cause, depth + 1);
}
