import { createParser, type EventSourceMessage } from "eventsource-parser";

export type { EventSourceMessage };

/** Above this, an unterminated SSE line is a broken upstream rather than a large event. */
const MAX_EVENT_BYTES = 8 * 1024 * 1024;

export class SseOverflowError extends Error {
  constructor() {
    super("an upstream SSE event exceeded the size limit");
    this.name = "SseOverflowError";
  }
}

/**
 * Turns a byte stream into SSE messages. `onBytes` runs for every network chunk so the caller can
 * keep an idle timer alive. A trailing event without its blank line is still delivered, so that the
 * adapter, not the framing, decides whether the stream ended properly.
 */
export async function* readSse(body: AsyncIterable<Uint8Array | string>, onBytes: () => void): AsyncGenerator<EventSourceMessage> {
  const ready: EventSourceMessage[] = [];
  let overflow = false;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_BYTES,
    onEvent: (message) => ready.push(message),
    onError: (error) => {
      if (error.type === "max-buffer-size-exceeded") overflow = true;
    },
  });
  const decoder = new TextDecoder();

  for await (const bytes of body) {
    onBytes();
    parser.feed(typeof bytes === "string" ? bytes : decoder.decode(bytes, { stream: true }));
    if (overflow) throw new SseOverflowError();
    for (const message of ready) yield message;
    ready.length = 0;
  }
  parser.feed(decoder.decode());
  parser.reset({ consume: true });
  for (const message of ready) yield message;
}
