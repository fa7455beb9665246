import type { ServerResponse } from "node:http";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  // No `connection` header of our own: Node answers keep-alive itself, and `close` to a client that asked
  // for it, to an HTTP/1.0 client and during the shutdown (server.ts), which a fixed value would override.
  // Proxies such as nginx buffer responses unless told not to, which would hold every token back.
  "x-accel-buffering": "no",
};

/**
 * Writes `data:` events to a response. Events written in the same tick (an upstream packet often
 * carries several) are joined and leave in one `res.write` on the next tick, so nothing waits longer
 * than the current burst. One write per burst, not per event: each `res.write` of a chunked response
 * costs a few microseconds in Node's HTTP and stream layers, and a corked socket still paid them
 * (measured: 12 events as 12 corked writes, 42 µs of server CPU per response; joined, 19 µs).
 * The first event waits for its burst like the others, and leaves with the response's headers. When no
 * other request is in flight (`firstAtOnce`), it is the exception: written at once and the socket
 * uncorked, so the first token does not wait for its burst. That costs one more write, which an
 * otherwise idle gateway has the CPU for; under load the extra write cost 7–15% more CPU per stream
 * (docs/performance-findings.md#a-streams-first-and-last-writes). The events still pending at the
 * end leave with the response's end, in one write.
 */
export class SseWriter {
  private pending = "";
  private scheduled = false;
  private ended = false;
  /** Set while the client reads slower than we write; the next `write` waits for it. */
  private drained: Promise<void> | undefined;
  private readonly flush = () => {
    this.scheduled = false;
    const text = this.pending;
    this.pending = "";
    const res = this.res;
    if (text === "" || res.destroyed) return;
    if (!res.write(text)) {
      this.drained = new Promise((resolve) => {
        // Both listeners go as soon as either fires: a long stream that falls behind often must not pile them up.
        const resume = () => {
          res.off("drain", resume);
          res.off("close", resume);
          this.drained = undefined;
          resolve();
        };
        res.on("drain", resume);
        res.on("close", resume);
      });
    }
  };

  /**
   * `firstAtOnce`: send the first event without waiting for its burst, for a response that is the only
   * one in flight. Cleared once that event is sent.
   */
  constructor(
    private readonly res: ServerResponse,
    private firstAtOnce = false,
  ) {}

  /**
   * Queues an event. Returns a promise only while the client reads slower than we write (await it
   * before the next event); otherwise nothing, so the usual case costs the caller no await.
   */
  write(data: string): Promise<void> | undefined {
    if (this.ended || this.res.destroyed) return undefined;
    this.pending += `data: ${data}\n\n`;
    if (this.firstAtOnce) {
      this.firstAtOnce = false;
      this.flush();
      this.res.socket?.uncork();
    } else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
    return this.drained;
  }

  /** Sends what is still pending, then ends the response; later writes and ends do nothing. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const text = this.pending;
    this.pending = "";
    if (text === "" || this.res.destroyed) this.res.end();
    else this.res.end(text);
  }
}
