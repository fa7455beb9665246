// @ts-check
/**
 * What the served connection's answers say of its session, read as they pass to the workflow engine.
 *
 * The engine's messages reach PGlite one protocol message at a time (pglite-socket queues each under
 * the store's lock), so a statement of the store thread's own can run between any two of them. It is
 * safe only when the session is idle: the last answer ended with ReadyForQuery reporting "idle".
 * Inside a transaction ("T"), after an error in one ("E"), or halfway through an extended-protocol
 * exchange (Parse, Bind and Execute sent, their Sync not yet, and only a Sync is answered with
 * ReadyForQuery), a statement of ours would run inside the engine's work or break it.
 *
 * Answers are read as a stream of messages (a type byte, then a length that counts itself) that may
 * be cut anywhere between two reads. A length no message can have means the stream was misread: the
 * session is then never idle again, and nothing of ours runs beside the engine.
 */
const READY_FOR_QUERY = 0x5a; // Z
const IDLE = 0x49; // I

export class ServedSession {
  /** The current message's type byte and length, as far as they have come. */
  #header = Buffer.alloc(5);
  #headerBytes = 0;
  /** What is left of the current message's body. */
  #bodyLeft = 0;
  #type = 0;
  /** The last whole message's type, and the last byte of its body (ReadyForQuery's status). */
  #lastType = 0;
  #lastByte = 0;
  #lost = false;

  /** @param {Uint8Array} bytes what PGlite answered, in order */
  read(bytes) {
    for (let at = 0; at < bytes.length && !this.#lost; ) {
      if (this.#bodyLeft > 0) {
        const take = Math.min(this.#bodyLeft, bytes.length - at);
        at += take;
        this.#bodyLeft -= take;
        if (this.#bodyLeft === 0) this.#ended(/** @type {number} */ (bytes[at - 1]));
        continue;
      }
      this.#header[this.#headerBytes++] = /** @type {number} */ (bytes[at++]);
      if (this.#headerBytes < 5) continue;
      this.#headerBytes = 0;
      this.#type = /** @type {number} */ (this.#header[0]);
      const length = this.#header.readInt32BE(1);
      if (length < 4) this.#lost = true;
      this.#bodyLeft = length - 4;
      if (this.#bodyLeft === 0) this.#ended(0);
    }
  }

  /** True when a statement may run now without touching the engine's work. */
  get idle() {
    return !this.#lost && this.#headerBytes === 0 && this.#bodyLeft === 0 && this.#lastType === READY_FOR_QUERY && this.#lastByte === IDLE;
  }

  /** @param {number} lastByte */
  #ended(lastByte) {
    this.#lastType = this.#type;
    this.#lastByte = lastByte;
  }
}
