import { z } from "zod";
import type { Principal } from "../../auth/principal.js";
import { parseRequest } from "../../config/load.js";
import { AirlockError } from "../../core/errors.js";
import { CHANGE_STATUSES, changeRequestFor, type ChangeKind } from "../../governance/change-control.js";
import { normalizeDecimal } from "../../store/queries/ledger.js";
import type { ApprovalGrantRow } from "../../store/schema/index.js";
import { requireAdmin, requirePrincipal } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { enumParam, idParam, limitParam, readJson, sendJson } from "../http.js";
import type { ServerResponse } from "node:http";

const decisionBody = z.strictObject({ note: z.string().max(2_000).optional() });

/** `POST /admin/change-requests` (any key): proposes a change; 201 with the pending request. */
export function proposeChange(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    sendJson(res, 201, changeRequestFor(principal, await gw.plane.changes.propose(await readJson(req, gw), principal)));
  };
}

/** `GET /admin/change-requests?status=PENDING&limit=50` (admin): newest first. */
export function listChanges(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const requests = await gw.plane.changes.list(enumParam(query, "status", CHANGE_STATUSES), limitParam(query));
    sendJson(res, 200, { data: requests.map((request) => changeRequestFor(principal, request)) });
  };
}

/** `GET /admin/change-requests/:id`: an admin, or the key that proposed it. */
export function getChange(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const request = await gw.plane.changes.get(idParam(params, "change request"));
    if (principal.kind !== "admin" && request.requestedBy !== principal.keyId) throw new AirlockError("forbidden", "only an admin key, or the key that proposed it, can read a change request");
    sendJson(res, 200, changeRequestFor(principal, request));
  };
}

/** `POST /admin/change-requests/:id/approve` with `{note?}`: applies it, or says why not. */
export function approveChange(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const { note } = parseRequest(decisionBody, await readJson(req, gw, { empty: {} }), "approval");
    sendJson(res, 200, changeRequestFor(principal, await gw.plane.changes.approve(idParam(params, "change request"), principal, note)));
  };
}

/** `POST /admin/change-requests/:id/reject` with `{note?}`: an admin, or the proposer withdrawing it. */
export function rejectChange(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const { note } = parseRequest(decisionBody, await readJson(req, gw, { empty: {} }), "rejection");
    sendJson(res, 200, changeRequestFor(principal, await gw.plane.changes.reject(idParam(params, "change request"), principal, note)));
  };
}

/** A grant's amounts as every other answer writes money: the numeric column's twelve places are storage, not meaning. */
function shownGrant(grant: ApprovalGrantRow): ApprovalGrantRow {
  return { ...grant, spendUsed: normalizeDecimal(grant.spendUsed), maxSpendUsd: grant.maxSpendUsd === null ? null : normalizeDecimal(grant.maxSpendUsd) };
}

/** `GET /admin/grants?limit=50` (admin): approval grants, newest first, with their use. */
export function listGrants(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const limit = limitParam(query);
    sendJson(res, 200, { data: (await gw.plane.grants.list(limit)).map(shownGrant) });
  };
}

/** `POST /admin/grants` (admin) with `{keyId, operation, expiresInHours?: 24, maxCalls?, maxSpendUsd?}`: 201 with the grant. */
export function createGrant(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    sendJson(res, 201, shownGrant(await gw.plane.grants.grant(await readJson(req, gw), principal)));
  };
}

/** `DELETE /admin/grants/:id` (admin): revokes it at once, on every instance. */
export function revokeGrant(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const id = idParam(params, "live grant");
    if (!(await gw.plane.grants.revoke(id, principal))) throw new AirlockError("not_found", `no live grant "${id}"`);
    sendJson(res, 200, { id, revoked: true });
  };
}

/**
 * A change sent to the admin API by a key that is not an admin's: not applied. Margin-impacting, it
 * becomes a pending change request, answered 202; otherwise it is refused (403).
 */
export async function proposeInstead(gw: GatewayContext, res: ServerResponse, principal: Principal, kind: ChangeKind, target: string, proposed: unknown): Promise<void> {
  const request = await gw.plane.changes.proposeDirect(kind, target, proposed, principal);
  sendJson(res, 202, { status: "PENDING", change_request: request.id, message: `not applied: a ${kind} change by a ${principal.kind} key needs an admin's approval`, request: changeRequestFor(principal, request) });
}
