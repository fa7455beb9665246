import { z } from "zod";
import { durationMs, moneyAmount, NAME_MAX_LENGTH, positiveInt4 } from "./bounds.js";
import { DEFAULT_MISSING_PRICE, modelSchema, priceSchema } from "./models.js";
import { providerConfig, secretRef } from "./providers.js";
import { budgetSchema, rateLimitSchema } from "./guard-schemas.js";
import { checkRoutes, isTier } from "./routes.js";
import { TIERS, type Tier } from "./tiers.js";
import { webhookSchema } from "./webhook-schema.js";

export { TIERS, type Tier } from "./tiers.js";
export { DEFAULT_MISSING_PRICE, modelSchema, priceSchema, structuredOutputMode } from "./models.js";
export { BUDGET_SCOPES, budgetSchema, rateLimitSchema } from "./guard-schemas.js";
export { webhookSchema } from "./webhook-schema.js";

/** Money is a decimal string ("0.27"), never a float, below 10^12 (see bounds.ts). */
const decimal = moneyAmount();

export const criticality = z.enum(["LOW", "MEDIUM", "HIGH"]);

export const retryPolicySchema = z.strictObject({
  /** Attempts per candidate, including the first. */
  maxAttempts: z.number().int().min(1).max(10).default(2),
  baseDelayMs: durationMs().nonnegative().default(250),
  maxDelayMs: durationMs().nonnegative().default(4_000),
  /** A Retry-After longer than this skips to the next candidate instead of waiting. */
  maxRetryAfterMs: durationMs().nonnegative().default(60_000),
});

/** No defaults here: a field the operation leaves out must fall through to the top-level `retry`. */
export const retryOverrideSchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(10).optional(),
  baseDelayMs: durationMs().nonnegative().optional(),
  maxDelayMs: durationMs().nonnegative().optional(),
  maxRetryAfterMs: durationMs().nonnegative().optional(),
});

/** JSON Schema (an object) or the short notation (`{name: string, tags: string[]}`). */
export const outputSchemaInput = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);

export const operationSchema = z.strictObject({
  /** The primary target: a catalog model id, a tier name (`strong`, `mid`, `cheap`) or another operation. */
  model: z.string().min(1),
  fallbacks: z.array(z.string().min(1)).default([]),
  enabled: z.boolean().default(true),
  /** A feature toggle that must be on for this operation's calls to run; off (or missing), they are refused as `disabled`. */
  requiresToggle: z.string().min(1).optional(),
  criticality: criticality.default("MEDIUM"),
  maxTokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  timeoutMs: durationMs().positive().optional(),
  /** This operation's own retry settings; unset fields use the top-level `retry`. */
  retry: retryOverrideSchema.optional(),
  outputSchema: outputSchemaInput.optional(),
  /** One repair attempt when the output does not match the schema. */
  repair: z.boolean().default(true),
  prompt: z.strictObject({ system: z.string().min(1).optional(), user: z.string().min(1).optional() }).optional(),
  description: z.string().optional(),
});

/** Letters, digits, `_ . : -`, and not dots alone (see isDotsOnly). */
export const OPERATION_NAME = /^(?!\.+$)[A-Za-z0-9_.:-]+$/;


/** What a change request is, in words people use (see governance/change-checks.ts). */
export const CHANGE_CATEGORIES = ["model_switch", "route_change", "price_change", "budget_change", "toggle_change", "cost_increase", "approval_grant"] as const;

/** `*`, or an origin exactly as a browser sends it: `https://app.example.com`, `http://localhost:5173`. */
function isCorsOrigin(value: string): boolean {
  if (value === "*") return true;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/** The dashboard's service-level thresholds (`dashboard.slo`): a reading turns red past its own. */
export const sloSchema = z
  .strictObject({
    /** Share of calls that fell back to another model. */
    fallbackRate: z.number().min(0).max(1).default(0.05),
    /** Share of calls that ended in an error (refusals by Airlock's own guards and clients that left are not model errors). */
    modelErrorRate: z.number().min(0).max(1).default(0.02),
    /** Average cost of a chat call, USD. */
    costPerMessageUsd: decimal.default("0.05"),
    /** Share of calls stopped for an approval (`approval_required`). */
    approvalRate: z.number().min(0).max(1).default(0.1),
    /** The least share of tool calls that may name a declared tool with JSON-object arguments. */
    toolCallSuccessRate: z.number().min(0).max(1).default(0.95),
  });

export const configSchema = z
  .strictObject({
    /** Marks a configuration as the built-in demo, so that every surface can say so. */
    demo: z.boolean().default(false),
    server: z
      .strictObject({
        port: z.number().int().min(0).max(65535).default(4100),
        host: z.string().default("0.0.0.0"),
        bodyLimitBytes: z.number().int().positive().default(1024 * 1024),
        /** Audio uploads (transcription) are larger: OpenAI takes files up to 25 MB, plus the form around them. */
        audioBodyLimitBytes: z.number().int().positive().default(26 * 1024 * 1024),
        /** How long a request body may take to arrive whole; a client that stalls mid-body gets 408. Audio uploads included. */
        bodyTimeoutMs: durationMs().positive().default(60_000),
        /** How long a request's headers may take to arrive whole; a client that never finishes them gets 408 and is let go. */
        headersTimeoutMs: durationMs().positive().default(60_000),
        /** How long a SIGTERM waits for in-flight calls before closing. */
        shutdownGraceMs: durationMs().nonnegative().default(10_000),
        /** Pages that may call the /v1 API from a browser (CORS): origins such as `https://app.example.com`, or `*` for any. */
        /**
         * The changes (POST, PUT, PATCH, DELETE) one key that is not an admin's may send to the admin API in a
         * minute, across every instance; more are refused with `rate_limited` (429). Admin keys are not limited.
         */
        adminWritesPerMinute: positiveInt4().default(30),
        corsOrigins: z.array(z.string().refine(isCorsOrigin, "an origin is scheme://host with an optional :port and nothing after it, or *")).max(100).default([]),
      })
      .prefault({}),
    providers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "provider names use letters, digits, _ . -"), providerConfig),
    models: z.array(modelSchema).min(1),
    operations: z.record(z.string().regex(OPERATION_NAME), operationSchema).default({}),
    tiers: z.strictObject({ strong: z.string().optional(), mid: z.string().optional(), cheap: z.string().optional() }).prefault({}),
    retry: retryPolicySchema.prefault({}),
    org: z
      .strictObject({
        /** Serves requests that name no model and no operation. */
        defaultModel: z.string().optional(),
        /** When set, the only models calls may use. */
        enabledModels: z.array(z.string()).optional(),
        /** A request naming a model outside `enabledModels`: serve the default instead, or refuse. */
        onDisallowedModel: z.enum(["default", "refuse"]).default("default"),
      })
      .prefault({}),
    killSwitch: z
      .strictObject({
        /** How often each instance re-reads the switch from a shared PostgreSQL store, besides hearing flips at once. */
        pollIntervalMs: durationMs().positive().default(450),
        /** State the store has not confirmed for this long counts as ON (fail closed). Keep poll + stale under 1 s. */
        staleAfterMs: durationMs().positive().default(900),
        /** Streams already running when the switch goes on: `finish` lets them end, `cut` ends them with an error. */
        inFlight: z.enum(["finish", "cut"]).default("finish"),
      })
      .refine((k) => k.pollIntervalMs < k.staleAfterMs, { message: "pollIntervalMs must be below staleAfterMs, or every instance would stop between two reads" })
      .prefault({}),
    notifications: z
      .strictObject({
        webhooks: z.array(webhookSchema).default([]),
        /** Days a delivery that ended (delivered or failed) is kept before it is deleted; pending ones are never. */
        retentionDays: z.number().int().min(1).max(3_650).default(30),
      })
      .prefault({}),
    /** The dashboard's SLO panel: a panel turns red past its threshold; see docs/dashboard.md. */
    dashboard: z
      .strictObject({
        slo: sloSchema.prefault({}),
      })
      .prefault({}),
    governance: z
      .strictObject({
        /** The policy directives are judged by; its version and hash are recorded with every evaluation. */
        policy: z
          .strictObject({
            version: z.string().min(1).default("v1"),
            budgetCeilingUsd: decimal.default("50"),
            tools: z.array(z.string().min(1)).default(["noop", "echo", "validate", "test", "llm_call"]),
            scopes: z.array(z.string().min(1)).default(["test", "development", "staging"]),
            autoApprove: z.boolean().default(false),
          })
          .prefault({}),
        /** The most directives not yet approved (draft, proposed, blocked) a key that is not an admin's may have at once; more are refused (403). */
        maxPendingPerKey: z.number().int().min(1).max(100_000).default(50),
        /** How approved directives are carried out; see docs/governance.md#execution. */
        execution: z
          .strictObject({
            /** False: this instance judges and approves directives but never runs them. */
            enabled: z.boolean().default(true),
            /** Runs at once on this instance. */
            concurrency: z.number().int().min(1).max(100).default(8),
            /** How often the engine's queue is polled (the most a run waits to start), and the least a failed dispatch waits (at least 1 s). */
            pollIntervalMs: durationMs().min(100).max(60_000).default(250),
            /** This worker's stable, distinct name: a restarted worker recovers the runs it had started. Defaults to host:port. */
            executorId: z.string().min(1).max(200).optional(),
          })
          .prefault({}),
        /** Where artifacts over 64 KB are kept: files under the data directory, or S3-compatible storage. */
        artifacts: z
          .discriminatedUnion("kind", [
            z.strictObject({ kind: z.literal("local"), dir: z.string().min(1).optional() }),
            z.strictObject({
              kind: z.literal("s3"),
              bucket: z.string().min(1),
              region: z.string().min(1).default("us-east-1"),
              /** For S3-compatible stores (MinIO, R2…); AWS when left out. */
              endpoint: z.url().optional(),
              prefix: z.string().default("airlock/artifacts/"),
              /** `env:NAME` reads it from the environment. */
              accessKeyId: secretRef,
              secretAccessKey: secretRef,
              forcePathStyle: z.boolean().default(true),
            }),
          ])
          .default({ kind: "local" }),
      })
      .prefault({}),
    changeControl: z
      .strictObject({
        /**
         * The kinds of change a key that is not an admin's may send to the admin API, where they become
         * pending change requests (202); its other changes there are refused (403). By default: any
         * price or budget change, and any change that raises expected cost.
         */
        marginImpacting: z.array(z.enum(CHANGE_CATEGORIES)).default(["price_change", "budget_change", "cost_increase"]),
        /** The most change requests a key that is not an admin's may have pending (undecided, unexpired) at once; more are refused (403). */
        maxPendingPerKey: z.number().int().min(1).max(100_000).default(20),
      })
      .prefault({}),
    budgets: z.array(budgetSchema).default([]),
    rateLimits: z.array(rateLimitSchema).default([]),
    budgeting: z
      .strictObject({
        /** The output tokens a budgeted chat call may generate when it sets no max_tokens: sent upstream as its max_tokens, and reserved. */
        defaultMaxTokens: z.number().int().positive().default(4096),
        /** An instance's allowance from a budget expires this long after it last renewed it: a killed instance's allowance is freed within this plus syncIntervalMs. */
        leaseTtlMs: durationMs().positive().default(10_000),
        /** How often each instance renews its leases, frees dead instances' leases, returns idle allowance and checks warning thresholds (on the embedded store, only those that came due). */
        syncIntervalMs: durationMs().positive().default(1_000),
        /** When a budget passes its warning amount, LOW-criticality operations under it are served by the `cheap` tier. */
        stepDownLowCriticality: z.boolean().default(false),
      })
      .refine((b) => b.syncIntervalMs * 3 <= b.leaseTtlMs, { message: "leaseTtlMs must be at least three syncIntervalMs, or leases would lapse between renewals" })
      .prefault({}),
    sessions: z
      .strictObject({
        /** A session's pinned model is forgotten after this long without a call. */
        ttlMs: durationMs().positive().default(3_600_000),
        maxSessions: z.number().int().positive().default(100_000),
      })
      .prefault({}),
    breaker: z
      .strictObject({
        failureThreshold: z.number().int().positive().default(5),
        errorRateThreshold: z.number().gt(0).max(1).default(0.5),
        windowMs: durationMs().positive().default(30_000),
        minRequests: z.number().int().positive().default(20),
        cooldownMs: durationMs().positive().default(30_000),
        probeIntervalMs: durationMs().positive().default(1_000),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        /** The whole call, across every attempt and fallback. */
        requestMs: durationMs().positive().default(120_000),
        /** One upstream attempt, unless the provider or operation sets its own. */
        attemptMs: durationMs().positive().default(60_000),
      })
      .prefault({}),
    pricing: z
      .strictObject({
        /** Charged (and flagged `price_missing`) for a model with no price, so a call is never a silent $0. */
        // Above the list prices of the models it stands in for, so an unpriced model never looks cheap.
        missingPrice: priceSchema.default(DEFAULT_MISSING_PRICE),
      })
      .prefault({}),
    ledger: z
      .strictObject({
        batchSize: z.number().int().positive().default(500),
        /** A row waits at most this long. Longer batches cost less per row: one statement a second at low rates, where a statement's fixed cost dominates. */
        flushIntervalMs: durationMs().positive().default(1_000),
        /** Rows held in memory while the store is unreachable; beyond this they spool to disk. */
        maxBuffer: z.number().int().positive().default(100_000),
      })
      .prefault({}),
  })
  .superRefine(checkReferences);

export type AirlockConfig = z.infer<typeof configSchema>;
export type AirlockConfigInput = z.input<typeof configSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type OperationConfig = z.infer<typeof operationSchema>;
export type PriceConfig = z.infer<typeof priceSchema>;
export type Criticality = z.infer<typeof criticality>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;


type RawConfig = Pick<AirlockConfig, "providers" | "models" | "operations" | "tiers" | "org" | "budgets" | "rateLimits" | "notifications">;

/**
 * Every name a config uses must exist in the same config: a typo fails at start, not at 3 a.m. Looked up
 * as own keys: `toString` is in every object, and must not pass for an operation or a provider.
 */
function checkReferences(config: RawConfig, ctx: z.RefinementCtx): void {
  const modelIds = new Set<string>();
  config.models.forEach((model, i) => {
    if (modelIds.has(model.id)) ctx.addIssue({ code: "custom", path: ["models", i, "id"], message: `duplicate model "${model.id}"` });
    modelIds.add(model.id);
    // An id without a slash names no provider: its form is already reported (`expected "provider/model-id"`).
    const slash = model.id.indexOf("/");
    const provider = model.id.slice(0, slash);
    if (slash > 0 && !Object.hasOwn(config.providers, provider)) {
      ctx.addIssue({ code: "custom", path: ["models", i, "id"], message: `unknown provider "${provider}" (known: ${Object.keys(config.providers).join(", ") || "none"})` });
    }
  });
  for (const tier of TIERS) {
    const target = config.tiers[tier];
    if (target !== undefined && !modelIds.has(target)) {
      ctx.addIssue({ code: "custom", path: ["tiers", tier], message: `unknown model "${target}"` });
    }
  }
  const { defaultModel, enabledModels } = config.org;
  if (defaultModel !== undefined && !modelIds.has(defaultModel)) ctx.addIssue({ code: "custom", path: ["org", "defaultModel"], message: `unknown model "${defaultModel}"` });
  enabledModels?.forEach((id, i) => {
    if (!modelIds.has(id)) ctx.addIssue({ code: "custom", path: ["org", "enabledModels", i], message: `unknown model "${id}"` });
  });
  if (defaultModel !== undefined && enabledModels && !enabledModels.includes(defaultModel)) {
    ctx.addIssue({ code: "custom", path: ["org", "defaultModel"], message: `the default model "${defaultModel}" is not in enabledModels` });
  }
  const limitNames = new Set<string>();
  config.rateLimits.forEach((limit, i) => {
    if (limitNames.has(limit.name)) ctx.addIssue({ code: "custom", path: ["rateLimits", i, "name"], message: `duplicate rate limit "${limit.name}"` });
    limitNames.add(limit.name);
    if (limit.scope === "operation" && limit.target !== undefined && !Object.hasOwn(config.operations, limit.target)) {
      ctx.addIssue({ code: "custom", path: ["rateLimits", i, "target"], message: `unknown operation "${limit.target}"` });
    }
  });
  const budgetNames = new Set<string>();
  config.budgets.forEach((budget, i) => {
    if (budgetNames.has(budget.name)) ctx.addIssue({ code: "custom", path: ["budgets", i, "name"], message: `duplicate budget "${budget.name}"` });
    budgetNames.add(budget.name);
    if (budget.scope === "operation" && budget.target !== undefined && !Object.hasOwn(config.operations, budget.target)) {
      ctx.addIssue({ code: "custom", path: ["budgets", i, "target"], message: `unknown operation "${budget.target}"` });
    }
  });
  // A delivery names its webhook: two of one name would send both webhooks' deliveries to the first.
  const webhookNames = new Set<string>();
  config.notifications.webhooks.forEach((hook, i) => {
    if (webhookNames.has(hook.name)) ctx.addIssue({ code: "custom", path: ["notifications", "webhooks", i, "name"], message: `duplicate webhook "${hook.name}"` });
    webhookNames.add(hook.name);
  });
  for (const name of Object.keys(config.operations)) {
    // Checked here rather than by the record's key schema, whose own message would be only "Invalid key in record".
    if (name.length > NAME_MAX_LENGTH) ctx.addIssue({ code: "custom", path: ["operations", name], message: `operation names are at most ${NAME_MAX_LENGTH} characters` });
    if (isTier(name)) ctx.addIssue({ code: "custom", path: ["operations", name], message: `"${name}" is a tier: an operation cannot be named like a tier` });
  }
  const routes = new Map(Object.entries(config.operations));
  for (const issue of checkRoutes({ modelIds, tiers: config.tiers as Partial<Record<Tier, string>> }, routes)) {
    const path = ["operations", issue.operation, ...(issue.field ? issue.field.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [])];
    ctx.addIssue({ code: "custom", path, message: issue.message });
  }
}
