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
 * carries several) leave in one socket write instead of one each: the socket is corked at the first
 * and uncorked on the next tick, so nothing waits longer than the current burst.
 */
export class SseWriter {
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    this.res.uncork();
  };

  constructor(private readonly res: ServerResponse) {}

  /** Resolves at once, or when the socket drains if the client reads slower than we write. */
  async write(data: string): Promise<void> {
    const res = this.res;
    if (res.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      res.cork();
      process.nextTick(this.uncork);
    }
    if (!res.write(`data: ${data}\n\n`)) await Promise.race([once(res, "drain"), once(res, "close")]);
  }
}
