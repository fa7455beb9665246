import { parseRequest } from "../../config/load.js";
import { AirlockError } from "../../core/errors.js";
import { requireAdmin, requirePrincipal } from "../auth.js";
import { proposeInstead } from "./changes-admin.js";
import { flipInputSchema } from "../../guards/kill-switch.js";
import type { GatewayContext, Handler } from "../context.js";
import { limitParam, nameParam, newNameParam, optionalSinceParam, readJson, sendJson, textParam } from "../http.js";


/** `GET /admin/kill-switch`: the global switch, each operation's, and whether this instance can confirm them. */
export function killSwitchStatus(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, gw.plane.killSwitch.status());
  };
}

/** `POST /admin/kill-switch`: `{active, operation?, reason}`. Every flip is audited with who and why. */
export function flipKillSwitch(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const flip = parseRequest(flipInputSchema, await readJson(req, gw), "kill switch");
    sendJson(res, 200, await gw.plane.flipKillSwitch(flip, principal));
  };
}

/** `GET /admin/audit?since=24h&action=change_request.&limit=50`: the newest changes and refused attempts first. */
export function auditEvents(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const limit = limitParam(query);
    const since = optionalSinceParam(query);
    sendJson(res, 200, { data: await gw.plane.audit.recent(limit, { since, action: textParam(query, "action") }) });
  };
}

const budgetName = (params: Record<string, string | undefined>) => nameParam(params, "budget");

/** `GET /admin/budgets`: every budget with its open window's spend, reservations and remaining room. */
export function listBudgets(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, { data: await gw.plane.budgets.status() });
  };
}

/** `PUT /admin/budgets/:name`: `{scope, target?, window?, timezone?, limit, warnAt?}`; audited. */
export function putBudget(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const name = newNameParam(params, "budget");
    const body = await readJson(req, gw);
    if (principal.kind !== "admin") return proposeInstead(gw, res, principal, "budget", name, body);
    sendJson(res, 200, await gw.plane.budgets.put(name, body, principal));
  };
}

/** `DELETE /admin/budgets/:name`; audited. The budget's past windows stay as history. */
export function deleteBudget(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const name = budgetName(params);
    if (!(await gw.plane.budgets.remove(name, principal))) throw new AirlockError("not_found", `no budget named "${name}"`);
    sendJson(res, 200, { name, deleted: true });
  };
}

const rateLimitName = (params: Record<string, string | undefined>) => nameParam(params, "rate limit");

/** `GET /admin/rate-limits` (admin): the rate limits in force, the config file's and those an admin set. */
export function rateLimits(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, { data: gw.plane.rateLimits.list() });
  };
}

/** `PUT /admin/rate-limits/:name` (admin): creates or replaces a limit, in force at once on every instance; audited. */
export function putRateLimit(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const name = newNameParam(params, "rate limit");
    const body = await readJson(req, gw);
    const saved = await gw.plane.rateLimits.put(name, body, principal);
    gw.logger.info({ requestId: scope.requestId, rateLimit: saved.name, by: principal.keyId }, "rate limit set");
    sendJson(res, 200, saved);
  };
}

/** `DELETE /admin/rate-limits/:name` (admin); audited. */
export function deleteRateLimit(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const name = rateLimitName(params);
    if (!(await gw.plane.rateLimits.remove(name, principal))) throw new AirlockError("not_found", `no rate limit named "${name}"`);
    sendJson(res, 200, { name, deleted: true });
  };
}
