import { ProviderError } from "../errors.js";
import type { ChatChoice, ChatResult, EmbedRequest, EmbedResult, FinishReason, ToolCall, Usage } from "../spec.js";
import { emptyUsage } from "../spec.js";
import { count, isObject, optionalCount, reportedCount, text, type JsonObject } from "../wire.js";
import type { GeminiCandidate, GeminiModalityCount, GeminiPart, GeminiUsageMetadata } from "./wire.js";

/**
 * Gemini's promptTokenCount already includes cache hits, so only the cached part is broken out;
 * candidatesTokenCount excludes thinking, which is billed as output, so thoughts are added back in.
 * Tool-use prompt tokens (grounding results fed to the model) are input Google bills on top.
 * Undefined without a readable prompt count, or with an added count that is there but not a count
 * (Google leaves out those that do not apply), so the caller estimates them and flags the row.
 */
export function normalizeGeminiUsage(usage: GeminiUsageMetadata): Usage | undefined {
  const prompt = reportedCount(usage.promptTokenCount);
  const toolUsePrompt = optionalCount(usage.toolUsePromptTokenCount);
  const candidates = optionalCount(usage.candidatesTokenCount);
  const thoughts = optionalCount(usage.thoughtsTokenCount);
  if (prompt === undefined || toolUsePrompt === undefined || candidates === undefined || thoughts === undefined) return undefined;
  const normalized: Usage = {
    inputTokens: prompt + toolUsePrompt,
    outputTokens: candidates + thoughts,
    cachedInputTokens: count(usage.cachedContentTokenCount),
    cacheWriteTokens: 0, // explicit caches are created (and billed for storage) out of band, not per call
    reasoningTokens: thoughts,
  };
  // Audio is billed at its own rate: the prompt's audio less the cached part of it (cached audio is a
  // cache hit, priced as one), and the answer's audio.
  const audioIn = Math.max(0, audioCount(usage.promptTokensDetails) - audioCount(usage.cacheTokensDetails));
  if (audioIn > 0) normalized.audioInputTokens = audioIn;
  const audioOut = audioCount(usage.candidatesTokensDetails);
  if (audioOut > 0) normalized.audioOutputTokens = audioOut;
  return normalized;
}

/** The AUDIO entries' tokens in a list of counts by modality; anything unreadable counts as none. */
function audioCount(details: GeminiModalityCount[] | undefined): number {
  if (!Array.isArray(details)) return 0;
  let sum = 0;
  for (const entry of details as unknown[]) if (isObject(entry) && entry.modality === "AUDIO") sum += count(entry.tokenCount);
  return sum;
}

const FILTERED = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"]);

/** A function call ends the turn with STOP on Gemini; OpenAI callers look for `tool_calls`. */
export function toFinishReason(finishReason: string | undefined, hasToolCalls: boolean): FinishReason {
  let mapped: FinishReason = null;
  if (finishReason === "STOP") mapped = "stop";
  else if (finishReason === "MAX_TOKENS") mapped = "length";
  else if (finishReason !== undefined && FILTERED.has(finishReason)) mapped = "content_filter";
  // OTHER, MALFORMED_FUNCTION_CALL, LANGUAGE, … have no OpenAI counterpart, but the turn did end, and
  // OpenAI clients refuse a finished choice without a reason (openai-node: "missing finish_reason").
  else if (finishReason !== undefined) mapped = "stop";
  return hasToolCalls && (mapped === "stop" || mapped === null) ? "tool_calls" : mapped;
}

/**
 * Gemini's function calls have no id (outside a few surfaces), but OpenAI tool results must name one.
 * Numbering them in answer order makes the ids the same for the same answer, streamed or not.
 */
export class ToolCallIds {
  private next = 0;
  idFor(call: JsonObject): string {
    const id = text(call.id) ?? `call_${this.next}`;
    this.next++;
    return id;
  }
}

/** A candidate's answer text, without thought parts (the model's reasoning, which OpenAI callers must not get as content). */
export function answerText(parts: GeminiPart[]): string | undefined {
  let content: string | undefined;
  for (const part of parts) {
    if (part.thought === true || typeof part.text !== "string") continue;
    content = (content ?? "") + part.text;
  }
  return content;
}

export function toToolCall(part: GeminiPart, ids: ToolCallIds): ToolCall | undefined {
  if (!isObject(part.functionCall)) return undefined;
  const call = part.functionCall as unknown as JsonObject;
  return { id: ids.idFor(call), type: "function", function: { name: text(call.name) ?? "", arguments: JSON.stringify(call.args ?? {}) } };
}

export function partsOf(candidate: GeminiCandidate): GeminiPart[] {
  const parts = isObject(candidate.content) ? candidate.content.parts : undefined;
  return Array.isArray(parts) ? parts.filter(isObject) : [];
}

export function toChatResult(raw: unknown, provider: string, requestedModel: string): ChatResult {
  if (!isObject(raw)) throw new ProviderError(`${provider}: upstream answer is not a GenerateContentResponse`, { kind: "protocol", provider });
  const candidates = Array.isArray(raw.candidates) ? (raw.candidates.filter(isObject) as GeminiCandidate[]) : [];
  const ids = new ToolCallIds();
  const choices: ChatChoice[] = candidates.map((candidate, i) => {
    const parts = partsOf(candidate);
    const toolCalls = parts.flatMap((part) => toToolCall(part, ids) ?? []);
    return {
      index: typeof candidate.index === "number" ? candidate.index : i,
      message: { role: "assistant", content: answerText(parts) ?? null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
      finish_reason: toFinishReason(text(candidate.finishReason), toolCalls.length > 0),
    };
  });
  // A blocked prompt comes back as promptFeedback and no candidates at all; the caller still gets a choice.
  if (choices.length === 0 && isObject(raw.promptFeedback) && text(raw.promptFeedback.blockReason) !== undefined) {
    choices.push({ index: 0, message: { role: "assistant", content: null }, finish_reason: "content_filter" });
  }
  if (choices.length === 0) throw new ProviderError(`${provider}: upstream answer has no candidates`, { kind: "protocol", provider });
  const usage = isObject(raw.usageMetadata) ? normalizeGeminiUsage(raw.usageMetadata as GeminiUsageMetadata) : undefined;
  return {
    id: text(raw.responseId) ?? "",
    model: text(raw.modelVersion) ?? requestedModel,
    created: Math.floor(Date.now() / 1000),
    choices,
    usage: usage ?? emptyUsage(),
    usageReported: usage !== undefined,
  };
}

/**
 * batchEmbedContents reports no token counts: the result says so, and Airlock counts the input's
 * tokens itself and flags the row `usage_estimated`, so that embeddings are never ledgered as free.
 */
export function toEmbedResult(raw: unknown, provider: string, request: EmbedRequest): EmbedResult {
  if (!isObject(raw) || !Array.isArray(raw.embeddings)) {
    throw new ProviderError(`${provider}: upstream embeddings answer has no embeddings`, { kind: "protocol", provider });
  }
  const data = raw.embeddings.map((embedding, index) => {
    const values = isObject(embedding) && Array.isArray(embedding.values) ? (embedding.values as number[]) : undefined;
    if (values === undefined) throw new ProviderError(`${provider}: upstream embedding ${index} has no values`, { kind: "protocol", provider });
    return { index, embedding: request.encoding_format === "base64" ? toBase64(values) : values };
  });
  // One vector per input is checked for every adapter where the call is made (calls/embed.ts).
  return { model: request.model, data, usage: emptyUsage(), usageReported: false };
}

/** OpenAI's base64 encoding (which the openai SDK asks for by default): little-endian float32s. */
function toBase64(values: number[]): string {
  const floats = Float32Array.from(values);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString("base64");
}
