import type { ChatRequest, Usage } from "../providers/spec.js";

/**
 * A rough count, used only when the upstream sends no usage; the row is flagged `usage_estimated`.
 * About four characters per token for English text.
 */
export function estimateUsage(body: ChatRequest, outputChars: number): Usage {
  let inputChars = 0;
  for (const message of body.messages) {
    if (typeof message.content === "string") inputChars += message.content.length;
    else if (Array.isArray(message.content)) for (const part of message.content) if (part.type === "text") inputChars += part.text.length;
  }
  return {
    inputTokens: Math.ceil(inputChars / 4),
    outputTokens: Math.ceil(outputChars / 4),
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}
