import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Cancellation } from "../core/cancel.js";
import { ProviderError } from "./errors.js";
import { UpstreamClient } from "./http.js";
import type { SseBursts } from "./sse.js";

/**
 * UpstreamClient against a real HTTP server on loopback: the edges of reading answers through
 * undici's handler API (partial refusals, byte order marks, a pool queue, a consumer that falls behind).
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;
let client: UpstreamClient | undefined;
let requests = 0;

async function serve(handler: Handler, connections = 8): Promise<UpstreamClient> {
  requests = 0;
  server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on("end", () => handler(req, res));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  client = new UpstreamClient({ provider: "local", baseUrl: `http://127.0.0.1:${port}/v1`, headers: {}, connections });
  return client;
}

afterEach(async () => {
  // Connections first: a stream left open would otherwise hold the client's close.
  server?.closeAllConnections();
  await client?.close();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
  client = undefined;
});

/** Every message's data, in order; a consumer with `pauseAfterFirstMs` stops that long after its first read. */
async function collect(bursts: SseBursts, pauseAfterFirstMs = 0): Promise<string[]> {
  const out: string[] = [];
  let reads = 0;
  for await (const burst of bursts) {
    expect(burst.length).toBeGreaterThan(0);
    for (const message of burst) out.push(message.data);
    if (++reads === 1 && pauseAfterFirstMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseAfterFirstMs));
  }
  return out;
}

describe("UpstreamClient.postJson", () => {
  it("reads a JSON answer that starts with a UTF-8 byte order mark, sent a byte at a time", async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      // Multi-byte characters split across chunks must come out whole.
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"answer":"€😀ü"}')]);
      let at = 0;
      const next = () => (at < bytes.length ? res.write(bytes.subarray(at, ++at), () => setTimeout(next, 1)) : res.end());
      next();
    });
    expect(await c.postJson(c.path("/chat/completions"), "{}", new Cancellation())).toEqual({ answer: "€😀ü" });
  });

  it("classifies a refusal whose body breaks off by its status and what arrived", async () => {
    const c = await serve((_req, res) => {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "7" });
      res.write('{"error":{"message":"over');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const err = await c.postJson(c.path("/chat/completions"), "{}", new Cancellation()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: "http", status: 503, retryAfterMs: 7000, isRetryable: true });
  });

  it("rejects a call aborted while it waits in the pool's queue at once, and never sends it", async () => {
    const hung: ServerResponse[] = [];
    const c = await serve((_req, res) => void hung.push(res), 1);
    const first = new Cancellation();
    const firstCall = c.postJson(c.path("/chat/completions"), "{}", first).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the only connection is now busy
    const queued = new Cancellation();
    const reason = new Error("deadline passed");
    const queuedCall = c.postJson(c.path("/chat/completions"), "{}", queued).catch((e: unknown) => e);
    setTimeout(() => queued.abort(reason), 20);
    expect(await queuedCall).toBe(reason);
    first.abort(new Error("done"));
    await firstCall;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests).toBe(1);
  });
});

describe("UpstreamClient.postSse", () => {
  const EVENTS = 3000;
  const event = (i: number) => JSON.stringify({ i, text: "x".repeat(100) });

  it("delivers every event in order to a consumer that falls far behind", async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      // Over 300 KB in one go: far more than is held for a consumer that is not reading.
      for (let i = 0; i < EVENTS; i++) res.write(`data: ${event(i)}\n\n`);
      res.end("data: [DONE]\n\n");
    });
    const messages = await c.postSse(c.path("/chat/completions"), "{}", new Cancellation());
    const data = await collect(messages, 150);
    expect(data).toHaveLength(EVENTS + 1);
    expect(data.slice(0, EVENTS)).toEqual(Array.from({ length: EVENTS }, (_, i) => event(i)));
    expect(data.at(-1)).toBe("[DONE]");
  });

  it("delivers a last event that has no blank line after it, so a bare `data: [DONE]` still ends the stream", async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end("data: one\n\ndata: [DONE]");
    });
    expect(await collect(await c.postSse(c.path("/chat/completions"), "{}", new Cancellation()))).toEqual(["one", "[DONE]"]);
  });

  it("classifies a refused stream by its status and body, before any event", async () => {
    const c = await serve((_req, res) => {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "2" });
      res.end(JSON.stringify({ error: { message: "slow down", code: "rate_limit_exceeded" } }));
    });
    const err = await c.postSse(c.path("/chat/completions"), "{}", new Cancellation()).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "http", status: 429, retryAfterMs: 2000, providerCode: "rate_limit_exceeded" });
  });

  it("ends at the consumer's next read when aborted, with the abort's reason, though events were already buffered", async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (let i = 0; i < 5; i++) res.write(`data: ${i}\n\n`);
      // More after the first read: buffered, the body still open, when the abort comes.
      setTimeout(() => res.write("data: 5\n\ndata: 6\n\n"), 50);
    });
    const cancellation = new Cancellation();
    const reason = new Error("client went away");
    const bursts = (await c.postSse(c.path("/chat/completions"), "{}", cancellation))[Symbol.asyncIterator]();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const first = await bursts.next();
    expect(first.done ? [] : first.value.map((m) => m.data)).toEqual(["0", "1", "2", "3", "4"]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    cancellation.abort(reason);
    await expect(bursts.next()).rejects.toBe(reason);
  });

  it("turns a connection cut mid-stream into a retryable connection error after the events before it", async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: 0\n\ndata: 1\n\n");
      setTimeout(() => res.socket?.destroy(), 30);
    });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const burst of await c.postSse(c.path("/chat/completions"), "{}", new Cancellation())) for (const message of burst) seen.push(message.data);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["0", "1"]);
    expect(err).toMatchObject({ kind: "connection", isRetryable: true });
  });
});
