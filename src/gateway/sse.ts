import type { ServerResponse } from "node:http";
import { once } from "node:events";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
  // Proxies such as nginx buffer responses unless told not to, which would hold every token back.
  "x-accel-buffering": "no",
};

/** Writes one `data:` event, waiting for the socket to drain when the client reads slower than we write. */
export async function writeEvent(res: ServerResponse, data: string): Promise<void> {
  if (res.destroyed) return;
  if (!res.write(`data: ${data}\n\n`)) await Promise.race([once(res, "drain"), once(res, "close")]);
}
