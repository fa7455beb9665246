import type { AirlockConfig } from "../config/schema.js";
import type { LedgerFilters } from "../store/queries/ledger-filters.js";
import type { SpendLine } from "../store/queries/ledger.js";
import type { LatencyKind, OutcomeLine, TopDimension } from "../store/queries/overview.js";
import { quantile } from "./histogram.js";
import { COST_SCALE, formatCost, Money } from "./pricing.js";

/** The dashboard's overview, summed by the server: every cost is an exact decimal string. */
export interface Overview {
  since: string;
  filters: LedgerFilters;
  requests: number;
  /** Calls that did not succeed: model errors and refusals. */
  failures: number;
  /** Calls that ended in an error, except those whose client left. */
  modelErrors: number;
  refusals: number;
  /** Calls whose client left before the answer was whole (`client_closed`): a user who stopped a call is no model's failure. */
  clientClosed: number;
  cost: string;
  fallbackRequests: number;
  approvalsRequired: number;
  chat: { requests: number; cost: string; costPerMessage: string };
  toolCalls: { calls: number; failures: number };
  latency: Percentiles;
  ttft: Percentiles;
  /** Failed calls per error code, most first. */
  codes: Array<{ code: string; outcome: string; requests: number }>;
  top: Record<TopDimension, SpendLine[]>;
  slo: SloReading[];
}

/** The lines of each top list. */
export const TOP_LINES = 10;

/** Whole milliseconds; undefined when no call that reached a provider is in range. */
export interface Percentiles {
  calls: number;
  p50?: number;
  p95?: number;
}

/** One SLO measure against its threshold. `value` is undefined when nothing in range measures it. */
export interface SloReading {
  name: "fallbackRate" | "modelErrorRate" | "costPerMessageUsd" | "approvalRate" | "toolCallSuccessRate";
  value?: number | string;
  threshold: number | string;
  /** `max`: red above the threshold; `min`: red below it. */
  bound: "max" | "min";
  breached: boolean;
}

export interface OverviewParts {
  since: Date;
  filters: LedgerFilters;
  outcomes: OutcomeLine[];
  histograms: Record<LatencyKind, ReadonlyMap<number, number>>;
  top: Record<TopDimension, SpendLine[]>;
  slo: AirlockConfig["dashboard"]["slo"];
}

export function buildOverview(parts: OverviewParts): Overview {
  const { outcomes } = parts;
  const count = (test: (line: OutcomeLine) => boolean, field: "requests" | "fallbackRequests" | "toolCalls" | "toolCallFailures" = "requests") =>
    outcomes.reduce((sum, line) => (test(line) ? sum + line[field] : sum), 0);
  const costOf = (test: (line: OutcomeLine) => boolean) => outcomes.reduce((sum, line) => (test(line) ? sum.add(line.cost) : sum), new Money(0));
  const all = () => true;
  const isChat = (line: OutcomeLine) => line.endpoint === "chat";
  const requests = count(all);
  const clientClosed = count((line) => line.code === "client_closed");
  const modelErrors = count((line) => line.outcome === "error" && line.code !== "client_closed");
  const refusals = count((line) => line.outcome === "refused");
  const fallbackRequests = count(all, "fallbackRequests");
  const approvalsRequired = count((line) => line.code === "approval_required");
  const chatRequests = count(isChat);
  const chatCost = costOf(isChat);
  const perMessage = chatRequests ? chatCost.div(chatRequests).toDecimalPlaces(COST_SCALE) : new Money(0);
  const toolCalls = { calls: count(all, "toolCalls"), failures: count(all, "toolCallFailures") };
  const share = (n: number, of: number) => (of ? n / of : undefined);
  const limits = parts.slo;
  const reading = (name: SloReading["name"], value: number | undefined, threshold: number, bound: SloReading["bound"] = "max"): SloReading => ({
    name,
    value,
    threshold,
    bound,
    breached: value !== undefined && (bound === "max" ? value > threshold : value < threshold),
  });
  const toolCallSuccess = share(toolCalls.calls - toolCalls.failures, toolCalls.calls);
  return {
    since: parts.since.toISOString(),
    filters: parts.filters,
    requests,
    failures: modelErrors + refusals,
    modelErrors,
    refusals,
    clientClosed,
    cost: formatCost(costOf(all)),
    fallbackRequests,
    approvalsRequired,
    chat: { requests: chatRequests, cost: formatCost(chatCost), costPerMessage: formatCost(perMessage) },
    toolCalls,
    latency: percentiles(parts.histograms.latency),
    ttft: percentiles(parts.histograms.ttft),
    codes: failuresByCode(outcomes),
    top: parts.top,
    slo: [
      reading("fallbackRate", share(fallbackRequests, requests), limits.fallbackRate),
      reading("modelErrorRate", share(modelErrors, requests), limits.modelErrorRate),
      {
        name: "costPerMessageUsd",
        value: chatRequests ? formatCost(perMessage) : undefined,
        threshold: limits.costPerMessageUsd,
        bound: "max",
        breached: chatRequests > 0 && perMessage.greaterThan(limits.costPerMessageUsd),
      },
      reading("approvalRate", share(approvalsRequired, requests), limits.approvalRate),
      reading("toolCallSuccessRate", toolCallSuccess, limits.toolCallSuccessRate, "min"),
    ],
  };
}

/** One line per code and outcome: the same code on several endpoints is one kind of failure. */
function failuresByCode(outcomes: readonly OutcomeLine[]): Overview["codes"] {
  const byCode = new Map<string, Overview["codes"][number]>();
  for (const line of outcomes) {
    if (line.outcome === "success") continue;
    const code = line.code || line.outcome;
    const key = `${line.outcome}\u0000${code}`;
    const merged = byCode.get(key) ?? { code, outcome: line.outcome, requests: 0 };
    merged.requests += line.requests;
    byCode.set(key, merged);
  }
  return [...byCode.values()].sort((a, b) => b.requests - a.requests || a.code.localeCompare(b.code));
}

function percentiles(histogram: ReadonlyMap<number, number>): Percentiles {
  let calls = 0;
  for (const n of histogram.values()) calls += n;
  return calls ? { calls, p50: quantile(histogram, 0.5), p95: quantile(histogram, 0.95) } : { calls };
}
