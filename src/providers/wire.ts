/** Small readers for upstream JSON that is trusted in shape but not in every field being present. */

import { AirlockError } from "../core/errors.js";
import { ProviderError } from "./errors.js";

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A token count: a whole number from 0 to 2^53 - 1. Upstreams send null for "not applicable", which
 * is 0. A fraction is rounded up, as a partial token is billed whole. A count past 2^53 cannot be told
 * exactly by a number and is taken as 2^53 - 1: so that sums of a few counts (Anthropic's input total)
 * stay finite, and the books, the budget and the rate limits never see Infinity. Such a call's ledger
 * row is refused by the store's integer columns and set aside (see LedgerWriter).
 */
export function count(value: unknown): number {
  if (typeof value !== "number" || !(value > 0)) return 0;
  return value <= Number.MAX_SAFE_INTEGER ? Math.ceil(value) : Number.MAX_SAFE_INTEGER;
}

/**
 * A count the upstream must report, read as `count` reads it; undefined when it is not a number from 0
 * up (a string, null, a negative), which is no count at all: billing it as 0 would make the call free.
 */
export function reportedCount(value: unknown): number | undefined {
  return typeof value === "number" && value >= 0 ? count(value) : undefined;
}

/**
 * A count that adds to a total but that upstreams leave out, or send as null, when it does not apply
 * (cache reads, thinking): then it is 0. Anything else must be a count, or the total cannot be known.
 */
export function optionalCount(value: unknown): number | undefined {
  return value === undefined || value === null ? 0 : reportedCount(value);
}

export function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** One SSE event's data as a JSON object, or the protocol error that a stream of anything else is. */
export function parseEvent(data: string, provider: string): JsonObject {
  try {
    const event: unknown = JSON.parse(data);
    if (isObject(event)) return event;
  } catch {
    // reported below
  }
  throw new ProviderError(`${provider}: upstream stream carried an event that is not a JSON object`, { kind: "protocol", provider });
}

/** A message's text: its string content, or its text (and refusal) parts joined; images and other parts are not text. Absent content is none. */
export function messageText(content: string | ReadonlyArray<{ type: string; text?: string; refusal?: unknown }> | null | undefined): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  let out = "";
  for (const part of content) {
    if (part.type === "text" && typeof part.text === "string") out += part.text;
    // An assistant's earlier refusal, as OpenAI returns it and a client replays it: what the model said,
    // which an upstream without refusal parts reads as text. Left out, the turn would vanish from the history.
    else if (part.type === "refusal" && typeof part.refusal === "string") out += part.refusal;
  }
  return out;
}

/** An image part's URL; a part without one is the caller's mistake, refused as such (the gateway checks this first). */
export function imageUrl(part: { image_url?: unknown }): string {
  const image = part.image_url;
  if (isObject(image) && typeof image.url === "string") return image.url;
  throw new AirlockError("invalid_request", "an image_url part needs image_url.url", { param: "messages" });
}
