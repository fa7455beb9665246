import { ProviderError } from "./errors.js";
import { chunkIdentity } from "./openai-wire.js";
import type { ChatChunk, ChunkWire } from "./spec.js";

/**
 * Puts `modelJson` (a JSON string, the catalog's id) where the chunk's `model` value was, in place: the
 * chunk is the stream's own, and a copy per chunk was garbage on every token.
 */
export function setModel(wire: ChunkWire, modelJson: string): void {
  const { start, end } = wire.model;
  const uncut = wire.uncut;
  if (uncut === undefined) wire.text = wire.text.slice(0, start) + modelJson + wire.text.slice(end);
  else {
    // Both edits at once, from pieces of the chunk as it came: slicing the cut text would copy it whole.
    const { source } = uncut;
    if (uncut.start <= start) {
      const shift = uncut.end - uncut.start;
      wire.text = source.slice(0, uncut.start) + source.slice(uncut.end, start + shift) + modelJson + source.slice(end + shift);
    } else wire.text = source.slice(0, start) + modelJson + source.slice(end, uncut.start) + source.slice(uncut.end);
    wire.uncut = undefined;
  }
  wire.model.end = start + modelJson.length;
}

/** The chunk's object, parsed from its text. Throws as parsing it when it arrived would have: a protocol error. */
export function parseWire(wire: ChunkWire, provider: string): ChatChunk {
  try {
    return JSON.parse(wire.text) as ChatChunk;
  } catch (err) {
    throw new ProviderError(`${provider}: upstream stream carried a data line that is not JSON`, { kind: "protocol", provider, cause: err });
  }
}

/** A chunk's `id` and `created`: from its text when it travels as text, which is parsed only when they cannot be read there. */
export function identityOf(chunk: ChunkWire | ChatChunk, provider: string): { id: string; created: number } {
  if (!isWire(chunk)) return chunk;
  return chunkIdentity(chunk.text) ?? parseWire(chunk, provider);
}

function isWire(chunk: ChunkWire | ChatChunk): chunk is ChunkWire {
  return typeof (chunk as Partial<ChunkWire>).text === "string";
}
