import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { AirlockError } from "../../core/errors.js";
import { DASHBOARD_CSS, DASHBOARD_HTML } from "../../dashboard/page.js";
import { CSRF_HEADER, csrfMatches, issueSession, SESSION_TTL_MS, setCookieHeader } from "../../dashboard/sessions.js";
import type { GatewayContext, Handler } from "../context.js";
import { readJson, sendJson } from "../http.js";
import { dashboardSession } from "../auth.js";

/**
 * No inline script or style, nothing from elsewhere, never framed: even a value that slipped past
 * escaping could not run.
 */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

function sendText(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { "content-type": `${type}; charset=utf-8`, "content-length": Buffer.byteLength(body), ...PAGE_HEADERS });
  res.end(body);
}

/** `GET /`: the dashboard's page. It shows the sign-in form until the session says otherwise. */
export function page(): Handler {
  return async (_req, res) => sendText(res, "text/html", DASHBOARD_HTML);
}

export function stylesheet(): Handler {
  return async (_req, res) => sendText(res, "text/css", DASHBOARD_CSS);
}

/** The client's modules, served as written. Nothing else under public/ is reachable. */
const CLIENT_MODULES = new Set(["app.js", "lib.js", "money.js", "overview.js", "chart.js", "controls.js", "kill-switch.js", "editors.js", "changes.js"]);
const modules = new Map<string, Promise<string>>();

/** `GET /dashboard/<module>.js`: read once, from beside this build (src/ under tsx, dist/ once built). */
export function clientScript(): Handler {
  return async (_req, res, _scope, params) => {
    const name = params.file ?? "";
    if (!CLIENT_MODULES.has(name)) throw new AirlockError("not_found", `no dashboard file "${name}"`);
    let text = modules.get(name);
    if (!text) {
      text = readFile(new URL(`../../dashboard/public/${name}`, import.meta.url), "utf8");
      modules.set(name, text);
    }
    sendText(res, "text/javascript", await text);
  };
}

/** `POST /dashboard/login` `{"key"}`: an admin key becomes a session cookie (HttpOnly, SameSite=Strict). */
export function login(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const body = await readJson(req, gw);
    const key = typeof body === "object" && body !== null ? (body as { key?: unknown }).key : undefined;
    if (typeof key !== "string" || key.length === 0) throw new AirlockError("invalid_request", "send the admin key as {\"key\": \"sk-…\"}", { param: "key" });
    const principal = await gw.plane.authenticate(key);
    if (!principal) throw new AirlockError("unauthorized", "invalid API key");
    if (principal.kind !== "admin") throw new AirlockError("forbidden", "the dashboard needs an admin key");
    const issued = issueSession(gw.plane.keys.sessionSecretOf, principal.keyId, Date.now());
    if (!issued) throw new AirlockError("unauthorized", "invalid API key");
    scope.log.keyId = principal.keyId;
    gw.logger.info({ keyId: principal.keyId }, "dashboard sign-in");
    sendJson(res, 200, { name: principal.name, keyId: principal.keyId, csrf: issued.session.csrf, expiresAt: new Date(issued.session.expiresAt).toISOString() }, { "set-cookie": setCookieHeader(req, issued.cookie, SESSION_TTL_MS / 1000), "cache-control": "no-store" });
  };
}

/**
 * `GET /dashboard/session`: who is signed in, and the CSRF token, for a page that was reloaded. Not being
 * signed in is an answer here, not a refusal: every page opened signed out asks this first, and a 401
 * would be logged in its console as an error each time. The admin API still refuses with 401.
 */
export function session(gw: GatewayContext): Handler {
  return async (req, res) => {
    const found = dashboardSession(gw.plane, req);
    if (!found) return sendJson(res, 200, { signedIn: false }, { "cache-control": "no-store" });
    sendJson(res, 200, { signedIn: true, name: found.principal.name, keyId: found.principal.keyId, csrf: found.csrf, expiresAt: new Date(found.expiresAt).toISOString() }, { "cache-control": "no-store" });
  };
}

/**
 * `POST /dashboard/logout`: ends the session on every instance, then forgets the cookie. Clearing the
 * cookie alone would leave a copy of it valid until it expired.
 */
export function logout(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const found = dashboardSession(gw.plane, req);
    if (found) {
      // Like every other change: SameSite keeps other sites' requests out, but not a sibling subdomain's.
      const sent = req.headers[CSRF_HEADER];
      if (!csrfMatches(found, typeof sent === "string" ? sent : undefined)) throw new AirlockError("forbidden", `missing or invalid ${CSRF_HEADER}`, { param: CSRF_HEADER });
      scope.log.keyId = found.principal.keyId;
      await gw.plane.endDashboardSession(found.id, found.expiresAt);
      gw.logger.info({ keyId: found.principal.keyId }, "dashboard sign-out");
    }
    sendJson(res, 200, { signedOut: true }, { "set-cookie": setCookieHeader(req, "", 0), "cache-control": "no-store" });
  };
}
