import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { answerAudio, audioRouteOf, readMultipart } from "./audio.js";
import { embeddingsFor } from "./embeddings.js";
import { hasOverrides, overriddenEvents, overriddenJson, withStreamedContent, type PayloadOverrides } from "./overrides.js";
import { baseHeaders, errorBodyFor, errorHeadersFor, MODELS, notFoundBody } from "./provider-replies.js";
import { geminiJson, geminiRoute, geminiStreamEvents, isGeminiCounted, isGeminiStream } from "./gemini.js";

/**
 * A local stand-in for OpenAI-style, Anthropic and Gemini upstreams that speaks their real wire formats:
 * recorded JSON and SSE payloads, real status codes, error bodies and rate-limit headers. Tests queue
 * one scenario per request; an empty queue means every request succeeds with the default fixture.
 */

export type FakeFlavor = "openai" | "anthropic" | "gemini";

export type FakeScenario =
  /**
   * `content` replaces the assistant's text in the recorded payload (streamed: in its first text chunk,
   * later ones emptied); `usage` and `choices` replace those parts of it (see overrides.ts).
   */
  | ({ kind: "ok"; fixture?: string; content?: string } & PayloadOverrides)
  /** `echoCredentials`: the error message quotes the request's auth header, as some upstreams' 400s quote the request. */
  | { kind: "error"; status: number; headers?: Record<string, string>; body?: unknown; echoCredentials?: boolean }
  /** A 200 JSON answer with this body instead of the recorded payload (a malformed answer). */
  | { kind: "body"; body: unknown }
  | { kind: "hang" }
  /** Answered only once `until` settles, as the scenario it gives: a slow request the test decides the end of. */
  | { kind: "held"; until: Promise<FakeScenario> }
  | { kind: "cut"; afterChunks: number }
  /** Goes silent after this many content chunks, the connection left open: an upstream stalled mid-stream. */
  | { kind: "stall"; afterChunks: number }
  /**
   * The whole answer with its usage, then the connection drops before the stream is whole: before
   * `[DONE]` or `message_stop`. Gemini, which has no end marker but reports usage on every event, is cut
   * before its last event, the one with the finishReason.
   */
  | { kind: "cutAfterUsage" }
  | { kind: "noUsage" };

export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export interface FakeUpstream {
  /** The base URL for provider config: `http://127.0.0.1:PORT/v1` (openai) or `http://127.0.0.1:PORT` (anthropic, gemini). */
  url: string;
  requests: RecordedRequest[];
  /** TCP connections accepted so far: a client that reuses its connection opens one. */
  readonly connections: number;
  /** Answers whose connection closed before they were whole: the client left (or a `cut` scenario dropped it). */
  readonly unfinished: number;
  push(...scenarios: FakeScenario[]): void;
  close(): Promise<void>;
}

export interface FakeUpstreamOptions {
  /** Delay before every answer. */
  latencyMs?: number;
  /** Delay between SSE events. */
  chunkDelayMs?: number;
  /** The chat fixture for `ok` answers that name none; default `openai/chat`, `anthropic/message` or `gemini/generate`. */
  chatFixture?: string;
}

const FIXTURES = new URL("../fixtures/", import.meta.url);
const fixtureCache = new Map<string, string>();

/** A recorded payload by name, e.g. `openai/chat` + `json` → test/fixtures/openai/chat.json. */
export function readFixture(name: string, ext: "json" | "sse"): string {
  const key = `${name}.${ext}`;
  let text = fixtureCache.get(key);
  if (text === undefined) {
    text = readFileSync(new URL(key, FIXTURES), "utf8");
    fixtureCache.set(key, text);
  }
  return text;
}

export function fixtureJson(name: string): any {
  return JSON.parse(readFixture(name, "json"));
}

type Route = "chat" | "embeddings" | "models";

function routeOf(flavor: FakeFlavor, method: string | undefined, path: string): Route | undefined {
  if (flavor === "gemini") return geminiRoute(method, path);
  if (flavor === "anthropic") return method === "POST" && path === "/v1/messages" ? "chat" : undefined;
  if (method === "POST" && path === "/v1/chat/completions") return "chat";
  if (method === "POST" && path === "/v1/embeddings") return "embeddings";
  if (method === "GET" && path === "/v1/models") return "models";
  return undefined;
}

export async function startFakeUpstream(flavor: FakeFlavor, options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const queue: FakeScenario[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let served = 0;

  let unfinished = 0;
  const server = createServer((req, res) => {
    res.on("error", () => {}); // the client may vanish mid-answer; that is the point of some scenarios
    res.on("close", () => {
      if (!res.writableFinished) unfinished++;
    });
    void readBody(req).then(async (raw) => {
      const path = req.url ?? "/";
      const audio = flavor === "openai" ? audioRouteOf(req.method, path.split("?")[0]!) : undefined;
      const body = audio === "transcriptions" ? await readMultipart(req, raw) : parseBody(raw.toString("utf8"));
      requests.push({ path, headers: { ...req.headers }, body });
      let scenario = queue.shift() ?? { kind: "ok" };
      while (scenario.kind === "held") scenario = await scenario.until;
      const requestId = `req_${(++served).toString(16).padStart(24, "0")}`;
      if (options.latencyMs) await sleep(options.latencyMs);
      if (audio !== undefined && (scenario.kind === "ok" || scenario.kind === "noUsage")) {
        return answerAudio(audio, body, scenario.kind === "ok" ? scenario.fixture : undefined, res, baseHeaders(flavor, requestId));
      }
      if (scenario.kind === "error" && scenario.echoCredentials) return sendEchoingError(flavor, scenario.status, req, res, requestId);
      if (audio !== undefined) return answer(flavor, "chat", false, scenario, body, res, requestId, options);
      const route = routeOf(flavor, req.method, path.split("?")[0]!);
      if (route === undefined) return sendJson(res, 404, notFoundBody(flavor), baseHeaders(flavor, requestId));
      const streamed = route === "chat" && (flavor === "gemini" ? isGeminiStream(path) : body?.stream === true);
      await answer(flavor, route, streamed, scenario, body, res, requestId, options);
    });
  });
  let connections = 0;
  server.on("connection", (socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: flavor === "openai" ? `http://127.0.0.1:${port}/v1` : `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
    get unfinished() {
      return unfinished;
    },
    push: (...scenarios) => void queue.push(...scenarios),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy(); // hanging requests must not hold the test run
        server.close(() => resolve());
      }),
  };
}

/** A base URL on which nothing listens: connecting to it is refused. */
export async function unreachableUrl(flavor: FakeFlavor): Promise<string> {
  const fake = await startFakeUpstream(flavor);
  await fake.close();
  return fake.url;
}

async function answer(
  flavor: FakeFlavor,
  route: Route,
  streamed: boolean,
  scenario: FakeScenario,
  body: any,
  res: ServerResponse,
  requestId: string,
  options: FakeUpstreamOptions,
): Promise<void> {
  const chunkDelayMs = options.chunkDelayMs ?? 0;
  const headers = baseHeaders(flavor, requestId);
  switch (scenario.kind) {
    case "hang":
      return; // never answered; close() destroys the socket
    case "error": {
      const errorHeaders = { ...headers, ...errorHeadersFor(flavor, scenario.status), ...scenario.headers };
      const errorBody = scenario.body ?? errorBodyFor(flavor, scenario.status);
      if (typeof errorBody === "string") {
        res.writeHead(scenario.status, { ...errorHeaders, "content-type": "text/html" });
        res.end(errorBody);
        return;
      }
      return sendJson(res, scenario.status, errorBody, errorHeaders);
    }
  }
  if (route === "models") return sendJson(res, 200, MODELS, headers);
  if (scenario.kind === "body") return sendJson(res, 200, scenario.body, headers);

  const fixture = (scenario.kind === "ok" ? scenario.fixture : undefined) ?? defaultFixture(flavor, route, options.chatFixture);
  const dropUsage = scenario.kind === "noUsage";
  let cutAfter = scenario.kind === "cut" ? scenario.afterChunks : undefined;
  const stallAfter = scenario.kind === "stall" ? scenario.afterChunks : undefined;

  const content = scenario.kind === "ok" ? scenario.content : undefined;
  if (streamed) {
    const includeUsage = flavor !== "openai" || body?.stream_options?.include_usage === true;
    let events: string[];
    if (flavor === "gemini") events = geminiStreamEvents(readFixture(fixture, "sse"), !dropUsage, content);
    else {
      events = sseEvents(readFixture(fixture, "sse"), flavor, includeUsage && !dropUsage);
      if (content !== undefined) events = withStreamedContent(events, flavor, content);
    }
    if (scenario.kind === "ok" && hasOverrides(scenario)) events = overriddenEvents(events, flavor, scenario);
    if (scenario.kind === "cutAfterUsage") cutAfter = flavor === "gemini" ? events.filter((e) => isCounted(flavor, e)).length - 1 : Number.POSITIVE_INFINITY;
    res.writeHead(200, { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    let counted = 0;
    for (const event of events) {
      if (cutAfter !== undefined && (isTerminal(event) || (isCounted(flavor, event) && counted === cutAfter))) {
        res.socket?.end(); // drop the connection mid-body: no terminating chunk, no [DONE]
        return;
      }
      if (res.destroyed || (stallAfter !== undefined && isCounted(flavor, event) && counted === stallAfter)) return;
      res.write(event);
      if (isCounted(flavor, event)) counted++;
      if (chunkDelayMs > 0) await sleep(chunkDelayMs);
    }
    res.end();
    return;
  }

  let payload = readFixture(fixture, "json");
  if (flavor === "gemini") payload = geminiJson(payload, content, dropUsage);
  else if (route === "embeddings") payload = embeddingsFor(payload, body?.input);
  else if (content !== undefined) {
    const parsed = JSON.parse(payload);
    if (flavor === "anthropic") parsed.content = [{ type: "text", text: content }];
    else parsed.choices[0].message.content = content;
    payload = JSON.stringify(parsed);
  }
  if (scenario.kind === "ok" && hasOverrides(scenario)) payload = overriddenJson(payload, flavor, scenario);
  if (dropUsage && flavor !== "gemini") {
    const parsed = JSON.parse(payload);
    delete parsed.usage;
    payload = JSON.stringify(parsed);
  }
  if (cutAfter !== undefined) {
    res.writeHead(200, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
    res.write(payload.slice(0, Math.floor(payload.length / 2)));
    res.socket?.end();
    return;
  }
  res.writeHead(200, { ...headers, "content-type": "application/json" });
  res.end(payload);
}

/**
 * Splits a recorded SSE file into its events (each with its blank-line terminator). Without usage
 * requested, OpenAI-style upstreams send no usage chunk and no `usage` field; Anthropic always sends it,
 * so for `noUsage` it is removed from message_start and message_delta instead.
 */
function sseEvents(text: string, flavor: FakeFlavor, withUsage: boolean): string[] {
  const events = text.split("\n\n").filter((e) => e.length > 0).map((e) => `${e}\n\n`);
  if (withUsage) return events;
  const out: string[] = [];
  for (const event of events) {
    const match = /^((?:event: [^\n]*\n)?)data: (\{.*\})\n\n$/s.exec(event);
    if (match === null) {
      out.push(event);
      continue;
    }
    const payload = JSON.parse(match[2]!);
    if (flavor === "openai" && "usage" in payload) {
      if (payload.usage !== null && Array.isArray(payload.choices) && payload.choices.length === 0) continue;
      delete payload.usage;
    }
    if (flavor === "anthropic") {
      if (payload.type === "message_start") delete payload.message.usage;
      if (payload.type === "message_delta") delete payload.usage;
    }
    out.push(`${match[1]}data: ${JSON.stringify(payload)}\n\n`);
  }
  return out;
}

/** What a `cut` counts: events the adapter turns into content chunks. */
function isCounted(flavor: FakeFlavor, event: string): boolean {
  if (flavor === "gemini") return isGeminiCounted(event);
  if (flavor === "anthropic") return event.startsWith("event: content_block_delta\n");
  if (!event.startsWith("data: {")) return false;
  // A data field may run over several `data:` lines, which SSE joins with line breaks.
  const data = event.trimEnd().split("\n").map((line) => line.replace(/^data: ?/, "")).join("\n");
  const payload = JSON.parse(data);
  return Array.isArray(payload.choices) && payload.choices.length > 0;
}

function isTerminal(event: string): boolean {
  return event === "data: [DONE]\n\n" || event.startsWith("event: message_stop\n");
}

function defaultFixture(flavor: FakeFlavor, route: Route, chatFixture: string | undefined): string {
  if (route === "embeddings") return flavor === "gemini" ? "gemini/embed" : "openai/embeddings";
  return chatFixture ?? { openai: "openai/chat", anthropic: "anthropic/message", gemini: "gemini/generate" }[flavor];
}

/** The provider's error body for `status`, its message quoting the credentials the request came with. */
function sendEchoingError(flavor: FakeFlavor, status: number, req: IncomingMessage, res: ServerResponse, requestId: string): void {
  const credentials = req.headers.authorization ?? req.headers["x-api-key"] ?? req.headers["x-goog-api-key"];
  const quoted = `Invalid request; auth was ${Array.isArray(credentials) ? credentials[0] : credentials}`;
  const body = structuredClone(errorBodyFor(flavor, status)) as { error: { message: string } }; // the table is shared
  body.error.message = quoted;
  sendJson(res, status, body, { ...baseHeaders(flavor, requestId), ...errorHeadersFor(flavor, status) });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, { ...headers, "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => resolve(Buffer.alloc(0)));
  });
}

function parseBody(raw: string): any {
  if (raw === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
