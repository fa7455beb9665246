import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SSE_HEADERS, SseWriter } from "./sse.js";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A real server whose one response `respond` writes, and a real client that asks for it. */
async function exchange(respond: (res: ServerResponse) => Promise<void>): Promise<{ client: IncomingMessage; done: Promise<void> }> {
  let done!: Promise<void>;
  server = createServer((_req, res) => {
    res.writeHead(200, SSE_HEADERS);
    done = respond(res);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = await new Promise<IncomingMessage>((resolve, reject) => request({ port, host: "127.0.0.1", path: "/" }, resolve).on("error", reject).end());
  return { client, done };
}

async function readAll(client: IncomingMessage): Promise<string> {
  let text = "";
  client.setEncoding("utf8");
  for await (const chunk of client) text += chunk;
  return text;
}

describe("SseWriter", () => {
  it("sends the events written in one tick as one write, in order, and what end() finds pending with the response's end", async () => {
    const calls: string[] = [];
    let afterFirst: string[] = [];
    let afterBurst: string[] = [];
    const { client, done } = await exchange(async (res) => {
      const write = res.write.bind(res) as (text: string) => boolean;
      const end = res.end.bind(res) as (text?: string) => ServerResponse;
      res.write = ((text: string) => (calls.push(`write ${text}`), write(text))) as typeof res.write;
      res.end = ((text?: string) => (calls.push(`end ${text ?? ""}`), end(text))) as typeof res.end;
      const events = new SseWriter(res);
      // As in the gateway, where events come from the upstream's stream inside promise jobs: a burst is
      // the events written before those jobs run out.
      await Promise.resolve();
      await events.write('{"n":1}');
      afterFirst = [...calls]; // under load the first event waits for its burst, and leaves with the headers
      await events.write('{"n":2}');
      await events.write('{"n":3}');
      await new Promise((resolve) => setImmediate(resolve)); // the burst has left
      afterBurst = [...calls];
      await events.write('{"n":4}');
      await events.write('{"n":5}');
      events.end(); // before the next tick: the pending events leave with the end
    });
    expect(await readAll(client)).toBe([1, 2, 3, 4, 5].map((n) => `data: {"n":${n}}\n\n`).join(""));
    await done;
    expect(afterFirst).toEqual([]);
    expect(afterBurst).toEqual(['write data: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":3}\n\n']);
    expect(calls.slice(1)).toEqual(['end data: {"n":4}\n\ndata: {"n":5}\n\n']);
  });

  it("holds the writer back while the client does not read, and goes on once it does", async () => {
    const big = JSON.stringify({ text: "x".repeat(256 * 1024) });
    let waited = false;
    let resolveWaited!: () => void;
    const waitedOnce = new Promise<void>((resolve) => (resolveWaited = resolve));
    let closeListeners: number[] = [];
    const { client, done } = await exchange(async (res) => {
      const events = new SseWriter(res);
      closeListeners = [res.listenerCount("close")];
      for (let i = 0; i < 64; i++) {
        const written = events.write(big); // a promise only while the client is behind
        let settled = written === undefined;
        void written?.then(() => (settled = true));
        await new Promise((resolve) => setImmediate(resolve));
        if (!settled) {
          waited = true;
          resolveWaited();
        }
        await written;
      }
      closeListeners.push(res.listenerCount("close"), res.listenerCount("drain"));
      events.end();
    });
    client.pause();
    await waitedOnce; // 16 MiB cannot all fit in the socket's buffers while nobody reads
    expect(waited).toBe(true);
    client.resume();
    const text = await readAll(client);
    await done;
    expect(text.split("\n\n").filter(Boolean)).toHaveLength(64);
    expect(text.endsWith(`data: ${big}\n\n`)).toBe(true);
    // Every wait took its listeners with it, however often the client fell behind.
    expect(closeListeners).toEqual([closeListeners[0], closeListeners[0], 0]);
  });

  it("with firstAtOnce hands the first event to the kernel at once, and without it keeps it for its burst", async () => {
    const firstEvent: Array<{ written: boolean; corked: number }> = [];
    server = createServer((req, res) => {
      res.writeHead(200, SSE_HEADERS);
      const events = new SseWriter(res, req.url === "/at-once");
      // The client's agent keeps its connection alive, so the socket has carried the first response too.
      const before = res.socket!.bytesWritten;
      events.write('{"n":1}');
      firstEvent.push({ written: res.socket!.bytesWritten > before, corked: res.socket!.writableCorked });
      events.write('{"n":2}');
      events.end();
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const get = (path: string) => new Promise<IncomingMessage>((resolve, reject) => request({ port, host: "127.0.0.1", path }, resolve).on("error", reject).end());

    for (const path of ["/at-once", "/with-burst"]) expect(await readAll(await get(path))).toBe('data: {"n":1}\n\ndata: {"n":2}\n\n');
    expect(firstEvent).toEqual([
      { written: true, corked: 0 },
      { written: false, corked: 0 },
    ]);
  });
});
