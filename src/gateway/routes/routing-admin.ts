import { AirlockError } from "../../core/errors.js";
import { fallbackReport } from "../../ledger/reports.js";
import type { StoredRoute } from "../../routing/route-book.js";
import { requireAdmin, requirePrincipal } from "../auth.js";
import { proposeInstead } from "./changes-admin.js";
import type { GatewayContext, Handler } from "../context.js";
import { readJson, sendJson, sinceParam } from "../http.js";

/** `GET /admin/routes`: every route, where its version came from, and what it resolves to now. */
export function listRoutes(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, { data: gw.plane.listRoutes().map((route) => describe(gw, route)) });
  };
}

export function getRoute(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, describe(gw, found(gw, params.name)));
  };
}

/** `PUT /admin/routes/:name`: the whole definition, validated against every other route before it is written. */
export function putRoute(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const body = await readJson(req, gw);
    const name = params.name ?? "";
    if (principal.kind !== "admin") return proposeInstead(gw, res, principal, "route", name, body);
    const existed = gw.plane.routes.get(name) !== undefined;
    const saved = await gw.plane.routes.put(name, body, principal.keyId);
    await gw.plane.audit.record("route.set", name, principal, { definition: saved.definition });
    gw.logger.info({ requestId: scope.requestId, operation: name, by: principal.keyId }, existed ? "route replaced" : "route created");
    sendJson(res, existed ? 200 : 201, describe(gw, saved));
  };
}

/** `PATCH /admin/routes/:name`: some fields, such as `{"enabled": false}`. */
export function patchRoute(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const body = await readJson(req, gw);
    if (principal.kind !== "admin") {
      const current = found(gw, params.name);
      return proposeInstead(gw, res, principal, "route", current.name, { ...current.definition, ...(body as object) });
    }
    const saved = await gw.plane.routes.patch(params.name ?? "", body, principal.keyId);
    await gw.plane.audit.record("route.set", saved.name, principal, { definition: saved.definition });
    gw.logger.info({ requestId: scope.requestId, operation: saved.name, by: principal.keyId, fields: Object.keys(body as object) }, "route changed");
    sendJson(res, 200, describe(gw, saved));
  };
}

/** `DELETE /admin/routes/:name`: the config file's version comes back, or the route goes. */
export function deleteRoute(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const name = params.name ?? "";
    const restored = await gw.plane.routes.remove(name);
    await gw.plane.audit.record("route.delete", name, principal, { restored: restored?.definition ?? null });
    gw.logger.info({ requestId: scope.requestId, operation: name, by: principal.keyId, restored: restored !== undefined }, "admin route removed");
    sendJson(res, 200, restored ? { deleted: false, restored: describe(gw, restored) } : { deleted: true, name });
  };
}

/** `GET /admin/reports/fallbacks?since=24h` */
export function fallbacks(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const since = sinceParam(query, "24h");
    sendJson(res, 200, fallbackReport(await gw.plane.reports.fallbackReport(since), since));
  };
}

/** `GET /admin/reports/reconciliation?since=30d`: Airlock's cost against the provider's own, per model. */
export function reconciliation(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const since = sinceParam(query, "30d", '"24h" or "30d"');
    sendJson(res, 200, { since: since.toISOString(), lines: await gw.plane.reports.reconciliation(since) });
  };
}

function found(gw: GatewayContext, name: string | undefined): StoredRoute {
  const route = gw.plane.routes.get(name ?? "");
  if (!route) throw new AirlockError("not_found", `no route "${name}"`);
  return route;
}

function describe(gw: GatewayContext, route: StoredRoute): Record<string, unknown> {
  const problem = gw.plane.routeProblem(route.name);
  return { ...route, candidates: gw.plane.routeCandidates(route.name), ...(problem ? { problem } : {}) };
}
