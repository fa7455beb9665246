import { describe, expect, it } from "vitest";
import { dollars, money, percentage, priceText, roundedMoney, units, unitsMoney } from "./public/money.js";

describe("the dashboard's money", () => {
  it("shows a cost the server sent exactly, however small, with trailing zeros dropped to two places", () => {
    expect(money("0.000000020000")).toBe("0.00000002");
    expect(money("12345678901.123456789012")).toBe("12345678901.123456789012");
    expect(money("0.006723000000")).toBe("0.006723");
    expect(money("5")).toBe("5.00");
    expect(money("-0.5")).toBe("-0.50");
  });

  it("rounds an estimate or an average to six places on its decimal text, keeping three significant digits of a small one", () => {
    expect(roundedMoney("12.500000000000")).toBe("12.50");
    expect(roundedMoney("-3.333333333333")).toBe("-3.333333");
    expect(roundedMoney("0.003062526787")).toBe("0.003063");
    expect(roundedMoney("12345678901.123456789012")).toBe("12345678901.123457");
    // Half away from zero, carried into the whole dollars; exact where a float would not be (0.1 + 0.2).
    expect(roundedMoney("0.9999995")).toBe("1.00");
    expect(roundedMoney("-0.0000005")).toBe("-0.0000005");
    expect(roundedMoney("0.300000000000")).toBe("0.30");
    // Never zero for an amount that is not.
    expect(roundedMoney("0.000000012345")).toBe("0.0000000123");
    expect(roundedMoney("0.000000000000")).toBe("0.00");
    expect(roundedMoney("-0.000000000000")).toBe("0.00");
    expect(roundedMoney("n/a")).toBe("n/a");
  });

  it("writes the sign before the dollar sign, and a share as a percentage", () => {
    expect(dollars("-0.0008796")).toBe("-$0.0008796");
    expect(dollars("12.50")).toBe("$12.50");
    expect(percentage("0.800")).toBe("80%");
    expect(percentage("0.123")).toBe("12.3%");
    expect(percentage("1.000")).toBe("100%");
  });

  it("sums the chart's costs exactly, to the ledger's twelve places", () => {
    expect(unitsMoney(units("0.1") + units("0.2"))).toBe("0.30");
    expect(unitsMoney(units("0.000000020000") + units("0.000000000001"))).toBe("0.000000020001");
    expect(unitsMoney(units("999999999999.999999999999") + units("0.000000000001"))).toBe("1000000000000.00");
    expect(unitsMoney(units("-0.5") + units("0.25"))).toBe("-0.25");
    expect(unitsMoney(0n)).toBe("0.00");
  });

  it("writes a price's figures as sent, and each long-context tier after them", () => {
    expect(priceText({ input: "0.15", output: "0.6", per: "1M" })).toBe("input 0.15, output 0.6, per 1M");
    expect(priceText({ input: "1.25", cachedInput: "0.125", output: "10", per: "1M", above: [{ inputTokens: 200000, input: "2.5", cachedInput: "0.25", output: "15" }] })).toBe(
      "input 1.25, cachedInput 0.125, output 10, per 1M; above 200000 prompt tokens: input 2.5, cachedInput 0.25, output 15",
    );
  });
});
