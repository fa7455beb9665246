import { createHash } from "node:crypto";
import { Money } from "../../ledger/pricing.js";

/** The policy a directive is judged by: versioned, and recorded (with its hash) with every evaluation. */
export interface DirectivePolicy {
  version: string;
  /** The most a directive may budget, in USD. */
  budgetCeilingUsd: string;
  /** Directive types (execution modules) that may run. */
  tools: readonly string[];
  /** Scopes directives may act in. */
  scopes: readonly string[];
  /** Approve directives that pass without waiting for a human. */
  autoApprove: boolean;
}

export const DEFAULT_POLICY: DirectivePolicy = {
  version: "v1",
  budgetCeilingUsd: "50",
  tools: ["noop", "echo", "validate", "test", "llm_call"],
  scopes: ["test", "development", "staging"],
  autoApprove: false,
};

export interface PolicyInput {
  type: string;
  scope: string;
  budget: string | null;
}

export interface PolicyCheck {
  policy: "budget_ceiling" | "tool_allowlist" | "scope_allowlist";
  passed: boolean;
  reason: string;
}

export interface PolicyEvaluation {
  verdict: "ALLOW" | "BLOCK";
  checks: PolicyCheck[];
  policyVersion: string;
  /** SHA-256 of the policy as evaluated: the same hash and input always give the same result. */
  policyHash: string;
}

/**
 * A directive's budget as exact USD: "$50", "50.00", "100 USD", "12.5 usd". Undefined when the text
 * is not one of those forms (another currency, a negative or malformed amount).
 */
export function parseBudget(text: string): Money | undefined {
  const match = /^\s*(?:\$\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:usd)?)\s*$/i.exec(text);
  const amount = match?.[1] ?? match?.[2];
  return amount === undefined ? undefined : new Money(amount);
}

export function policyHash(policy: DirectivePolicy): string {
  const canonical = JSON.stringify({ ...policy, tools: [...policy.tools].sort(), scopes: [...policy.scopes].sort() }, Object.keys(policy).sort());
  return createHash("sha256").update(canonical).digest("hex");
}

/** Judges a directive by the policy: a pure function of the two, ALLOW only when every check passes. */
export function evaluatePolicy(input: PolicyInput, policy: DirectivePolicy): PolicyEvaluation {
  const ceiling = new Money(policy.budgetCeilingUsd);
  const budget = input.budget === null ? undefined : parseBudget(input.budget);
  const checks: PolicyCheck[] = [
    input.budget === null
      ? { policy: "budget_ceiling", passed: false, reason: "the directive states no budget" }
      : budget === undefined
        ? { policy: "budget_ceiling", passed: false, reason: `budget "${input.budget}" is not an amount in USD (such as "$50", "50.00" or "100 USD")` }
        : budget.lte(ceiling)
          ? { policy: "budget_ceiling", passed: true, reason: `$${budget.toFixed()} is within the ceiling of $${ceiling.toFixed()}` }
          : { policy: "budget_ceiling", passed: false, reason: `$${budget.toFixed()} is over the ceiling of $${ceiling.toFixed()}` },
    policy.tools.includes(input.type)
      ? { policy: "tool_allowlist", passed: true, reason: `"${input.type}" is an allowed tool` }
      : { policy: "tool_allowlist", passed: false, reason: `"${input.type}" is not an allowed tool (allowed: ${policy.tools.join(", ")})` },
    policy.scopes.includes(input.scope)
      ? { policy: "scope_allowlist", passed: true, reason: `"${input.scope}" is an allowed scope` }
      : { policy: "scope_allowlist", passed: false, reason: `"${input.scope}" is not an allowed scope (allowed: ${policy.scopes.join(", ")})` },
  ];
  return { verdict: checks.every((c) => c.passed) ? "ALLOW" : "BLOCK", checks, policyVersion: policy.version, policyHash: policyHash(policy) };
}
