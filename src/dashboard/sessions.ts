import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Principal } from "../auth/principal.js";

export const SESSION_COOKIE = "airlock_session";
export const CSRF_HEADER = "x-csrf-token";
/** How long a dashboard sign-in lasts. */
export const SESSION_TTL_MS = 8 * 3_600_000;

/** Finds a live key's principal and the secret its sessions are signed with (see KeyRing.sessionSecretOf). */
export type SessionSecrets = (keyId: string) => { principal: Principal; secret: string } | undefined;

export interface Session {
  /** `<key id>.<expiry>`: what signing out records, so that the cookie stops working everywhere. */
  id: string;
  principal: Principal;
  /** Sent back on every state-changing request, in `x-csrf-token`. */
  csrf: string;
  expiresAt: number;
}

/**
 * Dashboard sessions are signed cookies, `<key id>.<expiry>.<HMAC>`, keyed by the admin key's own hash:
 * every instance sharing the store can verify them with no session table and no round trip, and
 * revoking the key ends its sessions everywhere. Signing out is the one thing recorded in the store
 * (see KeyRing.endSession). The CSRF token is a second HMAC of the same session.
 */
export function issueSession(secrets: SessionSecrets, keyId: string, now: number): { cookie: string; session: Session } | undefined {
  const found = secrets(keyId);
  if (!found) return undefined;
  const expiresAt = now + SESSION_TTL_MS;
  const body = `${keyId}.${expiresAt}`;
  return { cookie: `${body}.${sign(found.secret, `session:${body}`)}`, session: { id: body, principal: found.principal, csrf: sign(found.secret, `csrf:${body}`), expiresAt } };
}

/** The session a cookie value proves, or undefined: forged, expired, signed out of, or its key revoked. */
export function verifySession(secrets: SessionSecrets, value: string, now: number, ended: (session: string) => boolean = () => false): Session | undefined {
  const parts = value.split(".");
  if (parts.length !== 3) return undefined;
  const [keyId, expiry, signature] = parts as [string, string, string];
  const expiresAt = Number(expiry);
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) return undefined;
  const found = secrets(keyId);
  if (!found || found.principal.kind !== "admin") return undefined;
  const body = `${keyId}.${expiry}`;
  if (!sameText(signature, sign(found.secret, `session:${body}`)) || ended(body)) return undefined;
  return { id: body, principal: found.principal, csrf: sign(found.secret, `csrf:${body}`), expiresAt };
}

export function csrfMatches(session: Session, sent: string | undefined): boolean {
  return sent !== undefined && sameText(sent, session.csrf);
}

export function sessionCookieOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === SESSION_COOKIE) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** `Secure` when the dashboard is reached over TLS, directly or through a proxy that says so. */
export function setCookieHeader(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
  const tls = (req.socket as { encrypted?: boolean }).encrypted === true || req.headers["x-forwarded-proto"] === "https";
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${tls ? "; Secure" : ""}`;
}

function sign(secret: string, text: string): string {
  return createHmac("sha256", secret).update(text).digest("base64url");
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
