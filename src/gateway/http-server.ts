import { createServer, ServerResponse, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { AirlockError } from "../core/errors.js";
import { requestId as newRequestId } from "../core/ids.js";

export interface HttpServerOptions {
  /** How long a client has to send its request's headers (server.headersTimeoutMs). */
  headersTimeoutMs: number;
  /** True once the shutdown has begun: every response from then on ends its connection. */
  closing(): boolean;
  onRequest(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * Node's HTTP server as the gateway runs it: its deadlines, its responses (see gatewayResponse), and
 * an answer in Airlock's error shape for what Node's parser refuses.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  // requestTimeout stays off: a body's deadline is readBody's (server.bodyTimeoutMs), answered in Airlock's
  // error shape and recorded on the ledger, and a long call must not be cut while its answer is awaited.
  // The headers' deadline is set on its own: Node derives its default from requestTimeout, so with that off
  // a client that never finished its headers held its connection forever.
  const { headersTimeoutMs } = options;
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      requestTimeout: 0,
      headersTimeout: headersTimeoutMs,
      // Node checks the deadline on this interval (30 s by default): a shorter deadline needs a shorter one.
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeoutMs / 2))),
      ServerResponse: gatewayResponse(options.closing),
    },
    options.onRequest,
  );
  server.on("clientError", answerMalformedHttp);
  return server;
}

const REQUEST_ID = Symbol("requestId");
const KEEP_ALIVE = Symbol("keepAlive");
type GatewayResponse = ServerResponse & { [REQUEST_ID]?: string; [KEEP_ALIVE]?: boolean };

/**
 * Names the response's request: its head carries `x-request-id` whatever writes it (a route, an error,
 * a preflight, Node's implicit head), so that the id a client or a probe got back finds its access-log
 * line. Set by the request's run, before its handler writes anything.
 */
export function answerWithRequestId(res: ServerResponse, requestId: string): void {
  (res as GatewayResponse)[REQUEST_ID] = requestId;
}

const baseWriteHead = ServerResponse.prototype.writeHead;

/**
 * The gateway's responses. Each writes its request id with its head (see answerWithRequestId). A head
 * written in one `writeHead(status, headers)` that names the id already (the calls' answers, errors) is
 * left to Node's one-object path; any other gets it through `setHeader`, which that path would cost them.
 *
 * Each also answers `Connection: close` once `closing()` is true, whenever its headers go out: a call in
 * flight when the shutdown began, or one a busy keep-alive connection brought during its grace.
 * Otherwise such a connection stays open, its client sends its next request on it, and that request is
 * reset when the connections are closed (docs/operations.md, "Shutdown"). Node reads `shouldKeepAlive`
 * when it writes the headers, and after a `false` ends the connection with the response.
 */
function gatewayResponse(closing: () => boolean): typeof ServerResponse {
  class Response extends ServerResponse {}
  // An accessor on the prototype, which Node's own assignments (`res.shouldKeepAlive = …`) go through.
  Object.defineProperty(Response.prototype, "shouldKeepAlive", {
    get(this: GatewayResponse): boolean {
      return this[KEEP_ALIVE] !== false && !closing();
    },
    set(this: GatewayResponse, value: boolean) {
      this[KEEP_ALIVE] = value;
    },
  });
  // Node's own implicit head (`end()` or `write()` before any `writeHead`) comes through here too.
  Response.prototype.writeHead = function (this: GatewayResponse, _status: number, reason?: unknown, headers?: unknown) {
    const requestId = this[REQUEST_ID];
    if (requestId !== undefined && !namesRequestId(typeof reason === "string" ? headers : (reason ?? headers))) this.setHeader("x-request-id", requestId);
    return baseWriteHead.apply(this, arguments as unknown as Parameters<typeof baseWriteHead>);
  } as typeof baseWriteHead;
  return Response as typeof ServerResponse;
}

function namesRequestId(headers: unknown): boolean {
  return typeof headers === "object" && headers !== null && !Array.isArray(headers) && (headers as Record<string, unknown>)["x-request-id"] !== undefined;
}

/**
 * A request Node's parser refused (duplicate or negative Content-Length, a NUL in a header, headers over
 * the 16 KiB limit…) never reaches a handler. Answered here in OpenAI's error shape, as every other error
 * is, instead of Node's bare status line; then the connection closes, as nothing after the bad bytes can
 * be read reliably.
 */
function answerMalformedHttp(err: Error & { code?: string }, socket: Duplex): void {
  const pending = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  // A reset socket is gone, and one whose response has started cannot take a second status line.
  if (err.code === "ECONNRESET" || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, error] = malformedHttpAnswer(err.code);
  const body = JSON.stringify(error.toJSON());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${newRequestId()}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function malformedHttpAnswer(code: string | undefined): [number, string, AirlockError] {
  if (code === "HPE_HEADER_OVERFLOW") return [431, "Request Header Fields Too Large", new AirlockError("request_too_large", "the request headers are over the 16 KiB limit")];
  // The headers timeout (server.headersTimeoutMs) for a client that never finishes its headers.
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return [408, "Request Timeout", new AirlockError("request_timeout", "the request headers did not arrive in time")];
  return [400, "Bad Request", new AirlockError("invalid_request", "the request is not valid HTTP")];
}
