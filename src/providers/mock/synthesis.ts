import type { ChatMessage, EmbedRequest } from "../spec.js";

/**
 * Deterministic stand-ins for what a model would produce. Nothing here echoes prompt text: the mock
 * runs in demos and shared environments, and its replies end up in logs and screenshots.
 */

export function defaultReply(model: string, promptChars: number): string {
  return `This is a mock reply from ${model}. Your prompt was ${promptChars} characters long.`;
}

/** Roughly four characters per token, never zero: close enough to real tokenisers for budgets and demos. */
export function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

export function promptChars(messages: ChatMessage[]): number {
  let chars = 0;
  for (const message of messages) {
    if (typeof message.content === "string") chars += message.content.length;
    else if (Array.isArray(message.content)) {
      for (const part of message.content) if (part.type === "text") chars += part.text.length;
    }
    for (const call of message.tool_calls ?? []) chars += call.function.name.length + call.function.arguments.length;
  }
  return chars;
}

/** Splits a reply into word-sized stream pieces that concatenate back to exactly the reply. */
export function streamPieces(reply: string): string[] {
  const pieces = reply.match(/\s*\S+\s*/g);
  return pieces === null ? [reply] : pieces;
}

/** One embedding input per entry, keyed by its text so the same input always gets the same vector. */
export function embeddingInputs(input: EmbedRequest["input"]): Array<{ key: string; tokens: number }> {
  if (typeof input === "string") return [{ key: input, tokens: estimateTokens(input.length) }];
  if (input.length === 0) return [];
  if (typeof input[0] === "number") return [{ key: JSON.stringify(input), tokens: Math.max(1, input.length) }];
  return (input as Array<string | number[]>).map((item) =>
    typeof item === "string"
      ? { key: item, tokens: estimateTokens(item.length) }
      : { key: JSON.stringify(item), tokens: Math.max(1, item.length) },
  );
}

/** A unit vector seeded by a hash of `key`, so equal inputs embed equally and different ones differ. */
export function embeddingVector(key: string, dimensions: number): number[] {
  let seed = fnv1a(key);
  const vector = new Array<number>(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    seed = (seed + 0x6d2b79f5) >>> 0;
    const value = (mulberry32(seed) / 0xffffffff) * 2 - 1;
    vector[i] = value;
    norm += value * value;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) vector[i] = vector[i]! * scale;
  return vector;
}

function fnv1a(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** mulberry32's output mix: a good-enough spread of a 32-bit counter. */
function mulberry32(seed: number): number {
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/**
 * A value that fits a JSON Schema, for a mock asked for structured output (`response_format`
 * `json_schema`), so that demos and tests of output schemas get a valid answer with no upstream.
 */
export function sampleFor(schema: unknown, depth = 0): unknown {
  if (schema === null || typeof schema !== "object" || depth > 16) return null;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ("const" in s) return s.const;
  const options = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(options) && options.length > 0) return sampleFor(options.find((o) => (o as { type?: unknown }).type !== "null") ?? options[0], depth + 1);
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== "null") ?? s.type[0]) : s.type;
  switch (type) {
    case "object": {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, sampleFor(value, depth + 1)]));
    }
    case "array":
      return [sampleFor(s.items, depth + 1)];
    case "string":
      return "example";
    case "integer":
      return 1;
    case "number":
      return 0.5;
    case "boolean":
      return true;
    default:
      return null;
  }
}
