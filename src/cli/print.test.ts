import { describe, expect, it } from "vitest";
import { sloSchema } from "../config/schema.js";
import { buildOverview } from "../ledger/overview.js";
import type { OutcomeLine } from "../store/queries/overview.js";
import { printApproval, printKeys, printOverview, terminalText } from "./print.js";

const line = (outcome: string, code: string, requests: number): OutcomeLine => ({ endpoint: "chat", outcome, code, requests, fallbackRequests: 0, toolCalls: 0, toolCallFailures: 0, cost: "0.01" });

function overviewOf(outcomes: OutcomeLine[]) {
  const none = { operation: [], model: [], user: [], key: [] };
  return buildOverview({ since: new Date("2026-12-05T00:00:00Z"), filters: {}, outcomes, histograms: { latency: new Map(), ttft: new Map() }, top: none, slo: sloSchema.parse({}) });
}

describe("printOverview", () => {
  it("counts calls whose client left apart from model errors and refusals, and says so only when there are some", () => {
    const left = overviewOf([line("success", "", 16), line("error", "provider_error", 1), line("refused", "budget_exceeded", 1), line("error", "client_closed", 2)]);
    expect(left).toMatchObject({ requests: 20, failures: 2, modelErrors: 1, refusals: 1, clientClosed: 2 });
    expect(left.slo.find((reading) => reading.name === "modelErrorRate")).toMatchObject({ value: 1 / 20, breached: true });
    expect(printOverview(left)).toContain("Spend $0.04 over 20 calls; failed 10.0% (model errors 1, refusals 1); left by their clients 2; fell back 0.0%");

    const none = overviewOf([line("success", "", 3)]);
    expect(printOverview(none)).toContain("Spend $0.01 over 3 calls; failed 0.0% (model errors 0, refusals 0); fell back 0.0%");
  });
});

describe("text for the terminal", () => {
  it("shows a label's control characters as U+FFFD, so that stored text cannot drive the terminal", () => {
    const key = { id: "key_1", name: "ops\u001b[2J", kind: "user" as const, prefix: "sk-al-abc", userId: "u\u001b]0;pwned\u0007", teamId: "t\u009b1m", orgId: "o\u001b[1m", createdAt: "2026-12-05T00:00:00.000Z", revokedAt: null, expiresAt: null, models: null };
    const printed = terminalText(printKeys([key]));
    // Lines end with line feeds; nothing else printed is a control character.
    expect(printed.replace(/\n/g, "")).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(terminalText("a\tb\nc\rd")).toBe("a\tb\nc\ufffdd");
    expect(printed).toContain("ops\ufffd[2J");
    expect(printed).toContain("u\ufffd]0;pwned\ufffd");
    expect(printed).toContain("t\ufffd1m");
    expect(printed).toContain("o\ufffd[1m");
  });
});

describe("printApproval", () => {
  it("shows the approver the impact estimate: the calls replayed, their cost now and as proposed, and the monthly change", () => {
    const impact = { days: 30, calls: 3, currentCostUsd: "0.015834", projectedCostUsd: "0.006723", projectedMonthlyChangeUsd: "-0.009111", basis: 'the successful calls of operation "summarize" over 30 days, priced as p2/m2' };
    const at = new Date("2026-12-05T00:00:00.000Z");
    const request = { id: "chg_1", kind: "route" as const, target: "summarize", category: "model_switch", status: "PENDING" as const, current: { model: "p1/m1" }, proposed: { model: "p2/m2" }, estimatedSavingsUsd: null, qualityImpact: null, confidence: null, reasoning: null, impact, requestedBy: "key_a", requestedByKind: "agent", requestedAt: at, expiresAt: at, decidedBy: null, decidedAt: null, decisionNote: null, appliedAt: null };
    expect(printApproval(request)).toContain('impact: 3 calls over 30 days cost $0.015834, $0.006723 as proposed: -$0.009111 a month (the successful calls of operation "summarize" over 30 days, priced as p2/m2)');
    expect(printApproval({ ...request, impact: null })).not.toContain("impact:");
    expect(printApproval({ ...request, impact: { ...impact, projectedMonthlyChangeUsd: "0.5" } })).toContain("as proposed: +$0.5 a month");
  });

  it("says what a key that may not read spend or the configuration is not shown, instead of printing nulls", () => {
    const at = new Date("2026-12-05T00:00:00.000Z");
    const basis = 'the successful calls of operation "summarize" over 30 days, priced as p2/m2';
    const impact = { days: 30, basis, calls: null, currentCostUsd: null, projectedCostUsd: null, projectedMonthlyChangeUsd: null, withheld: "spend figures are shown only to keys that may read spend (admin keys)" };
    const request = { id: "chg_1", kind: "route" as const, target: "summarize", category: "model_switch", status: "PENDING" as const, current: null, proposed: null, withheld: "the values in force are shown only to admin keys, which decide the request", estimatedSavingsUsd: null, qualityImpact: null, confidence: null, reasoning: null, impact, requestedBy: "key_a", requestedByKind: "agent", requestedAt: at, expiresAt: at, decidedBy: null, decidedAt: null, decisionNote: null, appliedAt: null };
    const printed = printApproval(request);
    expect(printed).toContain(`impact over 30 days (${basis}): spend figures are shown only to keys that may read spend (admin keys)`);
    expect(printed).toContain("current and proposed values: the values in force are shown only to admin keys, which decide the request");
    expect(printed).not.toContain("null");
  });
});
