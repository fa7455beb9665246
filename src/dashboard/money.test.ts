import { describe, expect, it } from "vitest";
import { chartMoney, money } from "./public/money.js";

describe("the dashboard's money", () => {
  it("shows a cost the server sent exactly, however small, with trailing zeros dropped to two places", () => {
    expect(money("0.000000020000")).toBe("0.00000002");
    expect(money("12345678901.123456789012")).toBe("12345678901.123456789012");
    expect(money("0.006723000000")).toBe("0.006723");
    expect(money("5")).toBe("5.00");
    expect(money("-0.5")).toBe("-0.50");
  });

  it("writes a chart's float sums to six places", () => {
    expect(chartMoney(0.1 + 0.2)).toBe("0.300000");
  });
});
