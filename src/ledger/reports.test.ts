import { describe, expect, it } from "vitest";
import { spendCsv } from "./reports.js";

const line = (group: string, cost: string) => ({ group, requests: 2, errors: 0, inputTokens: 10, outputTokens: 5, cost });

describe("spendCsv", () => {
  it("writes exact decimals, quotes what must be quoted, and ends with the exact total", () => {
    const csv = spendCsv("user", [line('ada, "the first"', "0.000000123456"), line("bob", "1.1")]);
    expect(csv.split("\r\n")).toEqual([
      "user,requests,errors,input_tokens,output_tokens,cost_usd",
      '"ada, ""the first""",2,0,10,5,0.000000123456',
      "bob,2,0,10,5,1.1",
      "(total),,,,,1.100000123456",
      "",
    ]);
  });

  it("defuses a group that a spreadsheet would run as a formula", () => {
    expect(spendCsv("user", [line("=HYPERLINK(\"x\")", "1")]).split("\r\n")[1]).toBe('"\'=HYPERLINK(""x"")",2,0,10,5,1');
    expect(spendCsv("user", [line("-5", "1")]).split("\r\n")[1]).toBe("-5,2,0,10,5,1");
  });
});
