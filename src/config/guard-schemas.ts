import { z } from "zod";
import { LABEL_MAX_LENGTH, moneyAmount, nameSchema, positiveInt4 } from "./bounds.js";

// The guards' sections of the configuration (`budgets`, `rateLimits`); see docs/guards.md.

export const BUDGET_SCOPES = ["key", "user", "team", "org", "operation", "global"] as const;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Requests and tokens per fixed minute; see docs/guards.md. */
export const rateLimitSchema = z
  .strictObject({
    name: nameSchema("rate limit"),
    scope: z.enum(["key", "user", "operation", "global"]),
    /** One key id, user id or operation name; without it, every key (user, operation) has a limit of its own. */
    target: z.string().min(1).max(LABEL_MAX_LENGTH).optional(),
    requestsPerMinute: positiveInt4().optional(),
    /** Input plus output tokens. */
    tokensPerMinute: positiveInt4().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.requestsPerMinute === undefined && r.tokensPerMinute === undefined) ctx.addIssue({ code: "custom", message: "set requestsPerMinute, tokensPerMinute or both" });
    if (r.scope === "global" && r.target !== undefined) ctx.addIssue({ code: "custom", path: ["target"], message: "a global rate limit has no target" });
  });

/** A spending limit per daily or monthly window; see docs/guards.md. */
export const budgetSchema = z
  .strictObject({
    name: nameSchema("budget"),
    scope: z.enum(BUDGET_SCOPES),
    /** The key id, user id, team id, org id or operation name; none for `global`. */
    target: z.string().min(1).max(LABEL_MAX_LENGTH).optional(),
    window: z.enum(["daily", "monthly"]).default("daily"),
    /** Whose midnight starts a window. */
    timezone: z.string().default("UTC").refine(isTimeZone, { message: "unknown time zone (use an IANA name such as \"Europe/Paris\")" }),
    /** USD per window. */
    limit: moneyAmount(),
    /** USD spent in a window that raises one warning; defaults to 80% of the limit. */
    warnAt: moneyAmount().optional(),
  })
  .superRefine((b, ctx) => {
    if (b.scope === "global" && b.target !== undefined) ctx.addIssue({ code: "custom", path: ["target"], message: "a global budget has no target" });
    if (b.scope !== "global" && b.target === undefined) ctx.addIssue({ code: "custom", path: ["target"], message: `a ${b.scope} budget needs a target (the ${b.scope === "operation" ? "operation name" : `${b.scope} id`})` });
  });
