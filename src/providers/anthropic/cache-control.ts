import type { ChatMessage } from "../spec.js";
import { isObject } from "../wire.js";
import type { AnthropicCacheControl, AnthropicTextBlock } from "./wire.js";

/**
 * Prompt caching from an OpenAI client: the `cache_control` mark Anthropic puts on a block, written on
 * the OpenAI content part (or tool) it stands for, as Portkey and LiteLLM read it. The OpenAI shape has
 * no such field, so without this a Claude prompt could never be cached through Airlock. The mark goes
 * on as it came (`{type: "ephemeral", ttl?}`); Anthropic judges it.
 */
export function cacheControlOf(carrier: unknown): AnthropicCacheControl | undefined {
  return isObject(carrier) && isObject(carrier.cache_control) && typeof carrier.cache_control.type === "string"
    ? (carrier.cache_control as unknown as AnthropicCacheControl)
    : undefined;
}

/** A block with the mark its part carried, if any. */
export function withCacheControl<T extends object>(block: T, carrier: unknown): T & { cache_control?: AnthropicCacheControl } {
  const mark = cacheControlOf(carrier);
  return mark === undefined ? block : { ...block, cache_control: mark };
}

/**
 * The system prompt from the system and developer messages (and any instruction Airlock adds). Joined
 * into one string, a blank line between messages, unless a part carries a cache mark: a mark belongs to
 * a block, so the prompt is then sent as text blocks, one per part (empty ones left out: Anthropic
 * refuses them).
 */
export class SystemPrompt {
  private readonly messages: AnthropicTextBlock[][] = [];

  add(content: ChatMessage["content"] | string): void {
    if (content === null || content === undefined) this.messages.push([]);
    else if (typeof content === "string") this.messages.push([{ type: "text", text: content }]);
    else this.messages.push(content.flatMap((part) => (part.type === "text" ? [withCacheControl<AnthropicTextBlock>({ type: "text", text: part.text }, part)] : [])));
  }

  value(): string | AnthropicTextBlock[] | undefined {
    if (this.messages.length === 0) return undefined;
    const marked = this.messages.some((blocks) => blocks.some((block) => block.cache_control !== undefined));
    if (marked) return this.messages.flat().filter((block) => block.text !== "");
    return this.messages.map((blocks) => blocks.map((block) => block.text).join("")).join("\n\n");
  }
}
