import { endedBeforeFirstEvent, isRetryableStatus, ProviderError, saysOverloaded } from "../errors.js";
import { redact } from "../redact.js";
import type { SseBursts } from "../sse.js";
import type { ChatChoice, ChatChunk, ChatResult, ChunkWire, EmbedResult, StreamEvent, Usage } from "../spec.js";
import { emptyUsage } from "../spec.js";
import { passThrough } from "../openai-wire.js";
import { count, isObject, reportedCount, text } from "../wire.js";
import { normalizeOpenAIUsage } from "./usage.js";

/** OpenAI-shaped answers need no translation, only checking and usage normalisation. */
export function toChatResult(raw: unknown, provider: string, secrets: readonly string[] = []): ChatResult {
  if (!isObject(raw)) throw protocolError(provider, "upstream answered with a body that is not an object");
  if (raw.error !== undefined && raw.error !== null) throw upstreamReportedError(provider, raw.error, secrets);
  if (!Array.isArray(raw.choices)) throw protocolError(provider, "upstream answer has no choices");
  const malformed = malformedChoice(raw.choices);
  if (malformed !== undefined) throw protocolError(provider, `upstream answer has ${malformed}`);
  const usage = normalizeOpenAIUsage(raw.usage);
  const result: ChatResult = {
    id: text(raw.id) ?? "",
    model: text(raw.model) ?? "",
    created: count(raw.created),
    choices: raw.choices as ChatChoice[],
    usage: usage ?? emptyUsage(),
    usageReported: usage !== undefined,
  };
  const fingerprint = text(raw.system_fingerprint);
  if (fingerprint !== undefined) result.system_fingerprint = fingerprint;
  const tier = text(raw.service_tier);
  if (tier !== undefined) result.service_tier = tier;
  return result;
}

export function toEmbedResult(raw: unknown, provider: string, secrets: readonly string[] = []): EmbedResult {
  if (!isObject(raw)) throw protocolError(provider, "upstream answered with a body that is not an object");
  if (raw.error !== undefined && raw.error !== null) throw upstreamReportedError(provider, raw.error, secrets);
  if (!Array.isArray(raw.data)) throw protocolError(provider, "upstream embeddings answer has no data");
  const usage = emptyUsage();
  const inputTokens = isObject(raw.usage) ? reportedCount(raw.usage.prompt_tokens) : undefined;
  // Every input embedded is at least one token: zero is a placeholder (a server that does not count),
  // which booked the call at $0 unflagged. It is no report, so the tokens are counted and the row flagged.
  const usageReported = inputTokens !== undefined && inputTokens > 0;
  if (inputTokens !== undefined) usage.inputTokens = inputTokens;
  return { model: text(raw.model) ?? "", data: raw.data as EmbedResult["data"], usage, usageReported };
}

/**
 * Turns the upstream's SSE into StreamEvents. Usage may ride on a choice-less final chunk (OpenAI,
 * OpenRouter) or on the last content chunk (DeepSeek); either way it is held back and emitted once,
 * after `[DONE]`. A stream without usage emits no usage event: absence is how "not reported" is told.
 * With `chunksAsText`, chunks that need no reading go on as text (see openai-wire.ts), those of one
 * burst together; they leave before anything after them is read, so a bad event later in the burst
 * still ends the stream after them. The stream's first chunk leaves alone, before the rest of its
 * burst is read: the client's first token waits for nothing else. The usage is kept in `reported` as
 * soon as it comes, so that a stream cut before `[DONE]` is still billed from it (ProviderStream.usageSoFar).
 */
export async function* toStreamEvents(
  bursts: SseBursts,
  provider: string,
  chunksAsText = false,
  reported: { usage?: Usage } = {},
  secrets: readonly string[] = [],
): AsyncGenerator<StreamEvent> {
  let started = false;
  let heard = false;
  for await (const burst of bursts) {
    heard = true; // a burst is never empty
    let wires: ChunkWire[] | undefined;
    for (const message of burst) {
      const wire = chunksAsText ? passThrough(message.data) : undefined;
      if (wire !== undefined) {
        if (!started) {
          started = true;
          yield { type: "wire", chunks: [wire] };
        } else if (wires === undefined) wires = [wire];
        else wires.push(wire);
        continue;
      }
      if (wires !== undefined) {
        yield { type: "wire", chunks: wires };
        wires = undefined;
      }
      if (message.data === "[DONE]") {
        if (reported.usage !== undefined) yield { type: "usage", usage: reported.usage };
        return;
      }
      let payload: unknown;
      try {
        payload = JSON.parse(message.data);
      } catch (err) {
        throw protocolError(provider, "upstream stream carried a data line that is not JSON", err);
      }
      if (!isObject(payload)) throw protocolError(provider, "upstream stream carried a data line that is not an object");
      if (payload.error !== undefined && payload.error !== null) throw upstreamReportedError(provider, payload.error, secrets);
      if (payload.usage !== undefined) {
        // Usage leaves as its own event. Set to undefined rather than copying the chunk without it:
        // JSON.stringify leaves it out all the same, and with usage asked for, every chunk carries
        // `"usage": null`, so the copy (a slow runtime path) was paid on every chunk.
        if (payload.usage !== null) reported.usage = normalizeOpenAIUsage(payload.usage) ?? reported.usage;
        payload.usage = undefined;
      }
      if (Array.isArray(payload.choices) && payload.choices.length > 0) {
        // Only chunks that needed parsing come here, so the check costs the plain text chunks nothing.
        if (!payload.choices.every(isChunkChoice)) throw protocolError(provider, "upstream stream carried a choice without a delta object");
        started = true;
        yield { type: "chunk", chunk: payload as unknown as ChatChunk };
      }
    }
    if (wires !== undefined) yield { type: "wire", chunks: wires };
  }
  if (!heard) throw endedBeforeFirstEvent(provider);
  throw protocolError(provider, "upstream stream ended before [DONE]");
}

/**
 * What is wrong with the first choice that callers cannot read (a choice or message that is not an
 * object, a tool call without a function object), or undefined when every one can be read. Fields
 * inside them are the upstream's, passed on as they are.
 */
function malformedChoice(choices: unknown[]): string | undefined {
  for (const choice of choices) {
    if (!isObject(choice)) return "a choice that is not an object";
    if (!isObject(choice.message)) return "a choice whose message is not an object";
    const calls = choice.message.tool_calls;
    if (calls === undefined || calls === null) continue;
    if (!Array.isArray(calls)) return "tool_calls that are not a list";
    if (!calls.every((call) => isObject(call) && isObject(call.function))) return "a tool call without a function object";
  }
  return undefined;
}

function isChunkChoice(choice: unknown): boolean {
  return isObject(choice) && isObject(choice.delta);
}

/**
 * An `error` object inside a 200 answer or a stream (OpenRouter does both). OpenRouter sends the status of
 * the provider it relayed as a numeric `code`: one that says the provider failed or was busy (408, 409,
 * 429, 5xx), or a message that says overloaded, is worth another target while nothing has reached the
 * client. It is not retried here: the upstream has already had its say about this target.
 */
function upstreamReportedError(provider: string, error: unknown, secrets: readonly string[]): ProviderError {
  const detail = isObject(error) ? error : {};
  const code = detail.code ?? detail.type;
  // Its message reaches the client: Airlock's credentials, which some upstreams echo, are taken out first.
  const message = redact(text(detail.message) ?? (typeof error === "string" ? error : "error"), secrets);
  const providerCode = code === undefined || code === null ? undefined : String(code);
  return new ProviderError(`${provider}: upstream reported an error: ${message.slice(0, 500)}`, {
    kind: "protocol",
    provider,
    providerCode,
    fallbackable: (typeof detail.code === "number" && isRetryableStatus(detail.code)) || saysOverloaded(`${providerCode ?? ""} ${message}`),
  });
}

function protocolError(provider: string, message: string, cause?: unknown): ProviderError {
  return new ProviderError(`${provider}: ${message}`, { kind: "protocol", provider, cause });
}
