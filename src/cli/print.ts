import type { KillSwitchStatus } from "../guards/kill-switch.js";
import type { PublicKey } from "../auth/keys.js";
import type { FallbackReport } from "../ledger/reports.js";
import type { StoredRoute } from "../routing/route-book.js";
import type { ProfitAndLoss } from "../ledger/pnl.js";
import type { ReconciliationReport, SpendReport } from "./admin-client.js";
import type { AuditEventRow, ChangeImpact, ChangeRequestRow, DirectiveRow, ExecutionRunRow, WebhookDeliveryRow } from "../store/schema/index.js";
import type { DeliveryPage } from "../governance/webhook-deliveries.js";
import type { Page } from "../core/page-cursor.js";
import type { Overview } from "../ledger/overview.js";
import type { ChangeRequestView, WithheldImpact } from "../governance/change-control.js";
import type { RateLimitStatus } from "../guards/rate-limit-rules.js";
import type { BudgetStatus } from "../guards/budget-book.js";

/** C0 and C1 controls but line feed and tab: an escape sequence in a stored label would otherwise drive the terminal it is printed to. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Text for the terminal, with every control character but line feed and tab shown as U+FFFD. */
export function terminalText(text: string): string {
  return text.replace(CONTROL, "\ufffd");
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function printKeys(keys: PublicKey[]): string {
  if (keys.length === 0) return "No keys yet. Create one with `airlock keys create --name NAME --kind user`.";
  return table(
    ["id", "name", "kind", "prefix", "user", "team", "org", "created", "expires", "revoked"],
    keys.map((k) => [k.id, k.name, k.kind, k.prefix + "…", k.userId ?? "", k.teamId ?? "", k.orgId ?? "", k.createdAt, k.expiresAt ?? "", k.revokedAt ?? ""]),
  );
}

export function printSpend(report: SpendReport): string {
  const body = report.lines.length
    ? table(
        [report.by, "requests", "errors", "input tokens", "output tokens", "cost (USD)"],
        report.lines.map((l) => [l.group, String(l.requests), String(l.errors), String(l.inputTokens), String(l.outputTokens), l.cost]),
      )
    : "No calls in this period.";
  return `Spend since ${report.since}, by ${report.by}\n\n${body}\n\nTotal: $${report.total}`;
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

export function printFallbacks(report: FallbackReport): string {
  if (report.lines.length === 0) return `No calls reached a provider since ${report.since}.`;
  const reasons = (r: Record<string, number>) =>
    Object.entries(r)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(", ");
  const body = table(
    ["operation", "model", "calls", "fallback rate", "error rate", "retries", "top failure reasons"],
    report.lines.map((l) => [l.operation, l.model, String(l.calls), percent(l.fallbackRate), percent(l.errorRate), String(l.retries), reasons(l.reasons)]),
  );
  return `Fallbacks since ${report.since}\n\n${body}\n\nAll: ${report.calls} calls, fallback rate ${percent(report.fallbackRate)}, error rate ${percent(report.errorRate)}`;
}

export function printRoutes(routes: Array<StoredRoute & { candidates?: string[] }>): string {
  if (routes.length === 0) return "No routes. Add operations to the config file, or PUT /admin/routes/NAME.";
  return table(
    ["operation", "enabled", "primary", "fallbacks", "resolves to", "source", "updated"],
    routes.map((r) => [r.name, r.definition.enabled === false ? "no" : "yes", r.definition.model, (r.definition.fallbacks ?? []).join(", "), (r.candidates ?? []).join(" → "), r.source, r.updatedAt]),
  );
}

export function printReconciliation(report: ReconciliationReport): string {
  if (report.lines.length === 0) return `No calls since ${report.since} carry a provider-reported cost.`;
  const body = table(
    ["model", "provider", "calls", "airlock cost", "provider cost", "difference", "calls that differ"],
    report.lines.map((l) => [l.model, l.provider, String(l.calls), l.cost, l.providerCost, l.difference, String(l.mismatched)]),
  );
  return `Provider-reported cost against Airlock's, since ${report.since} (USD)\n\n${body}`;
}

export function printProfitAndLoss(pnl: ProfitAndLoss): string {
  const rows: string[][] = [
    ...Object.entries(pnl.revenue.byStrategy).map(([strategy, amount]) => ["revenue", strategy, amount]),
    ["revenue", "(total)", pnl.revenue.total],
    ["cost", "AI calls (ledger)", pnl.costs.aiLedger],
    ...Object.entries(pnl.costs.byCategory).map(([category, amount]) => ["cost", category, amount]),
    ["cost", "(total)", pnl.costs.total],
  ];
  const margin = pnl.margin === null ? "n/a (no revenue)" : `${(pnl.margin * 100).toFixed(2)}%`;
  return `Profit and loss, ${pnl.from} to ${pnl.to} (UTC days, USD)\n\n${table(["", "line", "amount"], rows)}\n\nProfit: ${pnl.profit}   Margin: ${margin}   AI calls: ${pnl.aiCalls}`;
}

export function printKillSwitch(status: KillSwitchStatus): string {
  const when = (state: { updatedBy: string; updatedAt: Date | string }) => `by ${state.updatedBy} at ${new Date(state.updatedAt).toISOString()}`;
  const lines = [status.global?.active ? `Kill switch ON for all calls: ${status.global.reason} (${when(status.global)})` : "Kill switch off for all calls."];
  for (const op of status.operations.filter((o) => o.active)) lines.push(`Operation ${op.operation}: ON, ${op.reason} (${when(op)})`);
  if (!status.confirmed) lines.push("This instance cannot confirm the state with the store: its calls are stopped until it can.");
  return lines.join("\n");
}

const iso = (value: Date | string | null) => (value === null ? "" : new Date(value).toISOString());

export function printApprovals(requests: ChangeRequestRow[]): string {
  if (requests.length === 0) return "No change requests.";
  return table(
    ["id", "status", "kind", "target", "category", "savings/month", "requested by", "requested", "expires"],
    requests.map((r) => [r.id, r.status, r.kind, r.target, r.category, r.estimatedSavingsUsd ?? "", `${r.requestedBy} (${r.requestedByKind})`, iso(r.requestedAt), iso(r.expiresAt)]),
  );
}

export function printApproval(r: ChangeRequestRow | ChangeRequestView): string {
  const lines = [
    `${r.id}: ${r.status}, ${r.category} of ${r.kind} "${r.target}"`,
    `requested by ${r.requestedBy} (${r.requestedByKind}) at ${iso(r.requestedAt)}; expires ${iso(r.expiresAt)}`,
  ];
  if ("withheld" in r && r.withheld) lines.push(`current and proposed values: ${r.withheld}`);
  else lines.push(`current:  ${JSON.stringify(r.current)}`, `proposed: ${JSON.stringify(r.proposed)}`);
  if (r.estimatedSavingsUsd !== null) lines.push(`estimated savings: $${r.estimatedSavingsUsd} a month`);
  if (r.qualityImpact) lines.push(`quality impact: ${r.qualityImpact}`);
  if (r.impact) lines.push(impactLine(r.impact));
  if (r.confidence !== null) lines.push(`confidence: ${r.confidence}`);
  if (r.reasoning) lines.push(`reasoning: ${r.reasoning}`);
  if (r.decidedBy) lines.push(`decided by ${r.decidedBy} at ${iso(r.decidedAt)}${r.decisionNote ? `: ${r.decisionNote}` : ""}`);
  return lines.join("\n");
}

/** The ledger replayed under the change, as the approver weighs it. */
function impactLine(i: ChangeImpact | WithheldImpact): string {
  if (i.projectedMonthlyChangeUsd === null) return `impact over ${i.days} days (${i.basis}): ${"withheld" in i ? i.withheld : "not shown"}`;
  return `impact: ${i.calls} calls over ${i.days} days cost $${i.currentCostUsd}, $${i.projectedCostUsd} as proposed: ${signedDollars(i.projectedMonthlyChangeUsd)} a month (${i.basis})`;
}

export function printAudit(events: AuditEventRow[]): string {
  if (events.length === 0) return "No audit events in this period.";
  return table(
    ["time", "action", "target", "actor", "outcome", "reason"],
    events.map((e) => [iso(e.ts), e.action, e.target, `${e.actor} (${e.actorKind})`, e.outcome, e.reason ?? ""]),
  );
}

export function printDirectives(page: Page<DirectiveRow>): string {
  const body =
    page.data.length === 0
      ? "No directives."
      : table(
          ["id", "status", "role", "type", "scope", "budget", "issued by", "updated"],
          page.data.map((d) => [d.id, d.status, d.role, d.type, d.scope, d.budget ?? "", `${d.issuedBy} (${d.issuedByKind})`, iso(d.updatedAt)]),
        );
  return withMore(body, page);
}

export function printDirective(d: DirectiveRow & { artifacts?: Array<{ type: string; body: unknown }> }): string {
  const lines = [`${d.id}: ${d.status} (${d.type} for ${d.role}, scope ${d.scope}, budget ${d.budget ?? "none"})`, `objective: ${d.objective}`, `issued by ${d.issuedBy} (${d.issuedByKind}) at ${iso(d.createdAt)}`];
  if (d.blockedReasons?.length) lines.push(`blocked: ${d.blockedReasons.join("; ")}`);
  if (d.approvedBy) lines.push(`approved by ${d.approvedBy}${d.humanOverride ? "" : " (the policy itself)"} at ${iso(d.approvedAt)}`);
  for (const artifact of d.artifacts ?? []) {
    const body = artifact.body as { verdict?: string; policyVersion?: string } | null;
    lines.push(`artifact ${artifact.type}${body?.verdict ? `: ${body.verdict} by policy ${body.policyVersion}` : ""}`);
  }
  return lines.join("\n");
}

export function printRuns(page: Page<ExecutionRunRow>): string {
  const body =
    page.data.length === 0
      ? "No runs."
      : table(
          ["id", "status", "module", "directive", "module status", "executor", "duration", "started"],
          page.data.map((r) => [r.id, r.status, r.module, r.directiveId, r.moduleStatus ?? "", r.executorId, r.durationMs === null ? "" : `${r.durationMs} ms`, iso(r.startedAt)]),
        );
  return withMore(body, page);
}

export function printRun(r: ExecutionRunRow & { artifacts?: Array<{ id: string; type: string; uri: string; sizeBytes: number }> }): string {
  const lines = [`${r.id}: ${r.status} (${r.module} for ${r.directiveId}, on ${r.executorId})`, `idempotency key: ${r.idempotencyKey}`];
  if (r.startedAt) lines.push(`started ${iso(r.startedAt)}${r.endedAt ? `, ended ${iso(r.endedAt)} after ${r.durationMs} ms` : ""}`);
  if (r.moduleStatus) lines.push(`module said ${r.moduleStatus}${r.error ? `: ${r.error}` : ""}`);
  for (const artifact of r.artifacts ?? []) lines.push(`artifact ${artifact.type} (${artifact.sizeBytes} bytes) ${artifact.uri}`);
  return lines.join("\n");
}

export function printOverview(o: Overview): string {
  const narrowed = Object.entries(o.filters).map(([name, value]) => `${name} ${value}`);
  const rate = (n: number) => (o.requests ? percent(n / o.requests) : "–");
  const ms = (p: { calls: number; p50?: number; p95?: number }) => (p.calls ? `${p.p50} ms / ${p.p95} ms` : "–");
  const lines = [
    `Overview since ${o.since}${narrowed.length ? `, calls with ${narrowed.join(", ")}` : ""}`,
    "",
    `Spend $${o.cost} over ${o.requests} calls; failed ${rate(o.failures)} (model errors ${o.modelErrors}, refusals ${o.refusals})${o.clientClosed ? `; left by their clients ${o.clientClosed}` : ""}; fell back ${rate(o.fallbackRequests)}`,
    `Latency p50 / p95: ${ms(o.latency)}; time to first token: ${ms(o.ttft)}`,
    "",
    table(
      ["service level", "value", "threshold", "status"],
      o.slo.map((r) => [r.name, r.value === undefined ? "–" : String(r.value), `${r.bound === "max" ? "at most" : "at least"} ${r.threshold}`, r.breached ? "BREACHED" : "ok"]),
    ),
  ];
  if (o.codes.length) lines.push("", table(["error code", "outcome", "calls"], o.codes.map((c) => [c.code, c.outcome, String(c.requests)])));
  for (const [by, top] of Object.entries(o.top)) {
    if (top.length) lines.push("", table([`top ${by}`, "requests", "errors", "cost (USD)"], top.map((l) => [l.group, String(l.requests), String(l.errors), l.cost])));
  }
  return lines.join("\n");
}

export function printRateLimits(limits: RateLimitStatus[]): string {
  if (limits.length === 0) return "No rate limits.";
  return table(
    ["name", "scope", "target", "requests/min", "tokens/min", "set by", "updated"],
    limits.map((l) => [l.name, l.scope, l.target ?? "(each)", String(l.requestsPerMinute ?? "–"), String(l.tokensPerMinute ?? "–"), l.source === "admin" ? (l.updatedBy ?? "admin") : "config", l.updatedAt]),
  );
}

export function printBudgets(budgets: BudgetStatus[]): string {
  if (budgets.length === 0) return "No budgets.";
  return table(
    ["name", "scope", "target", "window", "spent (USD)", "limit (USD)", "warn at", "set by"],
    budgets.map((b) => [b.name, b.scope, b.target || "–", `${b.window} (${b.timezone})`, b.current?.spent ?? "0", b.limit, b.warnAt ?? "–", b.source === "admin" ? (b.updatedBy ?? "admin") : "config"]),
  );
}

export function printDeliveries(page: DeliveryPage): string {
  const body =
    page.data.length === 0
      ? "No webhook deliveries."
      : table(
          ["id", "webhook", "event", "status", "attempts", "last status", "last error", "created", "resent from"],
          page.data.map((d) => [d.id, d.webhook, d.event, d.status, String(d.attempts), d.lastStatus === null ? "" : String(d.lastStatus), d.lastError ?? "", iso(d.createdAt), d.resentFrom ?? ""]),
        );
  return withMore(body, page);
}

/** A page's table, and how to ask for the next page when there is one. */
function withMore(body: string, page: Page<unknown>): string {
  return page.nextCursor === null ? body : `${body}\n\nMore: add --cursor ${page.nextCursor}`;
}

export function printResent(d: WebhookDeliveryRow): string {
  return `Resent ${d.resentFrom} as ${d.id} (${d.status}): event ${d.eventId} (${d.event}) to webhook "${d.webhook}".`;
}

/** A signed amount as people write it: "-$0.0091", "+$1.50", not "$-0.0091". */
function signedDollars(amount: string): string {
  if (amount.startsWith("-")) return `-$${amount.slice(1)}`;
  return amount === "0" ? "$0" : `+$${amount}`;
}
