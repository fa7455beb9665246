import { ProviderError } from "../errors.js";
import type { SseBursts } from "../sse.js";
import type { ChatChunk, ChunkChoice, FinishReason, StreamEvent } from "../spec.js";
import { isObject, parseEvent, text, type JsonObject } from "../wire.js";
import { normalizeAnthropicUsage, toFinishReason } from "./response.js";
import type { AnthropicUsage } from "./wire.js";

/**
 * Translates Messages API stream events into OpenAI chunks. The role rides on the first chunk that is
 * emitted, so every chunk carries content, a tool call or the finish reason; usage (input side from
 * message_start, output side from message_delta, both cumulative) is emitted once at message_stop.
 */
export async function* toStreamEvents(bursts: SseBursts, provider: string): AsyncGenerator<StreamEvent> {
  let id = "";
  let model = "";
  const created = Math.floor(Date.now() / 1000);
  const usage: AnthropicUsage = {};
  let usageSeen = false;
  let roleSent = false;
  /** Anthropic indexes all content blocks; OpenAI indexes tool calls only. */
  const toolIndexByBlock = new Map<number, number>();

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

  for await (const burst of bursts) {
    for (const message of burst) {
      const event = parseEvent(message.data, provider);
      switch (event.type) {
        case "message_start": {
          const start = isObject(event.message) ? event.message : {};
          id = text(start.id) ?? "";
          model = text(start.model) ?? "";
          if (isObject(start.usage)) {
            Object.assign(usage, start.usage);
            usageSeen = true;
          }
          break;
        }
        case "content_block_start": {
          const block = isObject(event.content_block) ? event.content_block : {};
          if (block.type === "tool_use") {
            const toolIndex = toolIndexByBlock.size;
            toolIndexByBlock.set(Number(event.index), toolIndex);
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
            const index = toolIndexByBlock.get(Number(event.index)) ?? 0;
            yield chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] });
          }
          // thinking and signature deltas have no OpenAI counterpart
          break;
        }
        case "message_delta": {
          if (isObject(event.usage)) {
            Object.assign(usage, withoutNulls(event.usage));
            usageSeen = true;
          }
          const delta = isObject(event.delta) ? event.delta : {};
          yield chunk({}, toFinishReason(text(delta.stop_reason)));
          break;
        }
        case "message_stop": {
          // like the OpenAI adapters: no usage event when the upstream reported none, or none that can be read
          const normalized = usageSeen ? normalizeAnthropicUsage(usage) : undefined;
          if (normalized !== undefined) yield { type: "usage", usage: normalized };
          return;
        }
        case "error":
          throw streamError(provider, event.error);
        default:
          // ping, content_block_stop, and event types added after this adapter was written
          break;
      }
    }
  }
  throw new ProviderError(`${provider}: upstream stream ended before message_stop`, { kind: "protocol", provider });
}


/** message_delta may repeat the input-side counts as null; a null must not erase message_start's. */
function withoutNulls(usage: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(usage)) if (value !== null && value !== undefined) out[key] = value;
  return out;
}

/** `event: error` after a 200, e.g. overloaded_error mid-stream. */
function streamError(provider: string, error: unknown): ProviderError {
  const detail = isObject(error) ? error : {};
  const code = text(detail.type);
  const message = text(detail.message) ?? "error";
  return new ProviderError(`${provider}: upstream stream failed: ${message.slice(0, 500)}`, {
    kind: "protocol",
    provider,
    providerCode: code,
    fallbackable: code === "overloaded_error",
  });
}
