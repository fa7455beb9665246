import { PRINCIPAL_KINDS, type PrincipalKind } from "../../auth/principal.js";
import { AirlockError } from "../../core/errors.js";
import { parseSince } from "../../core/duration.js";
import { SPEND_GROUPS, type SpendGroup } from "../../store/queries/ledger.js";
import { spendCsv, totalCost } from "../../ledger/reports.js";
import { requireAdmin } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { enumParam, isObject, readJson, sendJson } from "../http.js";

/** `POST /admin/keys`: the secret is in this response and nowhere else, ever. */
export function createKey(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const body = await readJson(req, gw.bodyLimitBytes);
    if (!isObject(body)) throw new AirlockError("invalid_request", "the body must be a JSON object");
    const name = optionalString(body, "name");
    if (!name) throw new AirlockError("invalid_request", "name is required", { param: "name" });
    const kind = body.kind ?? "user";
    if (typeof kind !== "string" || !(PRINCIPAL_KINDS as readonly string[]).includes(kind)) {
      throw new AirlockError("invalid_request", `kind must be one of ${PRINCIPAL_KINDS.join(", ")}`, { param: "kind" });
    }
    const created = await gw.plane.createKey({ name, kind: kind as PrincipalKind, userId: optionalString(body, "user"), teamId: optionalString(body, "team"), orgId: optionalString(body, "org") }, principal);
    gw.logger.info({ requestId: scope.requestId, keyId: created.key.id, kind }, "api key created");
    sendJson(res, 201, { ...created.key, key: created.secret });
  };
}

export function listKeys(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, { data: await gw.plane.listKeys() });
  };
}

export function revokeKey(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const revoked = await gw.plane.revokeKey(params.id ?? "", principal);
    if (!revoked) throw new AirlockError("not_found", `no active key with id "${params.id}"`);
    gw.logger.info({ requestId: scope.requestId, keyId: revoked.id }, "api key revoked");
    sendJson(res, 200, revoked);
  };
}

/** `GET /admin/spend?by=operation&since=24h` */
export function spend(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const by: SpendGroup = enumParam(query, "by", SPEND_GROUPS) ?? "operation";
    const sinceText = query.get("since") ?? "24h";
    const since = parseSince(sinceText);
    if (!since) throw new AirlockError("invalid_request", 'since must be a duration such as "24h" or "7d", or an ISO date', { param: "since" });
    const lines = await gw.plane.reports.spend(by, since);
    if (query.get("format") === "csv") {
      const csv = spendCsv(by, lines);
      res.writeHead(200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="airlock-spend-by-${by}.csv"`, "content-length": Buffer.byteLength(csv) });
      res.end(csv);
      return;
    }
    sendJson(res, 200, { by, since: since.toISOString(), total: totalCost(lines), lines });
  };
}

/** `GET /admin/spend/series?by=operation&grain=hour&since=24h`: spend per hour or day, split by one dimension, from the rollups. */
export function spendSeries(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const by = enumParam(query, "by", SERIES_DIMENSIONS) ?? "operation";
    const grain = enumParam(query, "grain", ["hour", "day"] as const) ?? "day";
    const since = parseSince(query.get("since") ?? "7d");
    if (!since) throw new AirlockError("invalid_request", 'since must be a duration such as "24h" or "7d", or an ISO date', { param: "since" });
    sendJson(res, 200, { by, grain, since: since.toISOString(), points: await gw.plane.reports.spendSeries(by, grain, since) });
  };
}

const SERIES_DIMENSIONS = SPEND_GROUPS.filter((group): group is Exclude<SpendGroup, "day"> => group !== "day");

/** `GET /admin/calls?limit=50`: the latest ledger rows. */
export function recentCalls(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const limit = Math.min(1000, Math.max(1, Number(query.get("limit") ?? 50) || 50));
    sendJson(res, 200, { data: await gw.plane.reports.recentCalls(limit) });
  };
}

export function status(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requireAdmin(gw.plane, req, scope);
    const loaded = gw.plane.loaded;
    sendJson(res, 200, {
      demo: loaded.config.demo,
      config: { source: loaded.source, hash: loaded.hash },
      store: gw.plane.database.kind,
      ledger: gw.plane.ledgerStats,
      breakers: gw.plane.breakerStates(),
      startedAt: gw.startedAt.toISOString(),
    });
  };
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new AirlockError("invalid_request", `${field} must be a string`, { param: field });
  return value.trim() || undefined;
}
