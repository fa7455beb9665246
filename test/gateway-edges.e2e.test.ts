import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

const BODY_TIMEOUT_MS = 400;
const HEADERS_TIMEOUT_MS = 600;

/** Sends raw bytes and collects everything the gateway answers until it closes the connection. */
function rawExchange(url: string, bytes: string, giveUpMs = 5_000): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, giveUpMs);
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on("error", reject);
    socket.write(bytes);
  });
}

function jsonOf(answer: string): { error: Record<string, unknown> } {
  return JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { error: Record<string, unknown> };
}

/** The gateway's edges: what upstreams answer that Airlock must not pass on as it came, and traffic that is not a well-formed call. */
describe.each(STORE_KINDS)("gateway edges on %s", (kind) => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gemini: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    [openai, anthropic, gemini] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("anthropic"), startFakeUpstream("gemini")]);
    gw = await startTestGateway(kind, {
      server: { bodyTimeoutMs: BODY_TIMEOUT_MS, headersTimeoutMs: HEADERS_TIMEOUT_MS },
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 5 },
      providers: {
        oai: { type: "openai-compatible", baseUrl: openai.url, apiKey: "sk-PROV-openai-secret-1234" },
        anth: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-PROV-secret-5678" },
        gem: { type: "gemini", baseUrl: gemini.url, apiKey: "AIza-PROV-gemini-secret-9012" },
      },
      models: [
        { id: "oai/o4-mini", price: { input: "1.10", output: "4.40", per: "1M" } },
        { id: "oai/text-embedding-3-small", kind: "embedding", price: { input: "0.02", per: "1M" } },
        { id: "anth/claude-sonnet-4-5", price: { input: "3", output: "15", per: "1M" } },
        { id: "gem/gemini-2.5-flash", price: { input: "0.30", output: "2.50", per: "1M" } },
      ],
    });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
  });

  describe("embeddings", () => {
    it("fails a malformed upstream answer as provider_error, and the ledger says the same", async () => {
      const good = fixtureJson("openai/embeddings");
      openai.push({ kind: "body", body: { ...good, data: [null, ...good.data] } });
      const { error, response } = await gw
        .client()
        .embeddings.create({ model: "oai/text-embedding-3-small", input: ["a", "b"] })
        .withResponse()
        .then((r) => ({ error: undefined, response: r.response }), (e: { status: number; error: Record<string, unknown>; headers: Headers }) => ({ error: e, response: undefined }));
      expect(response).toBeUndefined();
      expect(error?.status).toBe(502);
      expect(error?.error).toMatchObject({ code: "provider_error" });
      const row = await recordedRow(gw, error!.headers.get("x-request-id"));
      expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", httpStatus: 502 });
    });

    it.each([
      ["one vector for two inputs", (data: unknown[]) => data.slice(0, 1)],
      ["three vectors for two inputs", (data: Array<Record<string, unknown>>) => [...data, { ...data[0], index: 2 }]],
      ["the same index twice", (data: Array<Record<string, unknown>>) => data.map((item) => ({ ...item, index: 0 }))],
    ])("fails an answer with %s as provider_error, rather than pairing inputs with the wrong vectors", async (_case, edit) => {
      const good = fixtureJson("openai/embeddings");
      openai.push({ kind: "body", body: { ...good, data: edit(good.data) } });
      const res = await fetch(`${gw.url}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "oai/text-embedding-3-small", input: ["a", "b"], encoding_format: "float" }),
      });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "provider_error" });
      expect(await recordedRow(gw, res.headers.get("x-request-id"))).toMatchObject({ outcome: "error", errorCode: "provider_error" });
    });

    it("answers one vector per input, in order", async () => {
      const res = await gw.client().embeddings.create({ model: "oai/text-embedding-3-small", input: ["a", "b", "c"], encoding_format: "float" });
      expect(res.data.map((item) => item.index)).toEqual([0, 1, 2]);
    });

    it.each([
      ["[null]", [null]],
      ['[""]', [""]],
      ["[[]]", [[]]],
      ["[1.5,-2]", [1.5, -2]],
      ["a mix of text and tokens", ["a", [1]]],
    ])("refuses input %s with 400 param input, without calling the upstream", async (_case, input) => {
      const before = openai.requests.length;
      const res = await fetch(`${gw.url}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "oai/text-embedding-3-small", input }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "invalid_request", param: "input" });
      expect(openai.requests.length).toBe(before);
    });

    it("refuses an unknown operation in x-airlock-operation with 404 naming the header", async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-airlock-operation": "nope" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "not_found", param: "x-airlock-operation", message: 'unknown operation "nope"' });
    });

    it("refuses a chat call to an embedding model in plain English, naming the model's kind", async () => {
      const before = openai.requests.length;
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "oai/text-embedding-3-small", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({
        code: "invalid_request",
        param: "model",
        message: 'model "oai/text-embedding-3-small" is an embedding model and cannot serve chat',
      });
      expect(openai.requests.length).toBe(before);
    });

    it.each([["-1", -1], ["0", 0], ["1.5", 1.5], ['"abc"', "abc"], ["[8]", [8]]])("refuses dimensions %s with 400 param dimensions, without calling the upstream", async (_case, dimensions) => {
      const before = openai.requests.length;
      const res = await fetch(`${gw.url}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "oai/text-embedding-3-small", input: "a", dimensions }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "invalid_request", param: "dimensions" });
      expect(await recordedRow(gw, res.headers.get("x-request-id"))).toMatchObject({ outcome: "refused", errorCode: "invalid_request" });
      expect(openai.requests.length).toBe(before);
    });

    it("answers in base64 when asked (the SDK's default), though the upstream sent numbers", async () => {
      const numbers = { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.5, -0.25, 1] }], model: "text-embedding-3-small", usage: { prompt_tokens: 1, total_tokens: 1 } };
      openai.push({ kind: "body", body: numbers });
      // No encoding_format: the SDK asks for base64 and decodes the answer as base64.
      const decoded = await gw.client().embeddings.create({ model: "oai/text-embedding-3-small", input: "a" });
      expect(openai.requests.at(-1)!.body.encoding_format).toBe("base64");
      expect(Array.from(decoded.data[0]!.embedding)).toEqual([0.5, -0.25, 1]);
      openai.push({ kind: "body", body: numbers });
      const floats = await gw.client().embeddings.create({ model: "oai/text-embedding-3-small", input: "a", encoding_format: "float" });
      expect(floats.data[0]!.embedding).toEqual([0.5, -0.25, 1]);

      const before = openai.requests.length;
      const odd = await fetch(`${gw.url}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "oai/text-embedding-3-small", input: "a", encoding_format: "hex" }),
      });
      expect(odd.status).toBe(400);
      expect(((await odd.json()) as { error: unknown }).error).toMatchObject({ code: "invalid_request", param: "encoding_format" });
      expect(openai.requests.length).toBe(before);
    });

    it("still takes token ids and token arrays", async () => {
      for (const input of [[1, 2, 3], [[1, 2], [3]]]) {
        const res = await gw.client().embeddings.create({ model: "oai/text-embedding-3-small", input });
        expect(res.data.length).toBeGreaterThan(0);
      }
    });
  });

  it.each([
    ["oai/o4-mini", "openai", "sk-PROV-openai-secret-1234"],
    ["anth/claude-sonnet-4-5", "anthropic", "sk-ant-PROV-secret-5678"],
  ] as const)("takes the provider's key out of an upstream 400 that echoes it (%s)", async (model, flavor, key) => {
    (flavor === "openai" ? openai : anthropic).push({ kind: "error", status: 400, echoCredentials: true });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain("auth was [redacted]");
    expect(text).not.toContain(key);
    expect(text).not.toContain("PROV");
  });

  it.each([
    ["oai/o4-mini", "openai", "sk-PROV-openai-secret-1234"],
    ["anth/claude-sonnet-4-5", "anthropic", "sk-ant-PROV-secret-5678"],
    ["gem/gemini-2.5-flash", "gemini", "AIza-PROV-gemini-secret-9012"],
  ] as const)("takes the provider's key out of an error the upstream sends mid-stream (%s)", async (model, flavor, key) => {
    ({ openai, anthropic, gemini })[flavor].push({ kind: "ok", fixture: `${flavor}/error-quoting-key-midstream` });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("The capital");
    expect(text).toMatch(/broke mid-way: .*\[redacted\]/);
    expect(text).not.toContain(key);
    expect(text).not.toContain("PROV");
    const row = await recordedRow(gw, res.headers.get("x-request-id"));
    expect(row).toMatchObject({ httpStatus: 502, errorCode: "provider_error" });
    expect(JSON.stringify(row)).not.toContain("PROV");
  });

  describe("request bodies that never arrive whole", () => {
    it("answers 408 in OpenAI's shape, closes the connection, and records the call", async () => {
      const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.adminKey}\r\ncontent-type: application/json\r\n`;
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 5 }, (_, i) => rawExchange(gw.url, `${head}x-request-id: stall-${kind}-${i}\r\ncontent-length: 1000\r\n\r\n{"model":`)),
      );
      for (const answer of answers) {
        expect(answer.closed).toBe(true);
        expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
        expect(answer.text.toLowerCase()).toContain("connection: close");
        expect(jsonOf(answer.text).error).toMatchObject({ code: "request_timeout", type: "invalid_request_error" });
      }
      expect(Date.now() - started).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
      const row = await recordedRow(gw, `stall-${kind}-0`);
      expect(row).toMatchObject({ outcome: "refused", errorCode: "request_timeout", httpStatus: 408 });
    });
  });

  describe("a client that asks before sending its body (Expect: 100-continue)", () => {
    const head = (length: number) =>
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.adminKey}\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${length}\r\n\r\n`;

    it("is refused with 413 at once when it declares a body over the limit, never invited to send it", async () => {
      const answer = await rawExchange(gw.url, head(2 * 1024 * 1024));
      expect(answer.closed).toBe(true);
      expect(answer.text).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.text).not.toContain("100 Continue");
      expect(jsonOf(answer.text).error).toMatchObject({ code: "request_too_large" });
    });

    it("is invited to send a body within the limit, and answered", async () => {
      const body = JSON.stringify({ model: "oai/o4-mini", messages: [{ role: "user", content: "hi" }] });
      const { hostname, port } = new URL(gw.url);
      const socket = connect(Number(port), hostname);
      let text = "";
      const answered = new Promise<void>((resolve) => socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("utf8");
        if (text.startsWith("HTTP/1.1 100 Continue\r\n\r\n") && text.length === "HTTP/1.1 100 Continue\r\n\r\n".length) socket.write(body);
        if (/\r\n\r\n\{[\s\S]*\}$/.test(text.slice(text.indexOf("HTTP/1.1 200")))) resolve();
      }));
      socket.write(head(Buffer.byteLength(body)));
      await answered;
      socket.destroy();
      expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    });
  });

  describe("errors outside a route", () => {
    it("gives an unknown path's 404 the caller's x-request-id", async () => {
      const res = await fetch(`${gw.url}/v1/nope`, { headers: { "x-request-id": "mine-123" } });
      expect(res.status).toBe(404);
      expect(res.headers.get("x-request-id")).toBe("mine-123");
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "not_found" });
    });

    it("answers HEAD wherever GET is served, with GET's status and headers and no body", async () => {
      for (const path of ["/healthz", "/readyz", "/metrics", "/"]) {
        const res = await fetch(`${gw.url}${path}`, { method: "HEAD" });
        expect(res.status, path).toBe(200);
        expect(res.headers.get("content-type"), path).toBeTruthy();
        expect(await res.text(), path).toBe("");
      }
      const models = await fetch(`${gw.url}/v1/models`, { method: "HEAD", headers: { authorization: `Bearer ${gw.adminKey}` } });
      expect(models.status).toBe(200);
      expect((await fetch(`${gw.url}/v1/models`, { method: "HEAD" })).status).toBe(401);
      // A path served only by POST answers a HEAD 405, with the method it takes.
      const head = await fetch(`${gw.url}/v1/chat/completions`, { method: "HEAD" });
      expect(head.status).toBe(405);
      expect(head.headers.get("allow")).toBe("POST");
    });

    it.each([
      ["a duplicate Content-Length", "content-length: 2\r\ncontent-length: 3\r\n"],
      ["a negative Content-Length", "content-length: -1\r\n"],
      ["a NUL in a header", "x-thing: a\u0000b\r\n"],
    ])("answers %s with 400 in OpenAI's shape and closes", async (_case, header) => {
      const answer = await rawExchange(gw.url, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n${header}\r\n{}`);
      expect(answer.closed).toBe(true);
      expect(answer.text).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer.text).toMatch(/\r\nx-request-id: \S+\r\n/);
      expect(jsonOf(answer.text).error).toMatchObject({ code: "invalid_request", type: "invalid_request_error" });
    });

    it("answers headers that never arrive whole with 408 in OpenAI's shape and closes", async () => {
      const started = Date.now();
      const answer = await rawExchange(gw.url, `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-slow: `, HEADERS_TIMEOUT_MS * 4 + 3_000);
      expect(answer.closed).toBe(true);
      expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(jsonOf(answer.text).error).toMatchObject({ code: "request_timeout", type: "invalid_request_error" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    });

    it("keeps an idle keep-alive connection past the headers deadline for its next request", async () => {
      const { hostname, port } = new URL(gw.url);
      const socket = connect(Number(port), hostname);
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      const request = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
      socket.write(request);
      await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS * 3));
      socket.write(request);
      await new Promise((r) => setTimeout(r, 500));
      socket.destroy();
      expect(text.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
      expect(text).not.toContain(" 408 ");
    });

    it.each([
      ["a route that reads no body", "GET /healthz", "200"],
      ["a call refused before its body is read", "POST /v1/chat/completions", "401"],
    ])("ends the connection of %s once the rest of its body takes longer than the body timeout", async (_case, line, status) => {
      const { hostname, port } = new URL(gw.url);
      const socket = connect(Number(port), hostname);
      let text = "";
      let closedAt: number | undefined;
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
      socket.on("close", () => (closedAt = Date.now()));
      socket.on("error", () => {});
      socket.write(`${line} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{\r\n`);
      const started = Date.now();
      // A chunk every 100 ms: the connection is never idle, so no idle timeout would end it.
      while (closedAt === undefined && Date.now() - started < BODY_TIMEOUT_MS * 8) {
        await new Promise((r) => setTimeout(r, 100));
        if (!socket.destroyed) socket.write("1\r\na\r\n");
      }
      socket.destroy();
      expect(text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(closedAt, "the connection is still open").toBeDefined();
      expect(closedAt! - started).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    });

    it("answers headers over 16 KB with 431 in OpenAI's shape and closes", async () => {
      const answer = await rawExchange(gw.url, `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
      expect(answer.closed).toBe(true);
      expect(answer.text).toMatch(/^HTTP\/1\.1 431 /);
      expect(jsonOf(answer.text).error).toMatchObject({ code: "request_too_large" });
    });
  });
});
