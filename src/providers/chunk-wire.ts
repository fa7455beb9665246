import { ProviderError } from "./errors.js";
import { chunkIdentity } from "./openai-wire.js";
import type { ChatChunk, ChunkWire } from "./spec.js";

/** A stream chunk kept as text (see ChunkWire); its object is parsed only if something reads it. */
export class WireChunk {
  readonly type = "chunk";
  private parsed: ChatChunk | undefined;

  constructor(
    readonly wire: ChunkWire,
    private readonly provider: string,
  ) {}

  /** Throws as parsing the chunk when it arrived would have: a protocol error, not the parser's. */
  get chunk(): ChatChunk {
    if (this.parsed === undefined) {
      try {
        this.parsed = JSON.parse(this.wire.text) as ChatChunk;
      } catch (err) {
        throw new ProviderError(`${this.provider}: upstream stream carried a data line that is not JSON`, { kind: "protocol", provider: this.provider, cause: err });
      }
    }
    return this.parsed;
  }
}

/** The chunk with `modelJson` (a JSON string, the catalog's id) where its `model`'s value was. */
export function withModel(wire: ChunkWire, modelJson: string): ChunkWire {
  const { start, end } = wire.model;
  return { text: wire.text.slice(0, start) + modelJson + wire.text.slice(end), contents: wire.contents, model: { start, end: start + modelJson.length } };
}

/** A chunk's `id` and `created`: from its text when it travels as text, so that it is not parsed for them. */
export function identityOf(part: { chunk: Pick<ChatChunk, "id" | "created">; wire?: ChunkWire }): { id: string; created: number } {
  return (part.wire && chunkIdentity(part.wire.text)) ?? part.chunk;
}
