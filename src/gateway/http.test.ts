import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AirlockError } from "../core/errors.js";
import { readBody } from "./http.js";

const LIMIT = 64;

/** A server whose handler reads each body with readBody, after a turn of the event loop as a real handler does after auth. */
async function bodyServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    void (async () => {
      await Promise.resolve();
      try {
        const body = await readBody(req, LIMIT);
        res.end(JSON.stringify({ ok: true, body: body.toString("utf8") }));
      } catch (err) {
        res.statusCode = err instanceof AirlockError ? err.status : 500;
        res.end(JSON.stringify({ ok: false, code: err instanceof AirlockError ? err.code : "other" }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Sends raw request bytes in the given parts (each its own write, `gapMs` apart) and reads answers until `answers` have come. */
function exchange(port: number, parts: string[], answers: number, gapMs = 0): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("utf8");
      const bodies = [...received.matchAll(/\r\n\r\n(\{[^\r]*?\})(?=HTTP|$)/g)].map((m) => m[1]!);
      if (bodies.length >= answers) {
        socket.destroy();
        resolve(bodies);
      }
    });
    socket.on("error", reject);
    void (async () => {
      for (const part of parts) {
        socket.write(part);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    })();
  });
}

const request = (body: string, headers = `content-length: ${Buffer.byteLength(body)}\r\n`) => `POST /x HTTP/1.1\r\nhost: x\r\n${headers}\r\n${body}`;

describe("readBody", () => {
  let server: Server;
  let port: number;
  beforeEach(async () => {
    ({ server, port } = await bodyServer());
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("reads a body that came with its headers, and the connection serves the next request", async () => {
    const both = request('{"a":1}') + request('{"b":"ü"}');
    const answers = await exchange(port, [both], 2);
    expect(answers.map((a) => JSON.parse(a) as unknown)).toEqual([
      { ok: true, body: '{"a":1}' },
      { ok: true, body: '{"b":"ü"}' },
    ]);
  });

  it("reads a body that arrives after its headers, in parts", async () => {
    const whole = request('{"model":"m","n":12}');
    const cut = whole.length - 8;
    const answers = await exchange(port, [whole.slice(0, cut - 6), whole.slice(cut - 6, cut), whole.slice(cut)], 1, 20);
    expect(JSON.parse(answers[0]!)).toEqual({ ok: true, body: '{"model":"m","n":12}' });
  });

  it("reads an empty body as empty", async () => {
    const answers = await exchange(port, [request("") + request("{}")], 2);
    expect(answers.map((a) => JSON.parse(a) as unknown)).toEqual([
      { ok: true, body: "" },
      { ok: true, body: "{}" },
    ]);
  });

  it("refuses a chunked body over the limit, whether it came whole or in parts", async () => {
    const big = "x".repeat(LIMIT + 1);
    const chunked = request(`${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, "transfer-encoding: chunked\r\n");
    const whole = await exchange(port, [chunked], 1);
    expect(JSON.parse(whole[0]!)).toEqual({ ok: false, code: "request_too_large" });
    const headersEnd = chunked.indexOf("\r\n\r\n") + 4;
    const inParts = await exchange(port, [chunked.slice(0, headersEnd), chunked.slice(headersEnd)], 1, 20);
    expect(JSON.parse(inParts[0]!)).toEqual({ ok: false, code: "request_too_large" });
  });

  it("refuses a declared length over the limit before reading", async () => {
    const answers = await exchange(port, [`POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: ${LIMIT + 1}\r\n\r\n`], 1);
    expect(JSON.parse(answers[0]!)).toEqual({ ok: false, code: "request_too_large" });
  });
});
