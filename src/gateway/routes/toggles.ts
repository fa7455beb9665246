import { z } from "zod";
import { parseRequest } from "../../config/load.js";
import { AirlockError } from "../../core/errors.js";
import { requireAdmin, requirePrincipal } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { nameParam, newNameParam, readJson, sendJson } from "../http.js";

const controlledBy = z.enum(["ADMIN_ONLY", "USER", "BOTH"]);
/**
 * A toggle's notes are a line or two. Unbounded, a key that may not change them could still have each
 * refused attempt, notes and all, kept in the audit log: a megabyte a request, and every audit view after.
 */
export const TOGGLE_NOTES_MAX_LENGTH = 2_000;
const notes = z.string().max(TOGGLE_NOTES_MAX_LENGTH).nullable().optional();
const changeBody = z.strictObject({
  enabled: z.boolean().optional(),
  locked: z.boolean().optional(),
  controlledBy: controlledBy.optional(),
  notes,
});
const putBody = z.strictObject({ enabled: z.boolean(), locked: z.boolean().default(false), controlledBy: controlledBy.default("ADMIN_ONLY"), notes });
const nameOf = (params: Record<string, string | undefined>) => nameParam(params, "toggle");

/** `GET /v1/toggles`: every toggle, for any key. */
export function listToggles(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requirePrincipal(gw.plane, req, scope);
    sendJson(res, 200, { data: gw.plane.toggles.list() });
  };
}

/** `GET /v1/toggles/:name`: one toggle; `enabled` is `isEnabled(name)`. */
export function getToggle(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    await requirePrincipal(gw.plane, req, scope);
    const name = nameOf(params);
    const toggle = gw.plane.toggles.get(name);
    if (!toggle) throw new AirlockError("not_found", `no feature toggle named "${name}"`);
    sendJson(res, 200, toggle);
  };
}

/** `POST /v1/toggles/:name/enforce`: 200 when the toggle is on, else `disabled` (503) naming it. */
export function enforceToggle(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    await requirePrincipal(gw.plane, req, scope);
    const name = nameOf(params);
    gw.plane.toggles.enforce(name);
    sendJson(res, 200, { name, enabled: true });
  };
}

/** `PATCH /v1/toggles/:name`: a change, allowed or refused (403, audited) by who asks. */
export function changeToggle(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const name = nameOf(params);
    const change = parseRequest(changeBody, await readJson(req, gw), "feature toggle");
    sendJson(res, 200, await gw.plane.toggles.change(name, change, principal));
  };
}

/** `PUT /admin/toggles/:name`: creates or replaces a toggle. */
export function putToggle(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const name = newNameParam(params, "toggle");
    const existed = gw.plane.toggles.get(name) !== undefined;
    const saved = await gw.plane.toggles.put({ name, ...parseRequest(putBody, await readJson(req, gw), "feature toggle") }, principal);
    sendJson(res, existed ? 200 : 201, saved);
  };
}
