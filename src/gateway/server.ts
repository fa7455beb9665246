import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import Router, { type HTTPVersion } from "find-my-way";
import { AirlockError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { ControlPlane } from "../control-plane.js";
import type { Principal } from "../auth/principal.js";
import { AdminWrites } from "./admin-writes.js";
import { CorsPolicy } from "./cors.js";
import type { GatewayContext, Handler } from "./context.js";
import { ROUTE_PARAM_MAX_LENGTH } from "./http.js";
import { createHttpServer } from "./http-server.js";
import { Requests } from "./requests.js";
import { changesThroughAdminApi, routeTable } from "./route-table.js";

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
  /**
   * Stops accepting, reports not ready (/readyz 503 draining), waits up to `graceMs` for in-flight
   * calls, then closes the rest.
   */
  close(graceMs?: number): Promise<void>;
}

/** The methods a route may take, in the order an `Allow` header lists them. */
const ROUTABLE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** How long closing waits for cut calls to settle: longer than a token count may take before it falls back (3 s). */
const SETTLE_AFTER_CUT_MS = 5_000;

/**
 * How long the calls told to end at shutdown get to answer so (an error event ending a stream, a 503 for
 * the rest) before their connections are closed under them: a client that reads gets it within
 * milliseconds; one that stopped reading is not waited for beyond this.
 */
const LAST_WORDS_MS = 1_000;

export function createGateway(options: GatewayOptions): Gateway {
  const settings = options.plane.loaded.config.server;
  /** Set once the shutdown has begun: every response from then on ends its connection, and /readyz says draining. */
  let closing = false;
  const cors = settings.corsOrigins.length > 0 ? new CorsPolicy(settings.corsOrigins) : undefined;
  const gw: GatewayContext = {
    plane: options.plane,
    logger: options.logger,
    bodyLimitBytes: options.bodyLimitBytes ?? settings.bodyLimitBytes,
    audioBodyLimitBytes: settings.audioBodyLimitBytes,
    bodyTimeoutMs: settings.bodyTimeoutMs,
    startedAt: new Date(),
    metricsText: options.metricsText ?? (() => options.plane.metrics.text()),
    requestsInFlight: () => requests.inFlight,
    draining: () => closing,
  };
  const requests = new Requests(gw, cors);
  const router = Router<HTTPVersion.V1>({
    ignoreTrailingSlash: true,
    maxParamLength: ROUTE_PARAM_MAX_LENGTH,
    // Through run like any route, so that a request no route serves (a client whose base URL lacks /v1) has its access-log line too.
    defaultRoute: (req, res) => requests.run(noRoute, req, res, {}, {}),
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
  const adminWrites = new AdminWrites(options.plane.database.db, options.logger, settings.adminWritesPerMinute);
  const admitWrite = (principal: Principal) => adminWrites.admit(principal);
  for (const [method, path, handler] of routeTable(gw)) {
    const admit = changesThroughAdminApi(method, path) ? admitWrite : undefined;
    // HEAD is GET without the body (RFC 9110), which Node leaves out: uptime monitors probe /healthz with it.
    router.on(method === "GET" ? ["GET", "HEAD"] : (method as "POST"), path, (req, res, params, _store, query) => requests.run(handler, req, res, params, query, admit));
  }
  if (cors) router.on("OPTIONS", "/v1/*", (req, res, params, _store, query) => requests.run(cors.preflight, req, res, params, query));

  const http = createHttpServer({
    headersTimeoutMs: settings.headersTimeoutMs,
    closing: () => closing,
    onRequest: (req, res) => router.lookup(req, res),
  });
  // A client that asks before sending its body (Expect: 100-continue, as curl does for large uploads) is
  // refused at once when the body it declares is over the limit, rather than invited to send it first.
  http.on("checkContinue", (req, res) => {
    const declared = Number(req.headers["content-length"] ?? NaN);
    const limit = req.url?.startsWith("/v1/audio/transcriptions") ? gw.audioBodyLimitBytes : gw.bodyLimitBytes;
    if (!(declared > limit)) res.writeContinue();
    http.emit("request", req, res);
  });
  return {
    server: http,
    listen: (port, host = "0.0.0.0") =>
      new Promise((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, host, () => {
          http.off("error", reject);
          const address = http.address() as AddressInfo;
          const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
          resolve({ port: address.port, url: `http://${shownHost}:${address.port}` });
        });
      }),
    close: async (graceMs = 10_000) => {
      closing = true;
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      await untilZero(() => requests.inFlight, deadline);
      // The calls still open are ended first, each answering why (unavailable): a stream with an error
      // event and its end, anything else with a 503. Only what is still open after that is closed under them.
      requests.cutAll();
      await untilZero(() => requests.inFlight, Date.now() + LAST_WORDS_MS);
      http.closeAllConnections();
      await closed;
      await untilZero(() => requests.running, Date.now() + SETTLE_AFTER_CUT_MS);
    },
  };
}

/** Waits until `count()` is zero, or until the `deadline` (epoch ms) has passed. */
async function untilZero(count: () => number, deadline: number): Promise<void> {
  while (count() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
