import type { ChatRequest, ChatResult, Usage, UsageSoFar } from "../providers/spec.js";
import { countTokens, roughTokens } from "./token-counter.js";

/**
 * Token counts for a call whose upstream reported none (it sent no usage, the stream broke, or the
 * client left before the usage event), so the row is flagged `usage_estimated` and never a silent
 * zero. Text is counted with OpenAI's o200k_base tokenizer (see token-counter.ts), which is exact for
 * OpenAI's current models and close for others, whose tokenizers are not public; message framing
 * follows OpenAI's documented overhead. Images and audio are not counted.
 */

/** OpenAI's framing: every message costs three tokens around its content, a name one more, and the reply is primed with three. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;

/** The texts of a prompt that reach the model, and the framing tokens around them. Non-text values are skipped, never trusted. */
export function promptTexts(body: ChatRequest): { texts: string[]; framing: number } {
  const texts: string[] = [];
  let framing = REPLY_PRIMING;
  const add = (value: unknown) => {
    if (typeof value === "string") texts.push(value);
  };
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    framing += TOKENS_PER_MESSAGE;
    add(message.role);
    if (Array.isArray(message.content)) for (const part of message.content) add(part?.type === "text" ? part.text : undefined);
    else add(message.content);
    if (typeof message.name === "string" && message.name !== "") {
      framing += TOKENS_PER_NAME;
      add(message.name);
    }
    for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
      add(call?.function?.name);
      add(call?.function?.arguments);
    }
  }
  // Tool definitions reach the model as text too; their JSON is a close stand-in for OpenAI's rendering.
  if (Array.isArray(body.tools) && body.tools.length > 0) add(JSON.stringify(body.tools));
  return { texts, framing };
}

/**
 * `output` is the generated text that was kept (answer text and tool call arguments); `outputCharsBeyond`
 * the characters generated past what was kept, counted at four characters per token.
 */
export async function estimateUsage(body: ChatRequest, output: string, outputCharsBeyond = 0): Promise<Usage> {
  const { texts, framing } = promptTexts(body);
  const counts = await countTokens([...texts, output]);
  const outputTokens = counts.pop()! + roughTokens(outputCharsBeyond);
  return {
    inputTokens: framing + counts.reduce((sum, n) => sum + n, 0),
    outputTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}

/**
 * The usage of a stream that ended without its usage event (it broke, or the client left), from what the
 * upstream reported so far (ProviderStream.usageSoFar) and what was generated. Without a report, all of
 * it is estimated. A report whose output is counted stands as it is. Otherwise (Anthropic before its
 * message_delta) the input side stands, and the output is the larger of the upstream's count so far and
 * its reasoning tokens plus the generated text's. Anything estimated flags the row.
 */
export async function streamUsage(body: ChatRequest, reported: UsageSoFar | undefined, output: string, outputCharsBeyond: number): Promise<{ usage: Usage; estimated: boolean }> {
  if (reported === undefined) return { usage: await estimateUsage(body, output, outputCharsBeyond), estimated: true };
  if (reported.outputCounted) return { usage: reported.usage, estimated: false };
  const [generated = 0] = await countTokens([output]);
  const counted = reported.usage.reasoningTokens + generated + roughTokens(outputCharsBeyond);
  // A copy with the output replaced: the reported usage may be the adapter's own object.
  const usage = Object.assign({}, reported.usage);
  usage.outputTokens = Math.max(reported.usage.outputTokens, counted);
  return { usage, estimated: true };
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
