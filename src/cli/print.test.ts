import { describe, expect, it } from "vitest";
import { sloSchema } from "../config/schema.js";
import { buildOverview } from "../ledger/overview.js";
import type { OutcomeLine } from "../store/queries/overview.js";
import { printOverview } from "./print.js";

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
