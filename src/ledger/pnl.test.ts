import { describe, expect, it } from "vitest";
import { daysBetween, operatingCostInput, profitAndLoss, reportWindow, shareInWindow } from "./pnl.js";

describe("profit and loss", () => {
  it("spreads an entry evenly over its days and counts the share inside the window, exactly", () => {
    expect(daysBetween("2026-11-01", "2026-11-30")).toBe(30);
    // 100 over 3 days, 1 day inside: 33.333… to twelve places, rounded once.
    const third = shareInWindow({ amount: "100", periodStart: "2026-11-01", periodEnd: "2026-11-03" }, "2026-11-03", "2026-11-30");
    expect(third.toDecimalPlaces(12).toFixed()).toBe("33.333333333333");
    expect(shareInWindow({ amount: "100", periodStart: "2026-10-01", periodEnd: "2026-10-31" }, "2026-11-01", "2026-11-30").isZero()).toBe(true);
  });

  it("adds revenue per strategy, AI spend and costs by category into profit and margin", () => {
    const pnl = profitAndLoss({
      from: "2026-11-01",
      to: "2026-11-30",
      aiLedger: { cost: "12.345678901234", calls: 3 },
      costs: [
        { category: "vm", amount: "300", periodStart: "2026-11-01", periodEnd: "2026-11-30" },
        // Half of this month-long bill falls in the window.
        { category: "api_service", amount: "60", periodStart: "2026-11-16", periodEnd: "2026-12-15" },
      ],
      revenue: [
        { strategy: "pro", amount: "1000", periodStart: "2026-11-01", periodEnd: "2026-11-30" },
        { strategy: "team", amount: "500.5", periodStart: "2026-11-01", periodEnd: "2026-11-30" },
      ],
    });
    expect(pnl.revenue).toEqual({ total: "1500.5", byStrategy: { pro: "1000", team: "500.5" } });
    expect(pnl.costs).toEqual({ aiLedger: "12.345678901234", byCategory: { ai_inference: "0", vm: "300", api_service: "30", other: "0" }, total: "342.345678901234" });
    expect(pnl.profit).toBe("1158.154321098766");
    expect(pnl.margin).toBe(0.7718);
    expect(profitAndLoss({ from: "2026-11-01", to: "2026-11-01", aiLedger: { cost: "1", calls: 1 }, costs: [], revenue: [] })).toMatchObject({ profit: "-1", margin: null });
  });

  it("checks entries and windows", () => {
    expect(operatingCostInput.safeParse({ category: "vm", amount: "1", periodStart: "2026-11-02", periodEnd: "2026-11-01" }).success).toBe(false);
    expect(operatingCostInput.safeParse({ category: "gpu", amount: "1", periodStart: "2026-11-01", periodEnd: "2026-11-01" }).success).toBe(false);
    expect(operatingCostInput.safeParse({ category: "vm", amount: "1", periodStart: "2026-02-30", periodEnd: "2026-03-01" }).success).toBe(false);
    expect(reportWindow(null, "2026-11-30")).toEqual({ from: "2026-11-01", to: "2026-11-30" });
    expect(() => reportWindow("2026-12-01", "2026-11-30")).toThrow(expect.objectContaining({ code: "invalid_request", param: "from" }));
  });

  it("refuses a `to` that is no calendar date as such, before working out the default `from` from it", () => {
    for (const to of ["abc", "2026-1-5", "2026-02-30", "", "3000-01-01"]) {
      expect(() => reportWindow(null, to), to).toThrow(expect.objectContaining({ code: "invalid_request", param: "to" }));
    }
    // The default window of an early `to` starts on the first day a report covers, not before it.
    expect(reportWindow(null, "1970-01-05")).toEqual({ from: "1970-01-01", to: "1970-01-05" });
    expect(reportWindow(undefined, "1970-01-30")).toEqual({ from: "1970-01-01", to: "1970-01-30" });
    expect(reportWindow(undefined, "1970-01-31")).toEqual({ from: "1970-01-02", to: "1970-01-31" });
    // A bad `from` is still named first when both are bad.
    expect(() => reportWindow("x", "y")).toThrow(expect.objectContaining({ param: "from" }));
  });
});
