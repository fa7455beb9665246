import type { FakeFlavor } from "./upstream.js";

/**
 * Edits to a recorded payload, for upstreams that answer in their real framing but with odd values:
 * a usage object without usable counts, or malformed choices. Everything else stays as recorded.
 */
export interface PayloadOverrides {
  /** Replaces every usage object: OpenAI's `usage`, Anthropic's (message_start's and message_delta's when streamed), Gemini's `usageMetadata`. */
  usage?: unknown;
  /** Replaces an OpenAI-style JSON answer's `choices`. */
  choices?: unknown;
}

export function hasOverrides(overrides: PayloadOverrides): boolean {
  return "usage" in overrides || "choices" in overrides;
}

/** A whole (JSON) answer with the overrides applied. */
export function overriddenJson(payload: string, flavor: FakeFlavor, overrides: PayloadOverrides): string {
  const parsed = JSON.parse(payload);
  if ("usage" in overrides) parsed[flavor === "gemini" ? "usageMetadata" : "usage"] = overrides.usage;
  if ("choices" in overrides) parsed.choices = overrides.choices;
  return JSON.stringify(parsed);
}

/** SSE events (each with its terminator) with every usage object they carry replaced. */
export function overriddenEvents(events: string[], flavor: FakeFlavor, overrides: PayloadOverrides): string[] {
  if (!("usage" in overrides)) return events;
  return events.map((event) => {
    const match = /^((?:event: [^\n]*\n)?)data: (\{.*\})(\r?\n\r?\n)$/s.exec(event);
    if (match === null) return event;
    const payload = JSON.parse(match[2]!);
    if (flavor === "gemini" && payload.usageMetadata !== undefined) payload.usageMetadata = overrides.usage;
    else if (flavor === "openai" && payload.usage !== undefined && payload.usage !== null) payload.usage = overrides.usage;
    else if (flavor === "anthropic" && payload.type === "message_start") payload.message.usage = overrides.usage;
    else if (flavor === "anthropic" && payload.type === "message_delta") payload.usage = overrides.usage;
    else return event;
    return `${match[1]}data: ${JSON.stringify(payload)}${match[3]}`;
  });
}

/** The recorded events with their text replaced: all of it in the first text event, the rest emptied. */
export function withStreamedContent(events: string[], flavor: FakeFlavor, content: string): string[] {
  let placed = false;
  return events.map((event) => {
    const match = /^((?:event: [^\n]*\n)?)data: (\{.*\})\n\n$/s.exec(event);
    if (match === null) return event;
    const payload = JSON.parse(match[2]!);
    if (flavor === "anthropic") {
      if (payload.type !== "content_block_delta" || payload.delta?.type !== "text_delta") return event;
      payload.delta.text = placed ? "" : content;
    } else {
      const delta = payload.choices?.[0]?.delta;
      if (!delta || typeof delta.content !== "string") return event;
      delta.content = placed ? "" : content;
    }
    placed = true;
    return `${match[1]}data: ${JSON.stringify(payload)}\n\n`;
  });
}
