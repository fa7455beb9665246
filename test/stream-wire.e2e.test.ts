import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeFlavor, FakeUpstream } from "./fakes/upstream.js";
import { gatewayOnEveryFlavor, gatewayOverFake, oneOpenAiModel, recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { tokenizerReady } from "./support/tokenizer.js";

/**
 * Streams as upstreams really send them, relayed whole and billed, whatever the size of their events.
 * Prices are USD per 1M tokens.
 */
const MESSAGES = [{ role: "user" as const, content: "Write a very long answer." }];
const MODELS: Record<FakeFlavor, string> = { openai: "oai/gpt-4.1-mini", anthropic: "anth/claude-sonnet-4", gemini: "gem/gemini-2.5-flash" };

describe.each(STORE_KINDS)("streams with large events on %s", (kind) => {
  let gw: TestGateway;
  let fakes: Record<FakeFlavor, FakeUpstream>;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ gw, fakes, close } = await gatewayOnEveryFlavor(kind, {
      openai: { id: MODELS.openai, price: { input: "0.4", output: "1.6", per: "1M" } },
      anthropic: { id: MODELS.anthropic, price: { input: "3", output: "15", per: "1M" } },
      gemini: { id: MODELS.gemini, price: { input: "0.3", output: "2.5", per: "1M" } },
    }));
  });
  afterAll(async () => {
    await close?.();
  });

  it.each(["openai", "anthropic", "gemini"] as const)("relays a %s event over 64 KiB that arrives with the rest of the stream, and goes on serving", async (flavor) => {
    // One event larger than what the gateway queues before it pauses its upstream, with the stream's end right behind it.
    const content = "lorem ipsum ".repeat(10_000);
    fakes[flavor].push({ kind: "ok", content });
    const { data: stream, response } = await gw.client().chat.completions.create({ model: MODELS[flavor], messages: MESSAGES, stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(content);
    const row = await recordedRow(gw, response.headers.get("x-request-id"));
    expect(row).toMatchObject({ outcome: "success", stream: true, model: MODELS[flavor] });
    expect(Number(row.cost)).toBeGreaterThan(0);

    // The gateway is still up.
    const next = await gw.client().chat.completions.create({ model: MODELS[flavor], messages: MESSAGES });
    expect(next.choices[0]?.message.content).toBeTruthy();
  });
});

describe.each(STORE_KINDS)("the connection of a stream on %s", (kind) => {
  const fake = gatewayOverFake(kind, "openai", oneOpenAiModel);

  it("is closed after the stream when the client asked for that with Connection: close", async () => {
    const body = JSON.stringify({ model: "oai/gpt-4.1-mini", stream: true, messages: MESSAGES });
    const socket = connect(Number(new URL(fake.gw.url).port), "127.0.0.1");
    let received = "";
    socket.on("data", (bytes: Buffer) => (received += bytes.toString("utf8")));
    const closed = new Promise<boolean>((resolve) => {
      socket.on("close", () => resolve(true));
      // Kept open, the connection would wait out the 65-second keep-alive.
      setTimeout(() => resolve(false), 3_000).unref();
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: airlock\r\nAuthorization: Bearer ${fake.gw.adminKey}\r\nContent-Type: application/json\r\n` +
        `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const wasClosed = await closed;
    socket.destroy();
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received).toMatch(/\r\nconnection: close\r\n/i);
    expect(received).toContain("data: [DONE]");
    expect(wasClosed).toBe(true);
  });
});

/** An OpenAI-style upstream that streams as fast as it is read, event after event of `eventBytes` characters, without end. */
async function endlessUpstream(eventBytes: number): Promise<{ url: string; close(): Promise<void> }> {
  const text = "x".repeat(eventBytes);
  const server = createServer((req, res) => {
    req.resume();
    res.on("error", () => {});
    res.writeHead(200, { "content-type": "text/event-stream" });
    const chunk = `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}

describe.each(STORE_KINDS)("a stream whose client stopped reading, on %s", (kind) => {
  let upstream: Awaited<ReturnType<typeof endlessUpstream>>;
  let gw: TestGateway;
  beforeAll(async () => {
    await tokenizerReady(); // the cut stream's output is counted: a cold tokenizer would take seconds more
    upstream = await endlessUpstream(64 * 1024);
    gw = await startTestGateway(kind, { ...oneOpenAiModel(upstream.url), timeouts: { requestMs: 1_000 } });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it("ends at the request deadline, with its ledger row, though the client still holds the connection", async () => {
    const requestId = `unread-${kind}-${Date.now()}`;
    const body = JSON.stringify({ model: "oai/gpt-4.1-mini", stream: true, messages: MESSAGES });
    const socket = connect(Number(new URL(gw.url).port), "127.0.0.1");
    socket.pause(); // reads nothing: the gateway's writes back up
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: airlock\r\nAuthorization: Bearer ${gw.adminKey}\r\nContent-Type: application/json\r\n` +
        `x-request-id: ${requestId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    try {
      // Waiting for the client to read, the call would have no row until the client left.
      const row = await recordedRow(gw, requestId);
      expect(row).toMatchObject({ outcome: "error", errorCode: "timeout", httpStatus: 504, stream: true });
      expect(row.outputTokens).toBeGreaterThan(0);
      expect(Number(row.cost)).toBeGreaterThan(0);
    } finally {
      socket.destroy();
    }
  });
});
