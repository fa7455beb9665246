import type { ServerResponse } from "node:http";
import { once } from "node:events";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  // Proxies such as nginx buffer responses unless told not to, which would hold every token back.
  "x-accel-buffering": "no",
};

/**
 * Writes `data:` events to a response. Events written in the same tick (an upstream packet often
 * carries several) are joined and leave in one `res.write` on the next tick, so nothing waits longer
 * than the current burst. One write per burst, not per event: each `res.write` of a chunked response
 * costs a few microseconds in Node's HTTP and stream layers, and a corked socket still paid them
 * (measured: 12 events as 12 corked writes, 42 µs of server CPU per response; joined, 19 µs).
 * The first event is the exception: it is written at once, with the response's headers. Node corks the
 * socket at a response's first write until the next tick, so when one upstream packet carries several
 * events they still leave together; uncorking at once sent the first token 0.1–0.5 ms sooner in that
 * case, but cost 7–15% more CPU per stream under load (docs/performance.md), so it is not done.
 */
export class SseWriter {
  private pending = "";
  private scheduled = false;
  private started = false;
  /** Set while the client reads slower than we write; the next `write` waits for it. */
  private drained: Promise<void> | undefined;
  private readonly flush = () => {
    this.scheduled = false;
    const text = this.pending;
    this.pending = "";
    const res = this.res;
    if (text === "" || res.destroyed) return;
    if (!res.write(text)) {
      this.drained = Promise.race([once(res, "drain"), once(res, "close")]).then(() => {
        this.drained = undefined;
      });
    }
  };

  constructor(private readonly res: ServerResponse) {}

  /**
   * Queues an event. Returns a promise only while the client reads slower than we write (await it
   * before the next event); otherwise nothing, so the usual case costs the caller no await.
   */
  write(data: string): Promise<void> | undefined {
    if (this.res.destroyed) return undefined;
    this.pending += `data: ${data}\n\n`;
    if (!this.started) {
      this.started = true;
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
    return this.drained;
  }

  /** Sends what is still pending, then ends the response. */
  end(): void {
    this.flush();
    this.res.end();
  }
}
