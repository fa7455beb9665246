import { AirlockError } from "../../core/errors.js";
import { spendCsv, totalCost } from "../../ledger/reports.js";
import { FILTER_NAMES, type LedgerFilters } from "../../store/queries/ledger-filters.js";
import { normalizeDecimal, SPEND_GROUPS, type SpendGroup } from "../../store/queries/ledger.js";
import type { LedgerRow } from "../../store/schema/index.js";
import { SERIES_DIMENSIONS } from "../../store/queries/spend-series.js";
import { requireAdmin } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { enumParam, limitParam, sendJson, sinceParam } from "../http.js";

/** `GET /admin/spend?by=operation&since=24h[&operation=…&model=…&user=…]` */
export function spend(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const by: SpendGroup = enumParam(query, "by", SPEND_GROUPS) ?? "operation";
    const since = sinceParam(query, "24h");
    const format = enumParam(query, "format", ["json", "csv"] as const) ?? "json";
    const filters = filtersOf(query);
    const lines = await gw.plane.reports.spend(by, since, filters);
    if (format === "csv") {
      const csv = spendCsv(by, lines);
      res.writeHead(200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="airlock-spend-by-${by}.csv"`, "content-length": Buffer.byteLength(csv) });
      res.end(csv);
      return;
    }
    sendJson(res, 200, { by, since: since.toISOString(), filters, total: totalCost(lines), lines });
  };
}

/** `GET /admin/spend/series?by=operation&grain=hour&since=24h[&filters]`: spend per hour or day, split by one dimension. */
export function spendSeries(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const by = enumParam(query, "by", SERIES_DIMENSIONS) ?? "operation";
    const grain = enumParam(query, "grain", ["hour", "day"] as const) ?? "day";
    const since = sinceParam(query, "7d");
    const filters = filtersOf(query);
    sendJson(res, 200, { by, grain, since: since.toISOString(), filters, points: await gw.plane.reports.spendSeries(by, grain, since, filters) });
  };
}

/** `GET /admin/overview?since=24h[&operation=…&model=…&user=…]`: the dashboard's panels, summed by the server, with the SLO readings. */
export function overview(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, await gw.plane.reports.overview(sinceParam(query, "24h"), filtersOf(query), gw.plane.loaded.config.dashboard.slo));
  };
}

/** `GET /admin/calls?limit=50[&filters]`: the latest ledger rows. */
export function recentCalls(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const rows = await gw.plane.reports.recentCalls(limitParam(query), filtersOf(query));
    sendJson(res, 200, { data: rows.map(shownCall) });
  };
}

/** A ledger row as every other answer writes money ("0.002241"): the numeric columns' places are storage, not meaning. */
function shownCall(row: LedgerRow): LedgerRow {
  const decimal = (value: string | null) => (value === null ? null : normalizeDecimal(value));
  return { ...row, cost: normalizeDecimal(row.cost), providerCost: decimal(row.providerCost), audioSeconds: decimal(row.audioSeconds) };
}

/** `operation`, `model` and `user` narrow a report to the calls that match all of them; `(none)` matches calls without one. */
function filtersOf(query: URLSearchParams): LedgerFilters {
  const filters: LedgerFilters = {};
  for (const name of FILTER_NAMES) {
    const value = query.get(name)?.trim();
    if (!value) continue;
    if (value.length > 200) throw new AirlockError("invalid_request", `${name} must be at most 200 characters`, { param: name });
    // The store's text cannot hold a NUL, so the query would fail inside it; no call can carry one either.
    if (value.includes("\u0000")) throw new AirlockError("invalid_request", `${name} must not contain a NUL character (\\u0000)`, { param: name });
    filters[name] = value;
  }
  return filters;
}
