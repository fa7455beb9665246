import { AirlockError } from "../../core/errors.js";
import { directiveJsonSchema } from "../../governance/directives/directives.js";
import { DIRECTIVE_STATUSES } from "../../governance/directives/lifecycle.js";
import { RUN_STATUSES } from "../../governance/executions/run-lifecycle.js";
import { requireAdmin, requirePrincipal } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { enumParam, idParam, limitParam, readJson, sendJson, textParam } from "../http.js";

/**
 * `POST /admin/directives` (any key, an agent's too): a draft directive, 201. Sent again with the same
 * `Idempotency-Key`, it answers the directive made the first time, marked `Idempotent-Replayed: true`.
 */
export function createDirective(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const key = req.headers["idempotency-key"];
    const { directive, replayed } = await gw.plane.directives.issue(await readJson(req, gw), principal, Array.isArray(key) ? key.join(", ") : key);
    sendJson(res, 201, directive, replayed ? { "idempotent-replayed": "true" } : {});
  };
}

/**
 * `GET /admin/directives?status=proposed&limit=50&cursor=…` (admin): newest first by when each was made,
 * and `nextCursor` for the page after (null after the last).
 */
export function listDirectives(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const status = enumParam(query, "status", DIRECTIVE_STATUSES);
    sendJson(res, 200, await gw.plane.directives.list({ status, limit: limitParam(query), cursor: textParam(query, "cursor") }));
  };
}

/** `GET /admin/directives/schema`: the directive's JSON Schema. */
export function directiveSchema(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requirePrincipal(gw.plane, req, scope);
    sendJson(res, 200, directiveJsonSchema());
  };
}

/** `GET /admin/directives/:id`: the directive, the statuses it may move to, and its artifacts (an admin, or its issuer). */
export function getDirective(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const directive = await gw.plane.directives.get(idParam(params, "directive"));
    if (principal.kind !== "admin" && directive.issuedBy !== principal.keyId) throw new AirlockError("forbidden", "only an admin key, or the key that issued it, can read a directive");
    sendJson(res, 200, directive);
  };
}

/** `POST /admin/directives/:id/propose|approve|abort`. */
export function moveDirective(gw: GatewayContext, action: "propose" | "approve" | "abort"): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    sendJson(res, 200, await gw.plane.directives[action](idParam(params, "directive"), principal));
  };
}

/** `GET /admin/runs?status=running&limit=50&cursor=…` (admin): execution runs, newest first, and `nextCursor` for the page after. */
export function listRuns(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const status = enumParam(query, "status", RUN_STATUSES);
    sendJson(res, 200, await gw.plane.governance.executions.listRuns({ status, limit: limitParam(query), cursor: textParam(query, "cursor") }));
  };
}

/** `GET /admin/runs/:id` (admin): the run and its artifacts. */
export function getRun(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, await gw.plane.governance.executions.getRun(idParam(params, "run")));
  };
}

/** `GET /admin/artifacts/:id` (admin): one artifact with its content, wherever it is stored. */
export function getArtifact(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, await gw.plane.governance.artifacts.read(idParam(params, "artifact")));
  };
}
