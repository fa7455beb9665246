import type { IncomingMessage, ServerResponse } from "node:http";
import { accessLog } from "../core/access-log.js";
import { Cancellation } from "../core/cancel.js";
import { AirlockError, clientClosedError } from "../core/errors.js";
import { requestId as newRequestId } from "../core/ids.js";
import type { GatewayContext, Handler, RequestScope } from "./context.js";
import type { CorsPolicy } from "./cors.js";
import { sendError } from "./http.js";
import { answerWithRequestId } from "./http-server.js";
import { OpenRequests, type OpenRequest } from "./open-requests.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Every request's run, whatever route serves it: its scope and request id, its access-log line, its
 * cancellation when its client leaves or the shutdown cuts it, and the count of what is still open.
 */
export class Requests {
  // The requests open, in a list through their scopes; not a Set of responses (see OpenRequests).
  private readonly open = new OpenRequests();
  /**
   * Handlers still running. A call settles, and records its ledger row, after its response closed: a cut
   * stream may first have to count its tokens. Closing waits for them, so no row comes after the ledger closed.
   */
  private handlers = 0;
  /** Set once the shutdown's grace has run out and the requests still open are cut. */
  private cuttingAll = false;
  private readonly writeAccessLine: ReturnType<typeof accessLog>;
  private readonly handlerDone = (): void => {
    this.handlers--;
  };

  constructor(
    private readonly gw: Pick<GatewayContext, "logger" | "bodyTimeoutMs">,
    private readonly cors: CorsPolicy | undefined,
  ) {
    this.writeAccessLine = accessLog(gw.logger);
  }

  /** Requests taken and not yet answered in full. */
  get inFlight(): number {
    return this.open.size;
  }

  /** Handlers that have not returned yet, answered or not. */
  get running(): number {
    return this.handlers;
  }

  /**
   * The shutdown's grace ran out: every request still open is told so through its cancellation, so
   * that each can end its answer with why (an error event ending a stream, a 503 for the rest) rather
   * than have its connection closed under it, which a streaming client sees as a bare truncation.
   */
  cutAll(): void {
    this.cuttingAll = true;
    this.open.cutAll(shutdownCut);
  }

  run(
    handler: Handler,
    req: IncomingMessage,
    res: ServerResponse,
    params: Record<string, string | undefined>,
    query: Record<string, string>,
    admitWrite?: RequestScope["admitWrite"],
  ): void {
    const scope: RequestScope & OpenRequest = {
      requestId: requestIdOf(req),
      startedAt: performance.now(),
      cancellation: new Cancellation(),
      admitWrite,
      log: {},
      prevOpen: undefined,
      nextOpen: undefined,
    };
    answerWithRequestId(res, scope.requestId);
    this.open.add(scope);
    if (this.cors !== undefined && req.headers.origin !== undefined) this.cors.decorate(req, res);
    res.on("close", () => {
      this.open.remove(scope);
      // Unfinished, the response was cut: by its client leaving, or by the shutdown once its grace ran out.
      const cut = res.writableFinished ? undefined : this.cuttingAll ? shutdownCut() : clientClosedError("the client closed the request");
      if (cut) scope.cancellation.abort(cut);
      this.logRequest(req, res, scope, cut);
      // Answered before its body came whole (a route that reads none, or a refusal before the read): Node
      // reads the rest to its end, however long a client trickles it. It gets as long as a read would.
      if (!req.complete && !req.destroyed) endUnlessComplete(req, this.gw.bodyTimeoutMs);
    });
    this.handlers++;
    handler(req, res, scope, params, searchParams(query)).then(this.handlerDone, (err: unknown) => {
      this.handlerDone();
      const error = sendError(res, err, { "x-request-id": scope.requestId });
      scope.log.code = error.code;
      if (error.code === "misconfigured") this.gw.logger.error({ err, requestId: scope.requestId }, "request failed inside Airlock");
    });
  }

  private logRequest(req: IncomingMessage, res: ServerResponse, scope: RequestScope, cut: AirlockError | undefined): void {
    const url = req.url ?? "";
    const queryAt = url.indexOf("?");
    // A response cut short is logged as why it was cut, unless Airlock had already named its own error.
    const shown = cut && (scope.log.code === undefined || scope.log.code === "client_closed") ? cut : undefined;
    this.writeAccessLine({
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
}

/** The caller's own request id when it is a usable one, else a new one. */
function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers["x-request-id"];
  return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : newRequestId();
}

/** Ends the request's connection if its body is still not whole after `ms`. */
function endUnlessComplete(req: IncomingMessage, ms: number): void {
  setTimeout(() => {
    if (!req.complete) req.socket.destroy();
  }, ms).unref();
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
