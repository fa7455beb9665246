import type { GatewayContext, Handler } from "./context.js";
import * as admin from "./routes/admin.js";
import * as openai from "./routes/openai.js";
import * as ops from "./routes/ops.js";
import * as finance from "./routes/finance-admin.js";
import * as audio from "./routes/audio.js";
import * as guards from "./routes/guards-admin.js";
import * as webhooks from "./routes/webhooks-admin.js";
import * as changes from "./routes/changes-admin.js";
import * as directives from "./routes/directives-admin.js";
import * as toggles from "./routes/toggles.js";
import * as prices from "./routes/prices-admin.js";
import * as routing from "./routes/routing-admin.js";
import * as dashboard from "./routes/dashboard.js";
import * as reports from "./routes/reports-admin.js";

/** A route: its method (GET serves HEAD too), its path as find-my-way reads it, and its handler. */
export type Route = [method: string, path: string, handler: Handler];

/** Every route the gateway serves. */
export function routeTable(gw: GatewayContext): Route[] {
  return [
    ["GET", "/", dashboard.page()],
    ["GET", "/dashboard/app.css", dashboard.stylesheet()],
    ["GET", "/dashboard/:file", dashboard.clientScript()],
    ["GET", "/dashboard/session", dashboard.session(gw)],
    ["POST", "/dashboard/login", dashboard.login(gw)],
    ["POST", "/dashboard/logout", dashboard.logout(gw)],
    ["GET", "/healthz", ops.healthz()],
    ["GET", "/readyz", ops.readyz(gw)],
    ["GET", "/metrics", ops.metrics(gw)],
    ["POST", "/v1/chat/completions", openai.chatCompletions(gw)],
    ["POST", "/v1/embeddings", openai.embeddings(gw)],
    ["POST", "/v1/audio/transcriptions", audio.transcriptions(gw)],
    ["POST", "/v1/audio/speech", audio.speech(gw)],
    ["GET", "/v1/models", openai.listModels(gw)],
    ["GET", "/v1/models/*", openai.retrieveModel(gw)],
    ["GET", "/admin/status", admin.status(gw)],
    ["GET", "/admin/keys", admin.listKeys(gw)],
    ["POST", "/admin/keys", admin.createKey(gw)],
    ["DELETE", "/admin/keys/:id", admin.revokeKey(gw)],
    ["GET", "/admin/spend", reports.spend(gw)],
    ["GET", "/admin/spend/series", reports.spendSeries(gw)],
    ["GET", "/admin/overview", reports.overview(gw)],
    ["GET", "/admin/calls", reports.recentCalls(gw)],
    ["GET", "/admin/kill-switch", guards.killSwitchStatus(gw)],
    ["POST", "/admin/kill-switch", guards.flipKillSwitch(gw)],
    ["GET", "/admin/audit", guards.auditEvents(gw)],
    ["POST", "/admin/change-requests", changes.proposeChange(gw)],
    ["GET", "/admin/change-requests", changes.listChanges(gw)],
    ["GET", "/admin/change-requests/:id", changes.getChange(gw)],
    ["POST", "/admin/change-requests/:id/approve", changes.approveChange(gw)],
    ["POST", "/admin/change-requests/:id/reject", changes.rejectChange(gw)],
    ["POST", "/admin/directives", directives.createDirective(gw)],
    ["GET", "/admin/directives", directives.listDirectives(gw)],
    ["GET", "/admin/directives/schema", directives.directiveSchema(gw)],
    ["GET", "/admin/directives/:id", directives.getDirective(gw)],
    ["POST", "/admin/directives/:id/propose", directives.moveDirective(gw, "propose")],
    ["POST", "/admin/directives/:id/approve", directives.moveDirective(gw, "approve")],
    ["POST", "/admin/directives/:id/abort", directives.moveDirective(gw, "abort")],
    ["GET", "/admin/runs", directives.listRuns(gw)],
    ["GET", "/admin/runs/:id", directives.getRun(gw)],
    ["GET", "/admin/artifacts/:id", directives.getArtifact(gw)],
    ["GET", "/admin/grants", changes.listGrants(gw)],
    ["POST", "/admin/grants", changes.createGrant(gw)],
    ["DELETE", "/admin/grants/:id", changes.revokeGrant(gw)],
    ["GET", "/admin/rate-limits", guards.rateLimits(gw)],
    ["PUT", "/admin/rate-limits/:name", guards.putRateLimit(gw)],
    ["DELETE", "/admin/rate-limits/:name", guards.deleteRateLimit(gw)],
    ["GET", "/admin/budgets", guards.listBudgets(gw)],
    ["GET", "/admin/webhooks/deliveries", webhooks.listDeliveries(gw)],
    ["POST", "/admin/webhooks/deliveries/:id/resend", webhooks.resendDelivery(gw)],
    ["PUT", "/admin/budgets/:name", guards.putBudget(gw)],
    ["DELETE", "/admin/budgets/:name", guards.deleteBudget(gw)],
    ["GET", "/v1/toggles", toggles.listToggles(gw)],
    ["GET", "/v1/toggles/:name", toggles.getToggle(gw)],
    ["POST", "/v1/toggles/:name/enforce", toggles.enforceToggle(gw)],
    ["PATCH", "/v1/toggles/:name", toggles.changeToggle(gw)],
    ["PUT", "/admin/toggles/:name", toggles.putToggle(gw)],
    ["GET", "/admin/routes", routing.listRoutes(gw)],
    ["GET", "/admin/routes/:name", routing.getRoute(gw)],
    ["PUT", "/admin/routes/:name", routing.putRoute(gw)],
    ["PATCH", "/admin/routes/:name", routing.patchRoute(gw)],
    ["DELETE", "/admin/routes/:name", routing.deleteRoute(gw)],
    ["GET", "/admin/reports/fallbacks", routing.fallbacks(gw)],
    ["GET", "/admin/reports/reconciliation", routing.reconciliation(gw)],
    ["GET", "/admin/reports/pnl", finance.profitAndLoss(gw)],
    ["POST", "/admin/costs", finance.addOperatingCost(gw)],
    ["POST", "/admin/revenue", finance.addRevenue(gw)],
    ["GET", "/admin/prices", prices.listPrices(gw)],
    ["GET", "/admin/prices/history", prices.priceHistory(gw)],
    ["POST", "/admin/prices", prices.setPrice(gw)],
    ["POST", "/admin/prices/import", prices.importPrices(gw)],
  ];
}

/**
 * Whether a route changes something through the admin API, and so counts against a key's
 * server.adminWritesPerMinute: every admin write, and the change of a feature toggle, which sits under /v1
 * but is the same kind of change (audited, refused or allowed by who asks).
 */
export function changesThroughAdminApi(method: string, path: string): boolean {
  if (method === "GET") return false;
  return path.startsWith("/admin/") || (method === "PATCH" && path.startsWith("/v1/toggles/"));
}
