import { z } from "zod";
import { providerConfig } from "./providers.js";

/** Money and prices are decimal strings ("0.27"), never floats. Numbers are accepted and kept as written. */
const decimal = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .refine((v) => /^\d+(\.\d+)?$/.test(v), { message: 'expected a non-negative decimal such as "0.27"' });

export const priceSchema = z.strictObject({
  input: decimal,
  output: decimal.default("0"),
  /** Cache reads. Defaults to the input price: never assume a discount the provider did not give. */
  cachedInput: decimal.optional(),
  cacheWrite: decimal.optional(),
  /** Reasoning tokens, when billed differently from output. */
  reasoning: decimal.optional(),
  /** A flat fee per request. */
  request: decimal.optional(),
  /** The token count the prices above are for. */
  per: z.enum(["1M", "1K", "1"]).default("1M"),
  source: z.string().optional(),
  effectiveDate: z.string().optional(),
});

const modelIdSchema = z.string().regex(/^[A-Za-z0-9_.-]+\/.+$/, 'expected "provider/model-id"');

export const modelSchema = z.strictObject({
  id: modelIdSchema,
  price: priceSchema.optional(),
  kind: z.enum(["chat", "embedding"]).default("chat"),
  status: z.enum(["enabled", "disabled"]).default("enabled"),
  contextWindow: z.number().int().positive().optional(),
  description: z.string().optional(),
});

export const criticality = z.enum(["LOW", "MEDIUM", "HIGH"]);

export const operationSchema = z.strictObject({
  /** A catalog model id, or a tier name (`strong`, `mid`, `cheap`). */
  model: z.string().min(1),
  fallbacks: z.array(z.string().min(1)).default([]),
  enabled: z.boolean().default(true),
  criticality: criticality.default("MEDIUM"),
  maxTokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  timeoutMs: z.number().int().positive().optional(),
  description: z.string().optional(),
});

export const TIERS = ["strong", "mid", "cheap"] as const;
export type Tier = (typeof TIERS)[number];

export const configSchema = z
  .strictObject({
    /** Marks a configuration as the built-in demo, so that every surface can say so. */
    demo: z.boolean().default(false),
    server: z
      .strictObject({
        port: z.number().int().min(0).max(65535).default(4100),
        host: z.string().default("0.0.0.0"),
        bodyLimitBytes: z.number().int().positive().default(1024 * 1024),
        /** How long a SIGTERM waits for in-flight calls before closing. */
        shutdownGraceMs: z.number().int().nonnegative().default(10_000),
      })
      .prefault({}),
    providers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "provider names use letters, digits, _ . -"), providerConfig),
    models: z.array(modelSchema).min(1),
    operations: z.record(z.string().regex(/^[A-Za-z0-9_.:-]+$/), operationSchema).default({}),
    tiers: z.strictObject({ strong: z.string().optional(), mid: z.string().optional(), cheap: z.string().optional() }).prefault({}),
    retry: z
      .strictObject({
        /** Attempts per candidate, including the first. */
        maxAttempts: z.number().int().min(1).max(10).default(2),
        baseDelayMs: z.number().int().nonnegative().default(250),
        maxDelayMs: z.number().int().nonnegative().default(4_000),
        /** A Retry-After longer than this skips to the next candidate instead of waiting. */
        maxRetryAfterMs: z.number().int().nonnegative().default(60_000),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        /** The whole call, across every attempt and fallback. */
        requestMs: z.number().int().positive().default(120_000),
        /** One upstream attempt, unless the provider or operation sets its own. */
        attemptMs: z.number().int().positive().default(60_000),
      })
      .prefault({}),
    pricing: z
      .strictObject({
        /** Charged (and flagged `price_missing`) for a model with no price, so a call is never a silent $0. */
        missingPrice: priceSchema.default({ input: "10", output: "30", per: "1M" }),
      })
      .prefault({}),
    ledger: z
      .strictObject({
        batchSize: z.number().int().positive().default(500),
        flushIntervalMs: z.number().int().positive().default(100),
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

type RawConfig = Pick<AirlockConfig, "providers" | "models" | "operations" | "tiers">;

/** Every name a config uses must exist in the same config: a typo fails at start, not at 3 a.m. */
function checkReferences(config: RawConfig, ctx: z.RefinementCtx): void {
  const modelIds = new Set<string>();
  config.models.forEach((model, i) => {
    if (modelIds.has(model.id)) ctx.addIssue({ code: "custom", path: ["models", i, "id"], message: `duplicate model "${model.id}"` });
    modelIds.add(model.id);
    const provider = model.id.slice(0, model.id.indexOf("/"));
    if (!(provider in config.providers)) {
      ctx.addIssue({ code: "custom", path: ["models", i, "id"], message: `unknown provider "${provider}" (known: ${Object.keys(config.providers).join(", ") || "none"})` });
    }
  });
  for (const tier of TIERS) {
    const target = config.tiers[tier];
    if (target !== undefined && !modelIds.has(target)) {
      ctx.addIssue({ code: "custom", path: ["tiers", tier], message: `unknown model "${target}"` });
    }
  }
  const isTarget = (ref: string) => modelIds.has(ref) || (TIERS.includes(ref as Tier) && config.tiers[ref as Tier] !== undefined);
  for (const [name, op] of Object.entries(config.operations)) {
    if (modelIds.has(name)) ctx.addIssue({ code: "custom", path: ["operations", name], message: `operation "${name}" has the same name as a model` });
    [op.model, ...op.fallbacks].forEach((ref, i) => {
      if (!isTarget(ref)) {
        const path = i === 0 ? ["operations", name, "model"] : ["operations", name, "fallbacks", i - 1];
        ctx.addIssue({ code: "custom", path, message: `unknown model or unmapped tier "${ref}"` });
      }
    });
  }
}
