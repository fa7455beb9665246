import { ProviderError, providerErrorFromResponse } from "../errors.js";
import { emptyUsage, type ChatResult, type FinishReason, type ToolCall, type Usage } from "../spec.js";
import { count, isObject, optionalCount, reportedCount } from "../wire.js";
import type { AnthropicMessage, AnthropicUsage } from "./wire.js";

/**
 * Anthropic's `input_tokens` excludes cache reads and writes; ours is inclusive, with the cached and
 * cache-write parts broken out so costing can price each at its own rate. Undefined when the counts
 * cannot be read (see anthropicInputUsage), so the caller estimates them and flags the row.
 */
export function normalizeAnthropicUsage(usage: AnthropicUsage): Usage | undefined {
  const outputTokens = reportedCount(usage.output_tokens);
  if (outputTokens === undefined) return undefined;
  const normalized = anthropicInputUsage(usage);
  if (normalized !== undefined) normalized.outputTokens = outputTokens;
  return normalized;
}

/**
 * The input side alone, output 0: message_start reports it before any output is counted. The cache
 * counts add to the input total, so one that is there but not a count (a string, a negative) leaves
 * the total unknown, and the whole is undefined; absent or null, they are 0.
 */
export function anthropicInputUsage(usage: AnthropicUsage): Usage | undefined {
  const input = reportedCount(usage.input_tokens);
  const cacheRead = optionalCount(usage.cache_read_input_tokens);
  const cacheWrite = optionalCount(usage.cache_creation_input_tokens);
  if (input === undefined || cacheRead === undefined || cacheWrite === undefined) return undefined;
  const normalized: Usage = {
    inputTokens: input + cacheRead + cacheWrite,
    outputTokens: 0,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: 0, // Anthropic bills thinking as output and does not break it out
  };
  // The split by how long the writes are kept: the 1-hour ones are priced apart (see pricing.ts).
  const oneHour = isObject(usage.cache_creation) ? count(usage.cache_creation.ephemeral_1h_input_tokens) : 0;
  if (oneHour > 0) normalized.cacheWrite1hTokens = Math.min(oneHour, cacheWrite);
  return normalized;
}

export function toFinishReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case "end_turn":
    case "stop_sequence":
    case "pause_turn":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    case null:
    case undefined:
      return null;
    default:
      // A reason newer than this adapter: the turn did end, and OpenAI clients refuse a finished choice without one.
      return "stop";
  }
}

export function toChatResult(raw: unknown, provider: string): ChatResult {
  if (!isObject(raw) || raw.type !== "message" || !Array.isArray(raw.content)) {
    throw new ProviderError(`${provider}: upstream answer is not an Anthropic message`, { kind: "protocol", provider });
  }
  if (!raw.content.every(isObject)) {
    throw new ProviderError(`${provider}: upstream answer has a content block that is not an object`, { kind: "protocol", provider });
  }
  const message = raw as unknown as AnthropicMessage;
  let content = "";
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    if (block.type === "text" && typeof block.text === "string") {
      content += block.text;
      hasText = true;
    } else if (block.type === "tool_use") {
      toolCalls.push({
        id: block.id ?? "",
        type: "function",
        function: { name: block.name ?? "", arguments: JSON.stringify(block.input ?? {}) },
      });
    }
    // thinking and server-tool blocks have no place in an OpenAI message
  }
  const usage = isObject(message.usage) ? normalizeAnthropicUsage(message.usage) : undefined;
  return {
    id: message.id,
    model: message.model,
    created: Math.floor(Date.now() / 1000),
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: hasText ? content : null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: toFinishReason(message.stop_reason),
      },
    ],
    usage: usage ?? emptyUsage(),
    usageReported: usage !== undefined,
  };
}

/**
 * Anthropic words a missing model as `not_found_error` / "model: <id>", which the shared classifier
 * does not recognise as a model problem; another provider may well serve the model, so say so.
 */
export function anthropicErrorFromResponse(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): ProviderError {
  const error = providerErrorFromResponse(provider, status, headers, bodyText);
  if (status !== 404 || error.fallbackable || !/^model:/i.test(error.message)) return error;
  return new ProviderError(error.message, {
    kind: "http",
    provider,
    status,
    providerCode: error.providerCode,
    retryAfterMs: error.retryAfterMs,
    fallbackable: true,
  });
}
