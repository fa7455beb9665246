/**
 * What went wrong upstream, and whether trying again could help. Adapters throw only these
 * (or an AirlockError for refusals that are Airlock's own decision, such as the noop adapter).
 */
export type ProviderErrorKind = "http" | "connection" | "timeout" | "protocol" | "unsupported";

export interface ProviderErrorInit {
  kind: ProviderErrorKind;
  provider: string;
  status?: number;
  retryAfterMs?: number;
  providerCode?: string;
  /** Set for "model not found" / "model overloaded": not worth retrying here, worth trying elsewhere. */
  fallbackable?: boolean;
  /** Overrides what the kind and status say: a 429 for an account out of credit is no rate limit to wait out. */
  retryable?: boolean;
  /**
   * The upstream refused Airlock's own credentials, not the request. Defaults to a 401 or 403; an adapter
   * sets it for an upstream that says so with another status (Google answers a bad key with 400).
   */
  credentialsRefused?: boolean;
  /**
   * The upstream refused the request as larger than this model takes (its context window, its body limit):
   * the caller's request, but a model with a bigger window may serve it, as LiteLLM's context window fallbacks do.
   */
  contextTooLong?: boolean;
  cause?: unknown;
}

export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly provider: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly providerCode: string | undefined;
  readonly isRetryable: boolean;
  readonly fallbackable: boolean;
  readonly credentialsRefused: boolean;
  readonly contextTooLong: boolean;

  constructor(message: string, init: ProviderErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProviderError";
    this.kind = init.kind;
    this.provider = init.provider;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.providerCode = init.providerCode;
    this.isRetryable = init.retryable ?? isRetryableKind(init.kind, init.status);
    this.credentialsRefused = init.credentialsRefused ?? (init.kind === "http" && (init.status === 401 || init.status === 403));
    this.contextTooLong = init.contextTooLong === true;
    // A refused key is this provider's account, and a prompt too long is this model's window: neither is
    // worth a retry here, and the next target, with its own key and window, may serve the call.
    this.fallbackable = this.isRetryable || init.fallbackable === true || this.credentialsRefused || this.contextTooLong;
  }
}

/**
 * A stream whose body ended before it carried a single SSE message (an empty 200, an HTML page where SSE
 * was due): nothing has reached the client and nothing was generated to bill, so it is worth trying
 * again, or elsewhere, as a connection dropped before its answer is. A stream that ended later, after
 * some of its events, is a plain protocol error.
 */
export function endedBeforeFirstEvent(provider: string): ProviderError {
  return new ProviderError(`${provider}: upstream stream ended before its first event`, { kind: "protocol", provider, retryable: true });
}

function isRetryableKind(kind: ProviderErrorKind, status: number | undefined): boolean {
  if (kind === "connection" || kind === "timeout") return true; // the request may never have arrived
  if (kind !== "http" || status === undefined) return false;
  return isRetryableStatus(status);
}

/** The statuses worth a second try, each for its own reason. */
export function isRetryableStatus(status: number): boolean {
  if (status === 408) return true; // the upstream timed the request out: it may pass next time
  if (status === 409) return true; // lock/conflict on the upstream side is transient
  if (status === 429) return true; // rate limited: wait as told, then try again
  return status >= 500; // the upstream broke, not our request
}

/** Honour `retry-after-ms` first (precise, OpenAI sends it), then `retry-after` (seconds or HTTP-date). */
export function parseRetryAfterMs(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const ms = first(headers["retry-after-ms"]);
  if (ms !== undefined) {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const ra = first(headers["retry-after"])?.trim();
  if (ra === undefined) return undefined;
  // Two headers merged by a proxy arrive as "1, 2": the first is the upstream's own.
  const seconds = /^(\d+(?:\.\d+)?)\s*(?:,|$)/.exec(ra);
  if (seconds) return Number(seconds[1]) * 1000;
  // Only a real HTTP-date: Date.parse would read almost anything as some date in the past, which
  // would mean "retry at once".
  if (HTTP_DATE.test(ra)) {
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/** IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`), RFC 850 and asctime, as RFC 9110 lists them. */
const HTTP_DATE =
  /^(?:[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Azure OpenAI names its models by deployment: `DeploymentNotFound`, "The API deployment for this resource does not exist". */
const MODEL_MISSING = /model.*(not[ _]found|does not exist|not exist|unknown|invalid model)|no such model|model_not_found|not a valid model|not have access to (the )?model|DeploymentNotFound|deployment for this resource does not exist/i;
/**
 * The statuses an upstream says "no such model (for you)" with. OpenAI answers a project that may not
 * use a model with 403 `model_not_found` ("Project … does not have access to model …"): the key works,
 * and another target may serve the call.
 */
const MODEL_MISSING_STATUSES = new Set([400, 403, 404]);
const OVERLOADED = /overloaded/i;
/**
 * How upstreams say a request is over the model's window: OpenAI's `context_length_exceeded` ("maximum
 * context length"), Anthropic's "prompt is too long", Gemini's "input token count (…) exceeds", vLLM's and
 * others' "context window" wording. A 413 (Anthropic's `request_too_large`, a body limit) says it by its status.
 */
const CONTEXT_TOO_LONG = /context_length_exceeded|maximum context length|context (window|length) (is )?exceeded|exceeds? the (model's )?context (window|length)|prompt is too long|input token count.{0,40}exceeds|request_too_large/i;

/** Whether an upstream's error code or message says the model is overloaded: another target may answer. */
export function saysOverloaded(codeAndMessage: string): boolean {
  return OVERLOADED.test(codeAndMessage);
}

/**
 * Builds the error for a non-2xx upstream answer from its status, headers and body text. It reads the
 * OpenAI (`{error:{message,type,code}}`) and Anthropic (`{type:"error",error:{type,message}}`) shapes.
 */
export function providerErrorFromResponse(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): ProviderError {
  let message = `upstream answered ${status}`;
  let providerCode: string | undefined;
  try {
    const body = JSON.parse(bodyText) as { error?: { message?: unknown; type?: unknown; code?: unknown } | string; message?: unknown };
    const err = body.error;
    if (typeof err === "string") message = err;
    else if (err && typeof err === "object") {
      if (typeof err.message === "string") message = err.message;
      const code = err.code ?? err.type;
      if (typeof code === "string") providerCode = code;
    } else if (typeof body.message === "string") message = body.message;
  } catch {
    // a non-JSON error page: the status says enough
  }
  const modelMissing = MODEL_MISSING_STATUSES.has(status) && MODEL_MISSING.test(`${providerCode ?? ""} ${message}`);
  // OpenAI's 429 `insufficient_quota`: the account is out of credit, and no wait here will help, but
  // another provider's account may serve the call.
  // OpenRouter (and other prepaid upstreams) say the same with 402 Payment Required.
  const outOfCredit = (status === 429 && providerCode === "insufficient_quota") || status === 402;
  const fallbackable = modelMissing || outOfCredit || OVERLOADED.test(`${providerCode ?? ""} ${message}`);
  const contextTooLong = status === 413 || (status === 400 && CONTEXT_TOO_LONG.test(`${providerCode ?? ""} ${message}`));
  return new ProviderError(truncate(message, 500), {
    kind: "http",
    provider,
    status,
    providerCode,
    fallbackable,
    contextTooLong,
    retryable: outOfCredit ? false : undefined,
    // A 403 about the model is not a refused key.
    credentialsRefused: modelMissing ? false : undefined,
    retryAfterMs: parseRetryAfterMs(headers),
  });
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) + "…" : s;
}
