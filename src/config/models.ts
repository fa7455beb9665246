import { z } from "zod";
import { checkPriceBounds, checkPriceTiers, moneyAmount, positiveInt4 } from "./bounds.js";

/** Money and prices are decimal strings ("0.27"), never floats, below 10^12 (see bounds.ts). Numbers are accepted and kept as written. */
const decimal = moneyAmount();

/** At most this many long-context tiers on one price: providers publish one or two. */
export const MAX_PRICE_TIERS = 8;

/** The token prices billed apart from input and output, each falling back as its comment says; a tier takes them too. */
const splitTokenPrices = {
  /** Cache reads. Defaults to the input price: never assume a discount the provider did not give. */
  cachedInput: decimal.optional(),
  /** Cache writes (Anthropic's 5-minute writes). Defaults to the input price. */
  cacheWrite: decimal.optional(),
  /** Anthropic's 1-hour cache writes (2x input where 5-minute ones are 1.25x). Defaults to `cacheWrite`. */
  cacheWrite1h: decimal.optional(),
  /** Audio input tokens (OpenAI's audio and transcription models, Gemini), when billed apart from text. Defaults to `input`. */
  audioInput: decimal.optional(),
  /** Audio output tokens (OpenAI's audio models). Defaults to `output`. */
  audioOutput: decimal.optional(),
  /** Reasoning tokens, when billed differently from output. */
  reasoning: decimal.optional(),
};

/**
 * The token prices of a call whose prompt is longer than `inputTokens` (Gemini 2.5 Pro and Claude Sonnet 4
 * with the 1M context, above 200K). The whole call is charged at the tier, as the providers bill it. A field
 * a tier leaves out falls back within the tier, as in a price: cache reads and writes at the tier's input.
 * The request fee, character and audio-minute prices and `per` are the price's own.
 */
export const priceTierSchema = z.strictObject({
  /** The tier applies when the call's prompt (all its input tokens, cached ones included) is longer than this. */
  inputTokens: positiveInt4(),
  input: decimal,
  output: decimal,
  ...splitTokenPrices,
});

export const priceSchema = z.strictObject({
  input: decimal,
  output: decimal.default("0"),
  ...splitTokenPrices,
  /** A flat fee per request. */
  request: decimal.optional(),
  /** Text characters, per `per` characters: what speech (text-to-speech) models bill. */
  characters: decimal.optional(),
  /** USD per minute of audio, pro rata to the millisecond: what transcription models bill. Not scaled by `per`. */
  audioMinute: decimal.optional(),
  /** The token count the prices above are for. */
  per: z.enum(["1M", "1K", "1"]).default("1M"),
  /** Long-context tiers, by ascending `inputTokens`: a call with a longer prompt is charged the last tier it passes. */
  above: z.array(priceTierSchema).max(MAX_PRICE_TIERS).optional(),
  source: z.string().optional(),
  effectiveDate: z.string().optional(),
}).superRefine((price, ctx) => {
  checkPriceBounds(price, ctx);
  checkPriceTiers(price, ctx);
});

/** `pricing.missingPrice` when the file sets none; its unit prices also fill in for a missingPrice that leaves them out. */
export const DEFAULT_MISSING_PRICE = { input: "10", output: "30", characters: "30", audioMinute: "0.05", per: "1M" } as const;

export const structuredOutputMode = z.enum(["native", "prompt"]);

const modelIdSchema = z.string().regex(/^[A-Za-z0-9_.-]+\/.+$/, 'expected "provider/model-id"');

export const modelSchema = z.strictObject({
  id: modelIdSchema,
  price: priceSchema.optional(),
  kind: z.enum(["chat", "embedding", "transcription", "speech"]).default("chat"),
  status: z.enum(["enabled", "disabled"]).default("enabled"),
  contextWindow: z.number().int().positive().optional(),
  /** How to ask this model for a JSON Schema answer; defaults to its provider's setting. */
  structuredOutput: structuredOutputMode.optional(),
  description: z.string().optional(),
});
