import { AirlockError } from "../core/errors.js";

/**
 * A stream's parts, which may be read once: each stream is one call, made when reading begins. A second
 * `for await` over the same result (or one begun while the first still reads) throws, as openai-node's
 * consumed stream does, instead of ending at once as a spent generator would and passing for an answer
 * with no text; it makes no call.
 */
export function readOnce<T>(open: () => AsyncIterator<T>): AsyncIterable<T> {
  let read = false;
  return {
    [Symbol.asyncIterator]() {
      if (read) return alreadyRead<T>();
      read = true;
      return open();
    },
  };
}

async function* alreadyRead<T>(): AsyncGenerator<T> {
  throw new AirlockError("invalid_request", "this stream was already read: call stream() again to make another call");
}
