import { Decimal } from "decimal.js";
import type { Usage } from "../spec.js";
import { count, isObject, reportedCount } from "../wire.js";

/**
 * Normalises an OpenAI-style `usage` object. The dialects differ only in where the breakdown lives:
 * - OpenAI: `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`
 *   (both totals already inclusive).
 * - DeepSeek: `prompt_cache_hit_tokens` (+ `prompt_cache_miss_tokens`, which sum to `prompt_tokens`).
 * - OpenRouter: the OpenAI fields plus `cost` in USD, and `cache_write_tokens` for upstreams that bill it.
 * - xAI: `reasoning_tokens` outside `completion_tokens` (see reasoningOutside).
 * Returns undefined when the upstream sent no usage, or no prompt and completion counts that can be read
 * (`{}`, nulls, strings, only `total_tokens`, a prompt of zero tokens), so the caller estimates them and flags the row. The
 * details only split the totals, so an odd one counts as 0 and the usage is still used.
 */
export function normalizeOpenAIUsage(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  // Responses-style names (`input_tokens`, `output_tokens` and their `_details`), which some
  // OpenAI-compatible servers send on chat completions too: the same counts, inclusive the same way.
  const responses = raw.prompt_tokens === undefined && raw.completion_tokens === undefined;
  const inputTokens = reportedCount(responses ? raw.input_tokens : raw.prompt_tokens);
  const reportedOutput = reportedCount(responses ? raw.output_tokens : raw.completion_tokens);
  // No chat prompt is zero tokens long: a report that says so is a placeholder (some OpenAI-compatible
  // servers send zeros and never count), which booked the call at $0 unflagged. It is no report.
  if (inputTokens === undefined || reportedOutput === undefined || inputTokens === 0) return undefined;
  const promptDetails = detailsOf(responses ? raw.input_tokens_details : raw.prompt_tokens_details);
  const completionDetails = detailsOf(responses ? raw.output_tokens_details : raw.completion_tokens_details);
  const reasoningTokens = count(completionDetails?.reasoning_tokens);
  const usage: Usage = {
    inputTokens,
    outputTokens: reasoningOutside(inputTokens, reportedOutput, reasoningTokens, raw.total_tokens) ? reportedOutput + reasoningTokens : reportedOutput,
    cachedInputTokens: count(promptDetails?.cached_tokens) || count(raw.prompt_cache_hit_tokens),
    cacheWriteTokens: count(promptDetails?.cache_write_tokens),
    reasoningTokens,
  };
  // Audio models (gpt-4o-audio-preview, gpt-realtime) bill audio tokens at their own rates.
  const audioIn = count(promptDetails?.audio_tokens);
  if (audioIn > 0) usage.audioInputTokens = audioIn;
  const audioOut = count(completionDetails?.audio_tokens);
  if (audioOut > 0) usage.audioOutputTokens = audioOut;
  // Predicted outputs: told to the client, priced as the output they are part of.
  const accepted = count(completionDetails?.accepted_prediction_tokens);
  if (accepted > 0) usage.acceptedPredictionTokens = accepted;
  const rejected = count(completionDetails?.rejected_prediction_tokens);
  if (rejected > 0) usage.rejectedPredictionTokens = rejected;
  const cost = providerCost(raw.cost);
  if (cost !== undefined) usage.providerCost = cost;
  return usage;
}

function detailsOf(value: unknown): Record<string, unknown> | undefined {
  return isObject(value) ? value : undefined;
}

/**
 * Whether the upstream counts reasoning outside its completion count, as xAI does (its total is prompt +
 * completion + reasoning), where OpenAI counts it inside. Told by the total when there is one, else by a
 * reasoning count larger than the whole completion, which cannot be a part of it. Either way the reasoning
 * is output that was billed: read as OpenAI's form, it was dropped (or the answer's text was).
 */
function reasoningOutside(input: number, output: number, reasoning: number, total: unknown): boolean {
  if (reasoning === 0) return false;
  if (typeof total === "number" && total === input + output + reasoning) return true;
  return reasoning > output;
}

/**
 * The upstream's USD figure as a plain decimal string. A JSON number has already become the nearest
 * double; its shortest round-trip form is exactly the digits the upstream wrote, and Decimal prints
 * that without exponent notation (1e-7 → "0.0000001"). No arithmetic happens here, so no float noise.
 */
export function providerCost(raw: unknown): string | undefined {
  if (typeof raw !== "number" && typeof raw !== "string") return undefined;
  if (typeof raw === "number" && !Number.isFinite(raw)) return undefined;
  try {
    const value = new Decimal(raw);
    return value.isNegative() ? undefined : value.toFixed();
  } catch {
    return undefined; // a cost we cannot read is no cost figure, not a failed call
  }
}
