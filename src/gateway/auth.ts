import type { IncomingMessage } from "node:http";
import type { Principal } from "../auth/principal.js";
import { AirlockError } from "../core/errors.js";
import type { ControlPlane } from "../control-plane.js";
import { CSRF_HEADER, csrfMatches, sessionCookieOf, verifySession, type Session } from "../dashboard/sessions.js";
import { bearerToken } from "./http.js";
import type { RequestScope } from "./context.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The caller: an API key (`Authorization: Bearer`), or a dashboard session cookie. A change through the
 * admin API is counted against the key here (see AdminWrites), before the handler does any work for it.
 */
export async function requirePrincipal(plane: ControlPlane, req: IncomingMessage, scope: RequestScope): Promise<Principal> {
  const principal = await authenticate(plane, req, scope);
  if (scope.admitWrite) await scope.admitWrite(principal);
  return principal;
}

export async function requireAdmin(plane: ControlPlane, req: IncomingMessage, scope: RequestScope): Promise<Principal> {
  // Not counted: admin keys are not limited, and another key is refused here before any work is done.
  const principal = await authenticate(plane, req, scope);
  if (principal.kind !== "admin") throw new AirlockError("forbidden", "this endpoint needs an admin key");
  return principal;
}

async function authenticate(plane: ControlPlane, req: IncomingMessage, scope: RequestScope): Promise<Principal> {
  const token = bearerToken(req);
  const principal = token ? await plane.authenticate(token) : sessionPrincipal(plane, req);
  if (!principal) {
    throw new AirlockError("unauthorized", !token ? "missing API key: send `Authorization: Bearer <key>`" : plane.keys.hasExpired(token) ? "the API key has expired" : "invalid API key");
  }
  scope.log.keyId = principal.keyId;
  return principal;
}

/**
 * A dashboard session, when the request carries one. A request that changes something must also
 * carry the session's CSRF token: the cookie alone proves only that a browser sent it.
 */
function sessionPrincipal(plane: ControlPlane, req: IncomingMessage): Principal | undefined {
  const cookie = sessionCookieOf(req);
  if (!cookie) return undefined;
  const session = verifiedSession(plane, cookie);
  if (!session) throw new AirlockError("unauthorized", "the dashboard session has expired or its key was revoked: sign in again");
  if (!SAFE_METHODS.has(req.method ?? "GET")) {
    const sent = req.headers[CSRF_HEADER];
    if (!csrfMatches(session, typeof sent === "string" ? sent : undefined)) throw new AirlockError("forbidden", `missing or invalid ${CSRF_HEADER}`, { param: CSRF_HEADER });
  }
  return session.principal;
}

/** The request's dashboard session, when it carries a cookie that is signed, unexpired and of a live key. */
export function dashboardSession(plane: ControlPlane, req: IncomingMessage): Session | undefined {
  const cookie = sessionCookieOf(req);
  return cookie ? verifiedSession(plane, cookie) : undefined;
}

function verifiedSession(plane: ControlPlane, cookie: string): Session | undefined {
  return verifySession(plane.keys.sessionSecretOf, cookie, Date.now(), plane.keys.sessionEnded);
}
