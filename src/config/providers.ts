import { z } from "zod";
import { durationMs } from "./bounds.js";

/**
 * `env:NAME` reads a secret from the environment at load time, so config files never hold keys. The
 * forms other gateways read (`${NAME}`, `$NAME` in capitals, LiteLLM's `os.environ/NAME`) are refused,
 * naming the form to write: taken as written, the reference itself would be sent upstream as the key.
 */
export const secretRef = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const name = /^(?:\$\{([A-Za-z_]\w*)\}|\$([A-Z_][A-Z0-9_]*)|os\.environ\/([A-Za-z_]\w*))$/.exec(value.trim());
    if (name) ctx.addIssue({ code: "custom", message: `environment references are written env:${name[1] ?? name[2] ?? name[3]}; this one would be used as the literal value` });
  });

const base = {
  /** How models of this provider are asked for a JSON Schema answer: `native` sends `response_format`, `prompt` an instruction. */
  structuredOutput: z.enum(["native", "prompt"]).optional(),
  /** Per-attempt timeout for this provider's calls, in ms. */
  timeoutMs: durationMs().positive().optional(),
};

export const openAICompatibleConfig = z.strictObject({
  type: z.literal("openai-compatible"),
  baseUrl: z.url(),
  apiKey: secretRef.optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Max sockets per upstream origin. */
  connections: z.number().int().positive().optional(),
  ...base,
});

export const anthropicConfig = z.strictObject({
  type: z.literal("anthropic"),
  baseUrl: z.url().default("https://api.anthropic.com"),
  apiKey: secretRef.optional(),
  version: z.string().default("2023-06-01"),
  /** Anthropic requires max_tokens; used when the request sets none. */
  defaultMaxTokens: z.number().int().positive().default(4096),
  headers: z.record(z.string(), z.string()).optional(),
  connections: z.number().int().positive().optional(),
  ...base,
});

export const geminiConfig = z.strictObject({
  type: z.literal("gemini"),
  baseUrl: z.url().default("https://generativelanguage.googleapis.com"),
  /** Sent as the `x-goog-api-key` header. */
  apiKey: secretRef.optional(),
  /** The path segment before `/models/…`: `v1beta` has every feature the adapter uses (thinking, JSON Schema). */
  apiVersion: z.string().regex(/^[\w.-]+$/).default("v1beta"),
  headers: z.record(z.string(), z.string()).optional(),
  connections: z.number().int().positive().optional(),
  ...base,
});

/** One step of a mock script: what the nth call does. The script repeats its last step. */
export const mockStep = z.strictObject({
  /** Answer with this HTTP-like error status instead of a reply. */
  status: z.number().int().min(400).max(599).optional(),
  /** With `status`, the Retry-After the error carries, in seconds. */
  retryAfterSeconds: z.number().nonnegative().optional(),
  /** Never answer: the call hangs until it is aborted. */
  hang: z.boolean().optional(),
  reply: z.string().optional(),
  latencyMs: durationMs().nonnegative().optional(),
  /** Streaming only: break the stream after this many content chunks. */
  cutAfterChunks: z.number().int().nonnegative().optional(),
});

export const mockConfig = z.strictObject({
  type: z.literal("mock"),
  /** The fixed reply. Without one, the mock says which model answered and how long the prompt was. */
  reply: z.string().optional(),
  latencyMs: durationMs().nonnegative().default(0),
  /** Delay between streamed chunks, in ms. */
  chunkDelayMs: durationMs().nonnegative().default(0),
  script: z.array(mockStep).optional(),
  embeddingDimensions: z.number().int().positive().default(8),
  ...base,
});

export const noopConfig = z.strictObject({
  type: z.literal("noop"),
  reason: z.string().default("this provider is switched off"),
  ...base,
});

export const providerConfig = z.discriminatedUnion("type", [openAICompatibleConfig, anthropicConfig, geminiConfig, mockConfig, noopConfig]);

export type OpenAICompatibleConfig = z.infer<typeof openAICompatibleConfig>;
export type AnthropicConfig = z.infer<typeof anthropicConfig>;
export type GeminiConfig = z.infer<typeof geminiConfig>;
export type MockConfig = z.infer<typeof mockConfig>;
export type MockStep = z.infer<typeof mockStep>;
export type NoopConfig = z.infer<typeof noopConfig>;
export type ProviderConfig = z.infer<typeof providerConfig>;
