import { ProviderError, providerErrorFromResponse } from "../errors.js";
import { redact } from "../redact.js";
import { isObject, text, type JsonObject } from "../wire.js";

const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";
const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
/** ErrorInfo reasons about the key itself (API_KEY_INVALID, API_KEY_EXPIRED, API_KEY_IP_ADDRESS_BLOCKED, …). */
const KEY_REASON = /^API_KEY_/;
/** A protobuf Duration in JSON: decimal seconds with an `s` suffix, e.g. "30s" or "1.500s". */
const DURATION = /^(\d+(?:\.\d+)?)s$/;

/**
 * Google's error body is `{error:{code,message,status,details}}`: `code` is the HTTP status as a number,
 * so the shared classifier finds the message but no provider code. The gRPC status name
 * (RESOURCE_EXHAUSTED, NOT_FOUND, …) becomes the provider code, and a 429's RetryInfo.retryDelay is
 * honoured when no Retry-After header says otherwise (Google usually sends only the body). The body's
 * credentials were taken out before it got here (UpstreamClient).
 */
export function geminiErrorFromResponse(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): ProviderError {
  const shared = providerErrorFromResponse(provider, status, headers, bodyText);
  const error = errorObject(bodyText);
  const providerCode = text(error?.status) ?? shared.providerCode;
  const retryAfterMs = shared.retryAfterMs ?? (error === undefined ? undefined : retryDelayMs(error));
  return new ProviderError(shared.message, {
    kind: "http",
    provider,
    status,
    providerCode,
    retryAfterMs,
    fallbackable: shared.fallbackable,
    contextTooLong: shared.contextTooLong,
    // Google answers a bad, expired or blocked key with 400 INVALID_ARGUMENT; its ErrorInfo says it is the key.
    credentialsRefused: shared.credentialsRefused || (error !== undefined && errorInfoReasons(error).some((reason) => KEY_REASON.test(reason))),
  });
}

function errorInfoReasons(error: JsonObject): string[] {
  if (!Array.isArray(error.details)) return [];
  return error.details.flatMap((detail) => (isObject(detail) && detail["@type"] === ERROR_INFO ? (text(detail.reason) ?? []) : []));
}

/**
 * An `error` object inside a 200 stream (Google sends these when a stream fails after it started).
 * Its message reaches the client: Airlock's credentials are taken out of it.
 */
export function geminiStreamError(provider: string, error: unknown, secrets: readonly string[]): ProviderError {
  const detail = isObject(error) ? error : {};
  const code = text(detail.status);
  const message = redact(text(detail.message) ?? "error", secrets);
  return new ProviderError(`${provider}: upstream stream failed: ${message.slice(0, 500)}`, {
    kind: "protocol",
    provider,
    providerCode: code,
    // like an overloaded 503 before the stream: worth another provider if nothing was sent yet
    fallbackable: code === "UNAVAILABLE" || code === "RESOURCE_EXHAUSTED" || /overloaded/i.test(message),
  });
}

/** The delay of the first RetryInfo detail, in ms. */
export function retryDelayMs(error: JsonObject): number | undefined {
  if (!Array.isArray(error.details)) return undefined;
  for (const detail of error.details) {
    if (!isObject(detail) || detail["@type"] !== RETRY_INFO) continue;
    const match = DURATION.exec(text(detail.retryDelay) ?? "");
    if (match !== null) return Math.round(Number(match[1]) * 1000);
  }
  return undefined;
}

function errorObject(bodyText: string): JsonObject | undefined {
  try {
    const body: unknown = JSON.parse(bodyText);
    return isObject(body) && isObject(body.error) ? body.error : undefined;
  } catch {
    return undefined;
  }
}
