import type { Tiktoken } from "js-tiktoken/lite";
import type { ChatRequest, ChatResult, Usage } from "../providers/spec.js";

/**
 * Token counts for a call whose upstream reported none (it sent no usage, the stream broke, or the
 * client left before the usage event), so the row is flagged `usage_estimated` and never a silent
 * zero. Text is counted with OpenAI's o200k_base tokenizer, which is exact for OpenAI's current models
 * and close for others, whose tokenizers are not public; message framing follows OpenAI's documented
 * overhead. Images and audio are not counted.
 */

/** OpenAI's framing: every message costs three tokens around its content, a name one more, and the reply is primed with three. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;

let loading: Promise<Tiktoken> | undefined;

/**
 * Loaded on first need, not at start: its table of 200,000 merges costs about 30 MB and a few hundred
 * ms to build, and a deployment whose upstreams always report usage never needs it.
 */
export function loadTokenizer(): Promise<Tiktoken> {
  loading ??= Promise.all([import("js-tiktoken/lite"), import("js-tiktoken/ranks/o200k_base")]).then(
    ([{ Tiktoken }, { default: ranks }]) => new Tiktoken(ranks),
  );
  return loading;
}

/** Tokens in plain text. Text that looks like a special token (`<|endoftext|>`) is counted as the text it is. */
export function countTokens(tokenizer: Tiktoken, text: string): number {
  return text === "" ? 0 : tokenizer.encode(text, [], []).length;
}

export function countPromptTokens(tokenizer: Tiktoken, body: ChatRequest): number {
  let tokens = REPLY_PRIMING;
  for (const message of body.messages) {
    tokens += TOKENS_PER_MESSAGE + countTokens(tokenizer, message.role);
    if (typeof message.content === "string") tokens += countTokens(tokenizer, message.content);
    else if (Array.isArray(message.content)) for (const part of message.content) if (part.type === "text") tokens += countTokens(tokenizer, part.text);
    if (message.name) tokens += TOKENS_PER_NAME + countTokens(tokenizer, message.name);
    for (const call of message.tool_calls ?? []) tokens += countTokens(tokenizer, call.function.name) + countTokens(tokenizer, call.function.arguments);
  }
  // Tool definitions reach the model as text too; their JSON is a close stand-in for OpenAI's rendering.
  if (Array.isArray(body.tools) && body.tools.length > 0) tokens += countTokens(tokenizer, JSON.stringify(body.tools));
  return tokens;
}

/** `output` is everything the model generated: answer text and tool call arguments. */
export async function estimateUsage(body: ChatRequest, output: string): Promise<Usage> {
  const tokenizer = await loadTokenizer();
  return {
    inputTokens: countPromptTokens(tokenizer, body),
    outputTokens: countTokens(tokenizer, output),
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}

/** What a whole (non-streamed) answer generated, for `estimateUsage`. */
export function generatedText(result: ChatResult): string {
  let text = "";
  for (const choice of result.choices) {
    text += choice.message.content ?? "";
    for (const call of choice.message.tool_calls ?? []) text += call.function.name + call.function.arguments;
  }
  return text;
}
