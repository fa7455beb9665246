import { reportWindow } from "../../ledger/pnl.js";
import { requireAdmin } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { readJson, sendJson } from "../http.js";

/** `POST /admin/costs`: `{category, amount, periodStart, periodEnd, description?}`, an operating cost outside the AI calls. */
export function addOperatingCost(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const saved = await gw.plane.finance.addOperatingCost(await readJson(req, gw), principal.keyId);
    sendJson(res, 201, saved);
  };
}

/** `POST /admin/revenue`: `{strategy, amount, periodStart, periodEnd, description?}`. */
export function addRevenue(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const saved = await gw.plane.finance.addRevenue(await readJson(req, gw), principal.keyId);
    sendJson(res, 201, saved);
  };
}

/** `GET /admin/reports/pnl?from=2026-11-01&to=2026-11-30`: whole UTC days, both included; default the last 30. */
export function profitAndLoss(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const { from, to } = reportWindow(query.get("from"), query.get("to"));
    sendJson(res, 200, await gw.plane.finance.profitAndLoss(from, to));
  };
}
