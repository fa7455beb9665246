import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY, evaluatePolicy, parseBudget, policyHash } from "./policy.js";

describe("parseBudget", () => {
  it("reads dollars, plain decimals and USD amounts exactly", () => {
    expect(parseBudget("$50")?.toFixed()).toBe("50");
    expect(parseBudget("50.00")?.toFixed(2)).toBe("50.00");
    expect(parseBudget("100 USD")?.toFixed()).toBe("100");
    expect(parseBudget(" $ 0.10 ")?.toFixed()).toBe("0.1");
    expect(parseBudget("12.5 usd")?.toFixed()).toBe("12.5");
    // 0.1 + 0.2 in binary floating point is 0.30000000000000004; in exact decimal it is 0.3.
    expect(parseBudget("0.1")!.add(parseBudget("0.2")!).toFixed()).toBe("0.3");
  });

  it("refuses other currencies, negatives and words", () => {
    for (const text of ["50 EUR", "-5", "$-5", "fifty", "", "$", "1e3", "50 USD USD"]) expect(parseBudget(text)).toBeUndefined();
  });
});

describe("evaluatePolicy", () => {
  const allowed = { type: "echo", scope: "staging", budget: "$50" };

  it("allows a directive that passes every check, and says why for each", () => {
    const result = evaluatePolicy(allowed, DEFAULT_POLICY);
    expect(result.verdict).toBe("ALLOW");
    expect(result.checks.map((c) => [c.policy, c.passed])).toEqual([
      ["budget_ceiling", true],
      ["tool_allowlist", true],
      ["scope_allowlist", true],
    ]);
    expect(result.policyVersion).toBe("v1");
  });

  it("blocks on any failed check, with a reason per policy", () => {
    const result = evaluatePolicy({ type: "shell", scope: "production", budget: "50.01" }, DEFAULT_POLICY);
    expect(result.verdict).toBe("BLOCK");
    expect(result.checks.map((c) => c.reason)).toEqual([
      "$50.01 is over the ceiling of $50",
      '"shell" is not an allowed tool (allowed: noop, echo, validate, test, llm_call)',
      '"production" is not an allowed scope (allowed: test, development, staging)',
    ]);
    expect(evaluatePolicy({ ...allowed, budget: null }, DEFAULT_POLICY).checks[0]).toMatchObject({ passed: false, reason: "the directive states no budget" });
    expect(evaluatePolicy({ ...allowed, budget: "50 EUR" }, DEFAULT_POLICY).verdict).toBe("BLOCK");
  });

  it("gives the same result for the same input and policy, and another hash for another policy", () => {
    const first = evaluatePolicy(allowed, DEFAULT_POLICY);
    for (let i = 0; i < 20; i++) expect(evaluatePolicy({ ...allowed }, { ...DEFAULT_POLICY, tools: [...DEFAULT_POLICY.tools].reverse() })).toEqual(first);
    expect(policyHash({ ...DEFAULT_POLICY, budgetCeilingUsd: "49" })).not.toBe(first.policyHash);
  });
});
