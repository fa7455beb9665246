import { endedBeforeFirstEvent, ProviderError } from "../errors.js";
import { redact } from "../redact.js";
import type { SseBursts } from "../sse.js";
import type { ChatChunk, ChunkChoice, FinishReason, StreamEvent, Usage, UsageSoFar } from "../spec.js";
import { count, isObject, parseEvent, text, type JsonObject } from "../wire.js";
import { anthropicInputUsage, normalizeAnthropicUsage, toFinishReason } from "./response.js";
import type { AnthropicUsage } from "./wire.js";

/**
 * The usage an Anthropic stream reports: the input side in message_start, the output (cumulative) in
 * message_delta at the end. Kept as it comes, so that a stream that ends early is billed from it.
 */
export class AnthropicStreamUsage {
  private readonly raw: AnthropicUsage = {};
  private outputSeen = false;
  private thoughtChars = 0;

  /** Thinking streamed so far: billed as output, it counts towards a stream cut before message_delta. */
  thought(chars: number): void {
    this.thoughtChars += chars;
  }

  start(usage: JsonObject): void {
    Object.assign(this.raw, usage);
  }

  /** message_delta may repeat the input-side counts as null; a null must not erase message_start's. */
  delta(usage: JsonObject): void {
    const raw = this.raw as JsonObject;
    for (const [key, value] of Object.entries(usage)) {
      if (value === null || value === undefined) continue;
      // The cache writes' split is an object: its own nulls must not erase message_start's counts either.
      raw[key] = key === "cache_creation" && isObject(value) && isObject(raw[key]) ? mergeCounts(raw[key], value) : value;
    }
    this.outputSeen = true;
  }

  /** The whole usage, once message_delta has counted the output; undefined if it is not there or cannot be read. */
  whole(): Usage | undefined {
    return normalizeAnthropicUsage(this.raw);
  }

  /** Before message_delta, the input side, with the output counted so far (message_start's, often 1), which is not all of it. */
  soFar(): UsageSoFar | undefined {
    const whole = this.outputSeen ? this.whole() : undefined;
    if (whole !== undefined) return { usage: whole, outputCounted: true };
    const input = anthropicInputUsage(this.raw);
    if (input === undefined) return undefined;
    // The thinking streamed, at four characters a token as other estimates go, is reasoning: the caller
    // adds the answer text it saw to it, so neither is left out of the estimate.
    input.reasoningTokens = Math.ceil(this.thoughtChars / 4);
    input.outputTokens = Math.max(count(this.raw.output_tokens), input.reasoningTokens);
    return { usage: input, outputCounted: false };
  }
}

function mergeCounts(earlier: JsonObject, later: JsonObject): JsonObject {
  const merged = { ...earlier };
  for (const [key, value] of Object.entries(later)) if (value !== null && value !== undefined) merged[key] = value;
  return merged;
}

/**
 * Translates Messages API stream events into OpenAI chunks. The role rides on the first chunk that is
 * emitted, so every chunk carries content, a tool call or the finish reason; usage (input side from
 * message_start, output side from message_delta, both cumulative) is emitted once at message_stop.
 */
export async function* toStreamEvents(bursts: SseBursts, provider: string, usage = new AnthropicStreamUsage(), secrets: readonly string[] = []): AsyncGenerator<StreamEvent> {
  let id = "";
  let model = "";
  const created = Math.floor(Date.now() / 1000);
  let roleSent = false;
  /**
   * Anthropic indexes all content blocks; OpenAI indexes tool calls only. `input` is the block's start
   * input, and `streamed` whether any of its arguments has gone out since.
   */
  const toolByBlock = new Map<number, { index: number; input: unknown; streamed: boolean }>();

  const chunk = (delta: ChunkChoice["delta"], finishReason: FinishReason = null): StreamEvent => {
    if (!roleSent) {
      delta.role = "assistant";
      roleSent = true;
    }
    const out: ChatChunk = {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    };
    return { type: "chunk", chunk: out };
  };

  let heard = false;
  for await (const burst of bursts) {
    heard = true; // a burst is never empty
    for (const message of burst) {
      const event = parseEvent(message.data, provider);
      switch (event.type) {
        case "message_start": {
          const start = isObject(event.message) ? event.message : {};
          id = text(start.id) ?? "";
          model = text(start.model) ?? "";
          if (isObject(start.usage)) usage.start(start.usage);
          break;
        }
        case "content_block_start": {
          const block = isObject(event.content_block) ? event.content_block : {};
          if (block.type === "tool_use") {
            const toolIndex = toolByBlock.size;
            toolByBlock.set(Number(event.index), { index: toolIndex, input: block.input, streamed: false });
            const call = { index: toolIndex, id: text(block.id) ?? "", type: "function", function: { name: text(block.name) ?? "", arguments: "" } };
            yield chunk({ tool_calls: [call] });
          } else if (block.type === "text" && typeof block.text === "string" && block.text !== "") {
            yield chunk({ content: block.text });
          }
          break;
        }
        case "content_block_delta": {
          const delta = isObject(event.delta) ? event.delta : {};
          if (delta.type === "text_delta" && typeof delta.text === "string") {
            yield chunk({ content: delta.text });
          } else if (delta.type === "input_json_delta" && typeof delta.partial_json === "string" && delta.partial_json !== "") {
            const tool = toolByBlock.get(Number(event.index));
            if (tool === undefined) break; // a server tool's input: not a call the client makes
            tool.streamed = true;
            yield chunk({ tool_calls: [{ index: tool.index, function: { arguments: delta.partial_json } }] });
          } else if (delta.type === "thinking_delta" && typeof delta.thinking === "string") {
            usage.thought(delta.thinking.length);
          }
          // thinking and signature deltas have no OpenAI counterpart: counted, not sent
          break;
        }
        case "content_block_stop": {
          // A call with no arguments streams no JSON (or only ""), so its arguments would add up to "",
          // which no client can parse; sent whole, the same call reads "{}". Its start input stands in.
          const tool = toolByBlock.get(Number(event.index));
          if (tool === undefined || tool.streamed) break;
          tool.streamed = true;
          const args = JSON.stringify(isObject(tool.input) ? tool.input : {});
          yield chunk({ tool_calls: [{ index: tool.index, function: { arguments: args } }] });
          break;
        }
        case "message_delta": {
          if (isObject(event.usage)) usage.delta(event.usage);
          const delta = isObject(event.delta) ? event.delta : {};
          yield chunk({}, toFinishReason(text(delta.stop_reason)));
          break;
        }
        case "message_stop": {
          // like the OpenAI adapters: no usage event when the upstream reported none, or none that can be read
          const normalized = usage.whole();
          if (normalized !== undefined) yield { type: "usage", usage: normalized };
          return;
        }
        case "error":
          throw streamError(provider, event.error, secrets);
        default:
          // ping, and event types added after this adapter was written
          break;
      }
    }
  }
  if (!heard) throw endedBeforeFirstEvent(provider);
  throw new ProviderError(`${provider}: upstream stream ended before message_stop`, { kind: "protocol", provider });
}


/** `event: error` after a 200, e.g. overloaded_error mid-stream. Its message reaches the client: no credential goes with it. */
function streamError(provider: string, error: unknown, secrets: readonly string[]): ProviderError {
  const detail = isObject(error) ? error : {};
  const code = text(detail.type);
  const message = redact(text(detail.message) ?? "error", secrets);
  return new ProviderError(`${provider}: upstream stream failed: ${message.slice(0, 500)}`, {
    kind: "protocol",
    provider,
    providerCode: code,
    fallbackable: code === "overloaded_error",
  });
}
