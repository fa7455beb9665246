import { endedBeforeFirstEvent, ProviderError } from "../errors.js";
import type { SseBursts } from "../sse.js";
import type { ChatChunk, ChunkChoice, FinishReason, StreamEvent, UsageSoFar } from "../spec.js";
import { isObject, parseEvent, text } from "../wire.js";
import { geminiStreamError } from "./errors.js";
import { answerText, normalizeGeminiUsage, partsOf, toFinishReason, toToolCall, ToolCallIds } from "./response.js";
import type { GeminiCandidate, GeminiUsageMetadata } from "./wire.js";

/**
 * Translates streamGenerateContent's SSE (each `data:` a whole GenerateContentResponse holding the new
 * parts only) into OpenAI chunks. Gemini repeats usageMetadata on every event, cumulatively, so only the
 * last one counts; it is emitted once, after the content, and kept in `reported` as it comes, so that a
 * stream that ends early is billed from it (see usageSoFar). There is no end-of-stream event: a stream
 * is complete when every candidate it started has a finishReason, and broken otherwise.
 */
export async function* toStreamEvents(
  bursts: SseBursts,
  provider: string,
  requestedModel: string,
  secrets: readonly string[],
  reported: { metadata?: GeminiUsageMetadata } = {},
): AsyncGenerator<StreamEvent> {
  let id = "";
  let model = requestedModel;
  const created = Math.floor(Date.now() / 1000);
  const ids = new ToolCallIds();
  const started = new Set<number>();
  const finished = new Set<number>();
  /** OpenAI numbers tool calls per choice, from 0. */
  const toolCounts = new Map<number, number>();

  const chunk = (index: number, delta: ChunkChoice["delta"], finishReason: FinishReason = null): StreamEvent => {
    if (!started.has(index)) {
      delta.role = "assistant";
      started.add(index);
    }
    const out: ChatChunk = { id, object: "chat.completion.chunk", created, model, choices: [{ index, delta, finish_reason: finishReason }] };
    return { type: "chunk", chunk: out };
  };

  let heard = false;
  for await (const burst of bursts) {
    heard = true; // a burst is never empty
    for (const message of burst) {
      const event = parseEvent(message.data, provider);
      if (event.error !== undefined && event.error !== null) throw geminiStreamError(provider, event.error, secrets);
      id = text(event.responseId) ?? id;
      model = text(event.modelVersion) ?? model;
      if (isObject(event.usageMetadata)) reported.metadata = event.usageMetadata as GeminiUsageMetadata;

      const candidates = Array.isArray(event.candidates) ? (event.candidates.filter(isObject) as GeminiCandidate[]) : [];
      for (const [position, candidate] of candidates.entries()) {
        const index = typeof candidate.index === "number" ? candidate.index : position;
        const parts = partsOf(candidate);
        const delta: ChunkChoice["delta"] = {};
        const content = answerText(parts); // thought parts are reasoning, not content
        if (content !== undefined && content !== "") delta.content = content;
        const calls = parts.flatMap((part) => toToolCall(part, ids) ?? []);
        if (calls.length > 0) {
          const first = toolCounts.get(index) ?? 0;
          toolCounts.set(index, first + calls.length);
          // Gemini sends each call whole, so one delta carries id, name and all the arguments.
          delta.tool_calls = calls.map((call, i) => ({ index: first + i, ...call }));
        }
        if (delta.content !== undefined || delta.tool_calls !== undefined) yield chunk(index, delta);
        const reason = text(candidate.finishReason);
        if (reason !== undefined) {
          yield chunk(index, {}, toFinishReason(reason, toolCounts.has(index)));
          finished.add(index);
        }
      }
      // A blocked prompt: one event, promptFeedback and no candidates.
      if (candidates.length === 0 && isObject(event.promptFeedback) && text(event.promptFeedback.blockReason) !== undefined) {
        yield chunk(0, {}, "content_filter");
        finished.add(0);
      }
    }
  }
  if (!heard) throw endedBeforeFirstEvent(provider);
  if (finished.size === 0 || [...started].some((index) => !finished.has(index))) {
    throw new ProviderError(`${provider}: upstream stream ended before its finishReason`, { kind: "protocol", provider });
  }
  // like the other adapters: no usage event when the upstream reported none, or none that can be read
  const normalized = reported.metadata === undefined ? undefined : normalizeGeminiUsage(reported.metadata);
  if (normalized !== undefined) yield { type: "usage", usage: normalized };
}


/**
 * The last usageMetadata of a stream that ended early. Each event's counts cover the answer up to it, so
 * they count all that was streamed, unless candidatesTokenCount is missing (before the first answer
 * text, or an upstream that counts it only at the end): then the answer is the caller's to count.
 */
export function usageSoFar({ metadata }: { metadata?: GeminiUsageMetadata }): UsageSoFar | undefined {
  if (metadata === undefined) return undefined;
  const usage = normalizeGeminiUsage(metadata);
  return usage === undefined ? undefined : { usage, outputCounted: typeof metadata.candidatesTokenCount === "number" };
}
