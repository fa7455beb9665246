import type { IncomingMessage, ServerResponse } from "node:http";
import type { Handler } from "./context.js";

/** What a page may read of an answer besides the CORS-safelisted headers: the ids, costs and waits a client acts on. */
const EXPOSED_HEADERS = ["x-request-id", "retry-after", "retry-after-ms", "x-should-retry", "x-airlock-cost", "x-airlock-model", "x-airlock-provider", "x-airlock-operation", "x-airlock-attempts", "x-airlock-session"].join(", ");
/** The /v1 methods: POST for calls, GET for models and toggles, PATCH for a toggle change. */
const ALLOWED_METHODS = "GET, POST, PATCH";
/** What the openai SDK sends from a browser, besides its own `x-stainless-*` headers, which a preflight names. */
const DEFAULT_ALLOWED_HEADERS = "authorization, content-type, x-request-id, x-airlock-user, x-airlock-session, x-airlock-operation";
/** A preflight's answer is kept by the browser this long (seconds); Chromium holds it for at most 7,200. */
const PREFLIGHT_MAX_AGE = "600";
/** Header names, comma-separated, as a preflight's Access-Control-Request-Headers holds them. */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/**
 * Cross-origin calls to the OpenAI-compatible API (`/v1/*`) from the pages of `server.corsOrigins`, so
 * that the openai SDK can run in a browser. Keys go in the Authorization header, never in cookies, so
 * credentials are never allowed; the admin API and the dashboard, whose session is a cookie, answer
 * no cross-origin request.
 */
export class CorsPolicy {
  private readonly anyOrigin: boolean;
  private readonly origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.anyOrigin = origins.includes("*");
    this.origins = new Set(origins);
  }

  /** Adds the headers a page on an allowed origin needs to read the answer of a /v1 request. */
  decorate(req: IncomingMessage, res: ServerResponse): void {
    const allowed = this.allowedOrigin(req);
    if (allowed === undefined || !req.url?.startsWith("/v1/")) return;
    res.setHeader("access-control-allow-origin", allowed);
    if (allowed !== "*") res.setHeader("vary", "Origin");
    res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
  }

  /** Answers a browser's preflight (OPTIONS) for a /v1 path: 204, with the permissions only for an allowed origin. */
  readonly preflight: Handler = async (req, res) => {
    const allowed = this.allowedOrigin(req);
    if (allowed === undefined) {
      res.writeHead(204, { vary: "Origin" }).end();
      return;
    }
    const requested = req.headers["access-control-request-headers"];
    const headers = typeof requested === "string" && HEADER_LIST.test(requested.trim()) ? requested.trim() : DEFAULT_ALLOWED_HEADERS;
    res
      .writeHead(204, {
        "access-control-allow-origin": allowed,
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": headers,
        "access-control-max-age": PREFLIGHT_MAX_AGE,
        vary: "Origin, Access-Control-Request-Headers",
      })
      .end();
  };

  private allowedOrigin(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    if (this.anyOrigin) return "*";
    return this.origins.has(origin) ? origin : undefined;
  }
}
