import { PRINCIPAL_KINDS, type PrincipalKind } from "../../auth/principal.js";
import { AirlockError } from "../../core/errors.js";
import { requireAdmin } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { isObject, readJson, sendJson } from "../http.js";

/** `POST /admin/keys`: the secret is in this response and nowhere else, ever. */
export function createKey(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const body = await readJson(req, gw);
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
