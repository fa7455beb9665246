import { describe, expect, it } from "vitest";
import { metricSample } from "../../test/support/metrics-text.js";
import { costUnits } from "../ledger/pricing.js";
import { Metrics, type ObservedCall } from "./metrics.js";

/** A call that cost `cost` (the ledger's text), handed over in cost units, as the call's settlement has them. */
const call = (cost: string | undefined, overrides: Partial<ObservedCall> = {}): ObservedCall => ({
  endpoint: "chat",
  operation: "support",
  model: "gpt-4o-mini",
  outcome: "success",
  latencySeconds: 0.2,
  costUnits: cost === undefined ? undefined : costUnits(cost),
  ...overrides,
});

const spend = (text: string, model = "gpt-4o-mini") => metricSample(text, "airlock_cost_usd_total", `model="${model}",operation="support"`);

/**
 * The spend counter is summed from the ledger's exact amounts and only then made a float, so that
 * sum(airlock_cost_usd_total) matches the ledger's total to the last place a float holds, however
 * many calls it adds up; a float sum drifts (0.1 + 0.2 is 0.30000000000000004).
 */
describe("airlock_cost_usd_total", () => {
  it("reads as the exact total of the calls' costs", async () => {
    const metrics = new Metrics();
    metrics.observeCall(call("0.1"));
    metrics.observeCall(call("0.2"));
    expect(spend(await metrics.text())).toBe(0.3);

    for (let i = 0; i < 1000; i++) metrics.observeCall(call("0.000000000001"));
    metrics.observeCall(call("0.7"));
    expect(spend(await metrics.text())).toBe(1.000000001);
    // A read changes nothing, and later costs add to the total.
    expect(spend(await metrics.text())).toBe(1.000000001);
    metrics.observeCall(call("12345.678901234567"));
    expect(spend(await metrics.text())).toBe(Number("12346.678901235567"));
  });

  it("keeps each series on its own, a zero cost shows its series at 0, and a negative amount is skipped", async () => {
    const metrics = new Metrics();
    metrics.observeCall(call("0"));
    metrics.observeCall(call("0.05", { model: "claude-haiku" }));
    metrics.observeCall(call("-1", { model: "claude-haiku" }));
    metrics.observeCall(call("-0.000000000001", { model: "claude-haiku" }));
    metrics.observeCall(call(undefined, { model: "other" }));
    const text = await metrics.text();
    expect(spend(text)).toBe(0);
    expect(spend(text, "claude-haiku")).toBe(0.05);
    expect(spend(text, "other")).toBeUndefined();
  });
});
