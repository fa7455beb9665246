import { StringDecoder } from "node:string_decoder";
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser";

export type { EventSourceMessage };

/**
 * An upstream's SSE messages as they arrive: each read gives every message that has come in since the
 * last one, in order, and never an empty burst. When the call is cancelled, the burst being read is
 * cut short (emptied where it stands), so a consumer looping over it stops at its next message, as it
 * would were messages read one at a time, and its next read throws the cancellation's reason.
 */
export type SseBursts = AsyncIterable<readonly EventSourceMessage[]>;

/** Above this, an unterminated SSE line is a broken upstream rather than a large event. */
const MAX_EVENT_BYTES = 8 * 1024 * 1024;

const NONE: readonly EventSourceMessage[] = [];

export class SseOverflowError extends Error {
  constructor() {
    super("an upstream SSE event exceeded the size limit");
    this.name = "SseOverflowError";
  }
}

/**
 * Turns a byte stream into SSE messages, chunk by chunk, as the caller reads it. Not a generator of
 * its own: the caller's loop over the body yields each message once, where a generator here added a
 * layer that every message passed through (a promise and a result object each, about 4 KB a stream).
 * A trailing event without its blank line is still delivered by `end`, so that the adapter, not the
 * framing, decides whether the stream ended properly.
 */
export class SseDecoder {
  private ready: EventSourceMessage[] = [];
  private overflow = false;
  private begun = false;
  /**
   * Node's own decoder rather than TextDecoder: both keep a character split across chunks for the
   * next one, but TextDecoder's streaming mode is the slower path (measured on a recorded 3.4 KB OpenAI
   * stream: 2.3 µs against 0.42 µs).
   */
  private readonly decoder = new StringDecoder("utf8");
  private readonly parser: EventSourceParser = createParser({
    maxBufferSize: MAX_EVENT_BYTES,
    onEvent: (message) => this.ready.push(message),
    onError: (error) => {
      if (error.type === "max-buffer-size-exceeded") this.overflow = true;
    },
  });

  /** The messages these bytes complete. Throws SseOverflowError once an event passes the size limit. */
  push(bytes: Uint8Array | string): readonly EventSourceMessage[] {
    let text = typeof bytes === "string" ? bytes : this.decoder.write(bytes);
    if (!this.begun && text !== "") {
      this.begun = true;
      // The SSE spec drops a leading byte order mark, as TextDecoder did; the parser would not.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.parser.feed(text);
    if (this.overflow) throw new SseOverflowError();
    return this.take();
  }

  /** What is left once the body has ended, an unterminated last event included. */
  end(): readonly EventSourceMessage[] {
    // A blank line ends the last event. The SSE spec drops an event cut off by the end of the stream,
    // and so does the parser; here it is delivered, so that `data: [DONE]` without its blank line
    // still ends a stream properly. After a proper ending it is one more blank line, which is nothing.
    this.parser.feed(`${this.decoder.end()}\n\n`);
    this.parser.reset();
    return this.take();
  }

  private take(): readonly EventSourceMessage[] {
    if (this.ready.length === 0) return NONE;
    const out = this.ready;
    this.ready = [];
    return out;
  }
}
