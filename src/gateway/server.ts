import { createServer, ServerResponse, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import Router, { type HTTPVersion } from "find-my-way";
import { Cancellation } from "../core/cancel.js";
import { AirlockError, clientClosedError } from "../core/errors.js";
import { requestId as newRequestId } from "../core/ids.js";
import { accessLog } from "../core/access-log.js";
import type { Logger } from "../core/logger.js";
import type { ControlPlane } from "../control-plane.js";
import type { Principal } from "../auth/principal.js";
import { AdminWrites } from "./admin-writes.js";
import { CorsPolicy } from "./cors.js";
import type { GatewayContext, Handler, RequestScope } from "./context.js";
import { ROUTE_PARAM_MAX_LENGTH, sendError } from "./http.js";
import * as admin from "./routes/admin.js";
import * as openai from "./routes/openai.js";
import * as ops from "./routes/ops.js";
import * as finance from "./routes/finance-admin.js";
import * as audio from "./routes/audio.js";
import * as guards from "./routes/guards-admin.js";
import * as webhooks from "./routes/webhooks-admin.js";
import * as changes from "./routes/changes-admin.js";
import * as directives from "./routes/directives-admin.js";
import * as toggles from "./routes/toggles.js";
import * as prices from "./routes/prices-admin.js";
import * as routing from "./routes/routing-admin.js";
import * as dashboard from "./routes/dashboard.js";
import * as reports from "./routes/reports-admin.js";

export interface GatewayOptions {
  plane: ControlPlane;
  logger: Logger;
  bodyLimitBytes?: number;
  /** Overrides where /metrics comes from (cluster workers aggregate through the primary). */
  metricsText?: () => Promise<string>;
}

export interface Gateway {
  server: Server;
  listen(port: number, host?: string): Promise<{ port: number; url: string }>;
  /** Stops accepting, waits up to `graceMs` for in-flight calls, then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

/** The methods a route may take, in the order an `Allow` header lists them. */
const ROUTABLE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The calls, whose handlers write `x-request-id` with the rest of their headers in one `writeHead`. */
const CALL_PATHS = new Set(["/v1/chat/completions", "/v1/embeddings", "/v1/audio/transcriptions", "/v1/audio/speech"]);

/**
 * Every other route answers with the request id too, success or not, so that the id a client or a probe
 * got back finds its access-log line. Set before the handler writes anything.
 */
function withRequestIdHeader(handler: Handler): Handler {
  return (req, res, scope, params, query) => {
    res.setHeader("x-request-id", scope.requestId);
    return handler(req, res, scope, params, query);
  };
}

/** How long closing waits for cut calls to settle: longer than a token count may take before it falls back (3 s). */
const SETTLE_AFTER_CUT_MS = 5_000;

/**
 * How long the calls told to end at shutdown get to answer so (an error event ending a stream, a 503 for
 * the rest) before their connections are closed under them: a client that reads gets it within
 * milliseconds; one that stopped reading is not waited for beyond this.
 */
const LAST_WORDS_MS = 1_000;

export function createGateway(options: GatewayOptions): Gateway {
  // A count, not a Set of responses. A long-lived Set keeps each hash table it outgrows, with the
  // entries that table held, linked to its successor (for iterators still on it) and reachable from the
  // old generation until the next full collection: every response that passed through it survived the
  // young-generation collections and was promoted (docs/performance.md, "Requests held by a Set").
  let inFlight = 0;
  /** Set once the shutdown has begun: every response from then on ends its connection. */
  let closing = false;
  /** Set once the shutdown's grace has run out and the requests still open are cut. */
  let cuttingAll = false;
  /**
   * Aborted when the grace runs out: every request still open hears it (its own cancellation listens
   * while its response is open), so that each can end its answer with why, rather than have its
   * connection closed under it, which a streaming client sees as a bare truncation.
   */
  const shutdown = new Cancellation();
  /**
   * Handlers still running. A call settles, and records its ledger row, after its response closed: a cut
   * stream may first have to count its tokens. Closing waits for them, so no row comes after the ledger closed.
   */
  let running = 0;
  const handlerDone = (): void => {
    running--;
  };
  const gw: GatewayContext = {
    plane: options.plane,
    logger: options.logger,
    bodyLimitBytes: options.bodyLimitBytes ?? options.plane.loaded.config.server.bodyLimitBytes,
    audioBodyLimitBytes: options.plane.loaded.config.server.audioBodyLimitBytes,
    bodyTimeoutMs: options.plane.loaded.config.server.bodyTimeoutMs,
    startedAt: new Date(),
    metricsText: options.metricsText ?? (() => options.plane.metrics.text()),
    requestsInFlight: () => inFlight,
  };
  const router = Router<HTTPVersion.V1>({
    ignoreTrailingSlash: true,
    maxParamLength: ROUTE_PARAM_MAX_LENGTH,
    // Through run like any route, so that a request no route serves (a client whose base URL lacks /v1) has its access-log line too.
    defaultRoute: (req, res) => run(noRoute, req, res, {}, {}),
  });
  const noRoute: Handler = (req, res) => {
    const path = req.url?.split("?")[0] ?? "/";
    // A path some route serves, asked with another method: 405 with the methods it takes (RFC 9110), not
    // a 404 that reads as a wrong URL.
    const allowed = ROUTABLE_METHODS.filter((method) => router.find(method, path) !== null);
    if (allowed.length > 0) {
      res.setHeader("allow", allowed.join(", "));
      return Promise.reject(new AirlockError("method_not_allowed", `${req.method} is not allowed on ${path}; it takes ${allowed.join(", ")}`));
    }
    return Promise.reject(new AirlockError("not_found", `no route for ${req.method} ${path}`));
  };
  const routes: Array<[string, string, Handler]> = [
    ["GET", "/", dashboard.page()],
    ["GET", "/dashboard/app.css", dashboard.stylesheet()],
    ["GET", "/dashboard/:file", dashboard.clientScript()],
    ["GET", "/dashboard/session", dashboard.session(gw)],
    ["POST", "/dashboard/login", dashboard.login(gw)],
    ["POST", "/dashboard/logout", dashboard.logout(gw)],
    ["GET", "/healthz", ops.healthz()],
    ["GET", "/readyz", ops.readyz(gw)],
    ["GET", "/metrics", ops.metrics(gw)],
    ["POST", "/v1/chat/completions", openai.chatCompletions(gw)],
    ["POST", "/v1/embeddings", openai.embeddings(gw)],
    ["POST", "/v1/audio/transcriptions", audio.transcriptions(gw)],
    ["POST", "/v1/audio/speech", audio.speech(gw)],
    ["GET", "/v1/models", openai.listModels(gw)],
    ["GET", "/v1/models/*", openai.retrieveModel(gw)],
    ["GET", "/admin/status", admin.status(gw)],
    ["GET", "/admin/keys", admin.listKeys(gw)],
    ["POST", "/admin/keys", admin.createKey(gw)],
    ["DELETE", "/admin/keys/:id", admin.revokeKey(gw)],
    ["GET", "/admin/spend", reports.spend(gw)],
    ["GET", "/admin/spend/series", reports.spendSeries(gw)],
    ["GET", "/admin/overview", reports.overview(gw)],
    ["GET", "/admin/calls", reports.recentCalls(gw)],
    ["GET", "/admin/kill-switch", guards.killSwitchStatus(gw)],
    ["POST", "/admin/kill-switch", guards.flipKillSwitch(gw)],
    ["GET", "/admin/audit", guards.auditEvents(gw)],
    ["POST", "/admin/change-requests", changes.proposeChange(gw)],
    ["GET", "/admin/change-requests", changes.listChanges(gw)],
    ["GET", "/admin/change-requests/:id", changes.getChange(gw)],
    ["POST", "/admin/change-requests/:id/approve", changes.approveChange(gw)],
    ["POST", "/admin/change-requests/:id/reject", changes.rejectChange(gw)],
    ["POST", "/admin/directives", directives.createDirective(gw)],
    ["GET", "/admin/directives", directives.listDirectives(gw)],
    ["GET", "/admin/directives/schema", directives.directiveSchema(gw)],
    ["GET", "/admin/directives/:id", directives.getDirective(gw)],
    ["POST", "/admin/directives/:id/propose", directives.moveDirective(gw, "propose")],
    ["POST", "/admin/directives/:id/approve", directives.moveDirective(gw, "approve")],
    ["POST", "/admin/directives/:id/abort", directives.moveDirective(gw, "abort")],
    ["GET", "/admin/runs", directives.listRuns(gw)],
    ["GET", "/admin/runs/:id", directives.getRun(gw)],
    ["GET", "/admin/artifacts/:id", directives.getArtifact(gw)],
    ["GET", "/admin/grants", changes.listGrants(gw)],
    ["POST", "/admin/grants", changes.createGrant(gw)],
    ["DELETE", "/admin/grants/:id", changes.revokeGrant(gw)],
    ["GET", "/admin/rate-limits", guards.rateLimits(gw)],
    ["PUT", "/admin/rate-limits/:name", guards.putRateLimit(gw)],
    ["DELETE", "/admin/rate-limits/:name", guards.deleteRateLimit(gw)],
    ["GET", "/admin/budgets", guards.listBudgets(gw)],
    ["GET", "/admin/webhooks/deliveries", webhooks.listDeliveries(gw)],
    ["POST", "/admin/webhooks/deliveries/:id/resend", webhooks.resendDelivery(gw)],
    ["PUT", "/admin/budgets/:name", guards.putBudget(gw)],
    ["DELETE", "/admin/budgets/:name", guards.deleteBudget(gw)],
    ["GET", "/v1/toggles", toggles.listToggles(gw)],
    ["GET", "/v1/toggles/:name", toggles.getToggle(gw)],
    ["POST", "/v1/toggles/:name/enforce", toggles.enforceToggle(gw)],
    ["PATCH", "/v1/toggles/:name", toggles.changeToggle(gw)],
    ["PUT", "/admin/toggles/:name", toggles.putToggle(gw)],
    ["GET", "/admin/routes", routing.listRoutes(gw)],
    ["GET", "/admin/routes/:name", routing.getRoute(gw)],
    ["PUT", "/admin/routes/:name", routing.putRoute(gw)],
    ["PATCH", "/admin/routes/:name", routing.patchRoute(gw)],
    ["DELETE", "/admin/routes/:name", routing.deleteRoute(gw)],
    ["GET", "/admin/reports/fallbacks", routing.fallbacks(gw)],
    ["GET", "/admin/reports/reconciliation", routing.reconciliation(gw)],
    ["GET", "/admin/reports/pnl", finance.profitAndLoss(gw)],
    ["POST", "/admin/costs", finance.addOperatingCost(gw)],
    ["POST", "/admin/revenue", finance.addRevenue(gw)],
    ["GET", "/admin/prices", prices.listPrices(gw)],
    ["GET", "/admin/prices/history", prices.priceHistory(gw)],
    ["POST", "/admin/prices", prices.setPrice(gw)],
    ["POST", "/admin/prices/import", prices.importPrices(gw)],
  ];
  const adminWrites = new AdminWrites(options.plane.database.db, options.logger, options.plane.loaded.config.server.adminWritesPerMinute);
  const admitWrite = (principal: Principal) => adminWrites.admit(principal);
  for (const [method, path, route] of routes) {
    const admit = changesThroughAdminApi(method, path) ? admitWrite : undefined;
    const handler = CALL_PATHS.has(path) ? route : withRequestIdHeader(route);
    // HEAD is GET without the body (RFC 9110), which Node leaves out: uptime monitors probe /healthz with it.
    router.on(method === "GET" ? ["GET", "HEAD"] : (method as "POST"), path, (req, res, params, _store, query) => run(handler, req, res, params, query, admit));
  }
  const corsOrigins = options.plane.loaded.config.server.corsOrigins;
  const cors = corsOrigins.length > 0 ? new CorsPolicy(corsOrigins) : undefined;
  if (cors) router.on("OPTIONS", "/v1/*", (req, res, params, _store, query) => run(cors.preflight, req, res, params, query));

  function run(
    handler: Handler,
    req: IncomingMessage,
    res: ServerResponse,
    params: Record<string, string | undefined>,
    query: Record<string, string>,
    admitWrite?: RequestScope["admitWrite"],
  ): void {
    const cancellation = new Cancellation();
    const scope: RequestScope = {
      requestId: requestIdOf(req),
      startedAt: performance.now(),
      cancellation,
      admitWrite,
      log: {},
    };
    inFlight++;
    const cutAtShutdown = () => cancellation.abort(shutdownCut());
    shutdown.addEventListener("abort", cutAtShutdown);
    if (cors !== undefined && req.headers.origin !== undefined) cors.decorate(req, res);
    res.on("close", () => {
      inFlight--;
      shutdown.removeEventListener("abort", cutAtShutdown);
      // Unfinished, the response was cut: by its client leaving, or by the shutdown once its grace ran out.
      const cut = res.writableFinished ? undefined : cuttingAll ? shutdownCut() : clientClosedError("the client closed the request");
      if (cut) cancellation.abort(cut);
      logRequest(req, res, scope, cut);
      // Answered before its body came whole (a route that reads none, or a refusal before the read): Node
      // reads the rest to its end, however long a client trickles it. It gets as long as a read would.
      if (!req.complete && !req.destroyed) endUnlessComplete(req, gw.bodyTimeoutMs);
    });
    running++;
    handler(req, res, scope, params, searchParams(query)).then(handlerDone, (err: unknown) => {
      handlerDone();
      const error = sendError(res, err, { "x-request-id": scope.requestId });
      scope.log.code = error.code;
      if (error.code === "misconfigured") gw.logger.error({ err, requestId: scope.requestId }, "request failed inside Airlock");
    });
  }

  const writeAccessLine = accessLog(gw.logger);
  function logRequest(req: IncomingMessage, res: ServerResponse, scope: RequestScope, cut: AirlockError | undefined): void {
    const url = req.url ?? "";
    const queryAt = url.indexOf("?");
    // A response cut short is logged as why it was cut, unless Airlock had already named its own error.
    const shown = cut && (scope.log.code === undefined || scope.log.code === "client_closed") ? cut : undefined;
    writeAccessLine({
      requestId: scope.requestId,
      method: req.method,
      path: queryAt < 0 ? url : url.slice(0, queryAt),
      status: shown ? shown.status : res.statusCode,
      ms: Math.round((performance.now() - scope.startedAt) * 100) / 100,
      operation: scope.log.operation,
      model: scope.log.model,
      keyId: scope.log.keyId,
      code: shown ? shown.code : scope.log.code,
    });
  }

  // requestTimeout stays off: a body's deadline is readBody's (server.bodyTimeoutMs), answered in Airlock's
  // error shape and recorded on the ledger, and a long call must not be cut while its answer is awaited.
  // The headers' deadline is set on its own: Node derives its default from requestTimeout, so with that off
  // a client that never finished its headers held its connection forever.
  const headersTimeoutMs = options.plane.loaded.config.server.headersTimeoutMs;
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      requestTimeout: 0,
      headersTimeout: headersTimeoutMs,
      // Node checks the deadline on this interval (30 s by default): a shorter deadline needs a shorter one.
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeoutMs / 2))),
      ServerResponse: responseClosingWhen(() => closing),
    },
    (req, res) => {
      router.lookup(req, res);
    },
  );
  server.on("clientError", answerMalformedHttp);
  // A client that asks before sending its body (Expect: 100-continue, as curl does for large uploads) is
  // refused at once when the body it declares is over the limit, rather than invited to send it first.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers["content-length"] ?? NaN);
    const limit = req.url?.startsWith("/v1/audio/transcriptions") ? gw.audioBodyLimitBytes : gw.bodyLimitBytes;
    if (!(declared > limit)) res.writeContinue();
    server.emit("request", req, res);
  });
  return {
    server,
    listen: (port, host = "0.0.0.0") =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
          resolve({ port: address.port, url: `http://${shownHost}:${address.port}` });
        });
      }),
    close: async (graceMs = 10_000) => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      await untilZero(() => inFlight, deadline);
      cuttingAll = true;
      // The calls still open are ended first, each answering why (unavailable): a stream with an error
      // event and its end, anything else with a 503. Only what is still open after that is closed under them.
      shutdown.abort(shutdownCut());
      await untilZero(() => inFlight, Date.now() + LAST_WORDS_MS);
      server.closeAllConnections();
      await closed;
      await untilZero(() => running, Date.now() + SETTLE_AFTER_CUT_MS);
    },
  };
}

/**
 * Responses that answer `Connection: close` once `closing()` is true, whenever their headers go out: a
 * call in flight when the shutdown began, or one a busy keep-alive connection brought during its grace.
 * Otherwise such a connection stays open, its client sends its next request on it, and that request is
 * reset when the connections are closed (docs/operations.md, "Shutdown"). Node reads `shouldKeepAlive`
 * when it writes the headers, and after a `false` ends the connection with the response.
 */
function responseClosingWhen(closing: () => boolean): typeof ServerResponse {
  class ClosingResponse extends ServerResponse {}
  const keepAlive = Symbol("keepAlive");
  type Held = ServerResponse & { [keepAlive]?: boolean };
  // An accessor on the prototype, which Node's own assignments (`res.shouldKeepAlive = …`) go through.
  Object.defineProperty(ClosingResponse.prototype, "shouldKeepAlive", {
    get(this: Held): boolean {
      return this[keepAlive] !== false && !closing();
    },
    set(this: Held, value: boolean) {
      this[keepAlive] = value;
    },
  });
  return ClosingResponse as typeof ServerResponse;
}

/**
 * Whether a route changes something through the admin API, and so counts against a key's
 * server.adminWritesPerMinute: every admin write, and the change of a feature toggle, which sits under /v1
 * but is the same kind of change (audited, refused or allowed by who asks).
 */
function changesThroughAdminApi(method: string, path: string): boolean {
  if (method === "GET") return false;
  return path.startsWith("/admin/") || (method === "PATCH" && path.startsWith("/v1/toggles/"));
}

/** Ends the request's connection if its body is still not whole after `ms`. */
function endUnlessComplete(req: IncomingMessage, ms: number): void {
  setTimeout(() => {
    if (!req.complete) req.socket.destroy();
  }, ms).unref();
}

/** Waits until `count()` is zero, or until the `deadline` (epoch ms) has passed. */
async function untilZero(count: () => number, deadline: number): Promise<void> {
  while (count() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** The caller's own request id when it is a usable one, else a new one. */
function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers["x-request-id"];
  return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : newRequestId();
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

/** Why a request still open when the shutdown's grace ran out ended: the gateway's doing, not its client's. */
function shutdownCut(): AirlockError {
  return new AirlockError("unavailable", "the gateway shut down before the answer was whole");
}

/** Shared by every request without a query string (most calls): handlers only read it. */
const NO_QUERY = new URLSearchParams();

function searchParams(query: Record<string, string>): URLSearchParams {
  for (const _ in query) return new URLSearchParams(query);
  return NO_QUERY;
}
