import { newKeySchema } from "../../auth/new-key.js";
import { parseRequest } from "../../config/load.js";
import { AirlockError } from "../../core/errors.js";
import { requireAdmin } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { idParam, readJson, sendJson } from "../http.js";

/** `POST /admin/keys`: the secret is in this response and nowhere else, ever. */
export function createKey(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const body = parseRequest(newKeySchema, await readJson(req, gw), "key");
    const created = await gw.plane.createKey({ name: body.name, kind: body.kind, userId: body.user, teamId: body.team, orgId: body.org, expiresAt: body.expiresAt, models: body.models }, principal);
    gw.logger.info({ requestId: scope.requestId, keyId: created.key.id, kind: body.kind }, "api key created");
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
    const id = idParam(params, "active key with id");
    const revoked = await gw.plane.revokeKey(id, principal);
    if (!revoked) throw new AirlockError("not_found", `no active key with id "${id}"`);
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
