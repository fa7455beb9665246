import { createHmac } from "node:crypto";
import type { WebhookConfig } from "../config/schema.js";
import { Cancellation, type AbortSource } from "../core/cancel.js";
import { parseRetryAfterMs } from "../providers/errors.js";

/** One delivery as sent: what to post, and the ids the receiver deduplicates on. */
export interface Outgoing {
  id: string;
  eventId: string;
  event: string;
  body: unknown;
}

/** What came of one attempt: the receiver's status (null when it gave none), and why it did not deliver. */
export interface AttemptResult {
  status: number | null;
  error?: string;
  /** How long a 429 or 503 asked to be left alone (Retry-After). */
  retryAfterMs?: number;
}

/** Posts the delivery to the webhook once; never throws. */
export async function attempt(hook: WebhookConfig, delivery: Outgoing, timeoutMs: number, stopping: AbortSource): Promise<AttemptResult> {
  const body = JSON.stringify(delivery.body);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "airlock-webhooks",
    "x-airlock-event": delivery.event,
    "x-airlock-event-id": delivery.eventId,
    "x-airlock-delivery": delivery.id,
  };
  if (hook.secret) {
    // The body's signature alone is the same on every send, so a captured request verifies for ever, under any
    // event id a replayer puts in its header. The v2 signature also covers when this attempt was made and the
    // event's id: a receiver refuses old timestamps and remembers recent ids (docs/change-control.md).
    const timestamp = String(Math.floor(Date.now() / 1000));
    headers["x-airlock-timestamp"] = timestamp;
    headers["x-airlock-signature"] = `sha256=${createHmac("sha256", hook.secret).update(body).digest("hex")}`;
    headers["x-airlock-signature-v2"] = `sha256=${signV2(hook.secret, timestamp, delivery.eventId, body)}`;
  }
  const { url, authorization } = receiver(hook.url);
  if (authorization) headers.authorization = authorization;
  let res: Response;
  // Not AbortSignal.any([AbortSignal.timeout(…), stopping]): the combined signal holds its sources weakly,
  // and nothing else holds the timeout's, so a garbage collection could take it before it fired, and an
  // attempt on a receiver that never answers would then wait for ever (seen under a loaded test suite).
  // A Cancellation's timer holds it until it fires or is disposed.
  const deadline = new Cancellation(stopping, timeoutMs);
  try {
    // Redirects are not followed: fetch would turn the POST into a GET without its body (301, 302), and the
    // receiver's 200 to that would count as delivered; or send the body and its signature on to another host.
    res = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: deadline.signal });
  } catch (err) {
    return { status: null, error: unanswered(err, timeoutMs) };
  } finally {
    deadline.dispose();
  }
  // The answer's body says nothing Airlock needs: it is let go unread, since reading it whole would hold
  // all of it in memory, however large a receiver made it, and wait for it as long as it took.
  await res.body?.cancel().catch(() => undefined);
  if (res.ok) return { status: res.status };
  if (res.status === 429 || res.status === 503) {
    const retryAfterMs = parseRetryAfterMs(Object.fromEntries(res.headers));
    return { status: res.status, error: `HTTP ${res.status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  if (res.status >= 300 && res.status < 400) return { status: res.status, error: `HTTP ${res.status}: redirects are not followed; set the webhook's url to where the receiver is now` };
  return { status: res.status, error: `HTTP ${res.status}` };
}

/** Hex HMAC-SHA256 of `<timestamp>.<event id>.<body>`: what x-airlock-signature-v2 carries after `sha256=`. */
export function signV2(secret: string, timestamp: string, eventId: string, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${eventId}.${body}`).digest("hex");
}

/** Connection failures by their code, in words an operator can act on. */
const CAUSES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed before an answer",
};

/**
 * Why an attempt got no answer. fetch says only "fetch failed" and keeps the reason in its cause; the
 * cause's own message is not used, since it may name the receiver's host and a Slack or Discord URL is a secret.
 */
function unanswered(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  if (code === undefined) return "could not reach the receiver";
  if (CAUSES[code]) return `could not reach the receiver: ${CAUSES[code]} (${code})`;
  if (/SSL|TLS|CERT/.test(code)) return `could not reach the receiver: TLS failed (${code})`;
  return `could not reach the receiver (${code})`;
}

/**
 * Where to send, and the Basic credentials a URL such as `https://user:password@host/hook` holds, sent as
 * curl sends them. fetch refuses a URL with credentials, quoting it whole in its error, which would put
 * the password in every failed attempt's error and in the log.
 */
function receiver(hookUrl: string): { url: string; authorization?: string } {
  const url = new URL(hookUrl);
  if (url.username === "" && url.password === "") return { url: hookUrl };
  const credentials = `${decoded(url.username)}:${decoded(url.password)}`;
  url.username = "";
  url.password = "";
  return { url: url.href, authorization: `Basic ${Buffer.from(credentials).toString("base64")}` };
}

/** A URL part's percent-escapes decoded, or the part as written when they do not decode (`%zz`). */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
