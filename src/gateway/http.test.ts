import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AirlockError } from "../core/errors.js";
import { limitParam, nestsDeeperThan, readBody } from "./http.js";

/** Over Node's 16 KiB stream high-water mark, so that a body this size that arrives whole has paused the socket. */
const LIMIT = 40_000;
/** Short, so that a stalled body is given up on within a test. */
const TIMEOUT_MS = 300;

interface Outcome {
  ok: boolean;
  /** `queued`: taken at once, already queued whole; `events`: read through the stream's `data` and `end`. */
  read: "queued" | "events";
  bytes?: number;
  /** The body's first characters. */
  text?: string;
  code?: string;
}

/**
 * A server whose handler reads each body with readBody, after a turn of the event loop as a real handler
 * does after auth, and answers (and hands to `outcomes`) what it got and how.
 */
async function bodyServer(): Promise<{ server: Server; port: number; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      await Promise.resolve();
      let outcome: Outcome;
      try {
        const body = await readBody(req, LIMIT, TIMEOUT_MS);
        outcome = { ok: true, read: readBy(req), bytes: body.length, text: body.toString("utf8").slice(0, 20) };
      } catch (err) {
        res.statusCode = err instanceof AirlockError ? err.status : 500;
        outcome = { ok: false, read: readBy(req), code: err instanceof AirlockError ? err.code : "other" };
      }
      outcomes.push(outcome);
      res.end(JSON.stringify(outcome));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, outcomes };
}

const readBy = (req: IncomingMessage): Outcome["read"] => (req.listenerCount("data") > 0 ? "events" : "queued");

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
  let outcomes: Outcome[];
  beforeEach(async () => {
    ({ server, port, outcomes } = await bodyServer());
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("takes a body that came with its headers at once, and the connection serves the next request", async () => {
    const answers = await exchange(port, [request('{"a":1}') + request('{"b":"ü"}')], 2);
    expect(answers.map((a) => JSON.parse(a) as unknown)).toEqual([
      { ok: true, read: "queued", bytes: 7, text: '{"a":1}' },
      { ok: true, read: "queued", bytes: 10, text: '{"b":"ü"}' },
    ]);
  });

  it("takes a body over the stream's high-water mark that came whole, and the pipelined request after it is served", async () => {
    const big = JSON.stringify({ content: "x".repeat(30_000) });
    const answers = await exchange(port, [request(big) + request("{}")], 2);
    expect(answers.map((a) => JSON.parse(a) as unknown)).toEqual([
      { ok: true, read: "queued", bytes: big.length, text: big.slice(0, 20) },
      { ok: true, read: "queued", bytes: 2, text: "{}" },
    ]);
  });

  it("reads a body that arrives after its headers, in parts, through the stream", async () => {
    const whole = request('{"model":"m","n":12}');
    const cut = whole.length - 8;
    const answers = await exchange(port, [whole.slice(0, cut - 6), whole.slice(cut - 6, cut), whole.slice(cut)], 1, 20);
    expect(JSON.parse(answers[0]!)).toEqual({ ok: true, read: "events", bytes: 20, text: '{"model":"m","n":12}' });
  });

  it("reads an empty body as empty", async () => {
    const answers = await exchange(port, [request("") + request("{}")], 2);
    expect(answers.map((a) => (JSON.parse(a) as Outcome).bytes)).toEqual([0, 2]);
  });

  it("refuses a chunked body over the limit, whether it came whole or in parts", async () => {
    const big = "x".repeat(LIMIT + 1);
    const chunked = request(`${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, "transfer-encoding: chunked\r\n");
    const whole = await exchange(port, [chunked], 1);
    expect(JSON.parse(whole[0]!)).toMatchObject({ ok: false, code: "request_too_large" });
    const headersEnd = chunked.indexOf("\r\n\r\n") + 4;
    const inParts = await exchange(port, [chunked.slice(0, headersEnd), chunked.slice(headersEnd)], 1, 20);
    expect(JSON.parse(inParts[0]!)).toMatchObject({ ok: false, code: "request_too_large" });
  });

  it("refuses a declared length over the limit before reading", async () => {
    const answers = await exchange(port, [`POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: ${LIMIT + 1}\r\n\r\n`], 1);
    expect(JSON.parse(answers[0]!)).toMatchObject({ ok: false, code: "request_too_large" });
  });

  it("answers request_timeout to a body that does not come whole in time", async () => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")));
    socket.write(`POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{"model":`);
    await expect.poll(() => answer, { timeout: 2_000 }).toMatch(/^HTTP\/1\.1 408 /);
    socket.destroy();
    expect(outcomes[0]).toMatchObject({ ok: false, read: "events", code: "request_timeout" });
  });

  it("refuses a compressed body once read, so that the connection serves the next request, and takes `identity`", async () => {
    const gzipped = gzipSync('{"model":"m"}').toString("latin1");
    const compressed = `POST /x HTTP/1.1\r\nhost: x\r\ncontent-encoding: gzip\r\ncontent-length: ${gzipped.length}\r\n\r\n`;
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
    socket.write(Buffer.concat([Buffer.from(compressed), Buffer.from(gzipped, "latin1"), Buffer.from(request("{}", "content-length: 2\r\ncontent-encoding: identity\r\n"))]));
    await expect.poll(() => outcomes.length, { timeout: 2_000 }).toBe(2);
    // The handler records its outcome before it answers: the answers may still be on their way.
    await expect.poll(() => received.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0, { timeout: 2_000 }).toBe(2);
    socket.destroy();
    expect(outcomes).toEqual([
      { ok: false, read: "queued", code: "invalid_request" },
      { ok: true, read: "queued", bytes: 2, text: "{}" },
    ]);
    expect(received).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("says which encoding it refused, in the OpenAI error shape", async () => {
    const error = await readBody(Object.assign(Readable.from([Buffer.from("x")]), { headers: { "content-encoding": "br" } }) as unknown as IncomingMessage, LIMIT, TIMEOUT_MS).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).toJSON().error).toMatchObject({ code: "invalid_request", message: "the request body is encoded (br); send it uncompressed, without a Content-Encoding header" });
  });

  it("gives up on a body whose client left before it came whole", async () => {
    const socket = connect(port, "127.0.0.1");
    socket.write(`POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"model":`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    socket.destroy();
    await expect.poll(() => outcomes.length, { timeout: 2_000 }).toBe(1);
    expect(outcomes[0]).toMatchObject({ ok: false, code: "client_closed" });
  });
});

describe("nestsDeeperThan", () => {
  const deep = (text: string, max: number) => nestsDeeperThan(Buffer.from(text), max);

  it("counts arrays and objects, and only the deepest point matters", () => {
    expect(deep('{"a":[{"b":[]}]}', 4)).toBe(false);
    expect(deep('{"a":[{"b":[]}]}', 3)).toBe(true);
    expect(deep("[[]][[]][[]]", 2)).toBe(false);
  });

  it("does not count brackets inside strings, escaped quotes and backslashes included", () => {
    expect(deep('["[[[[{{{{"]', 1)).toBe(false);
    expect(deep('["\\\\"[]]', 1)).toBe(true); // the string is one backslash: the [] after it counts
    expect(deep('["\\\\"]', 1)).toBe(false);
    expect(deep('["a\\\\"[[[["]', 1)).toBe(true);
    expect(deep('["a\\\\\\"[[[["]', 1)).toBe(false); // an escaped quote does not end the string
  });

  it("finds a body nested 150,000 levels deep", () => {
    expect(deep("[".repeat(150_000) + "]".repeat(150_000), 128)).toBe(true);
  });
});

describe("limitParam", () => {
  const limit = (text: string) => limitParam(new URLSearchParams({ limit: text }));

  it("reads decimal digits from 1 to 1000", () => {
    expect(limit("16")).toBe(16);
    expect(limit("0016")).toBe(16);
    expect(limitParam(new URLSearchParams(), 50)).toBe(50);
  });

  it("refuses what Number() would read", () => {
    for (const text of ["0x10", "1e2", "16.0", "+16", " 16", "", "0", "1001", "Infinity"]) expect(() => limit(text), text).toThrow(expect.objectContaining({ code: "invalid_request", param: "limit" }));
  });
});
