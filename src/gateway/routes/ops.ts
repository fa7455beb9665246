import type { GatewayContext, Handler } from "../context.js";
import { sendJson } from "../http.js";

export function healthz(): Handler {
  return async (_req, res) => sendJson(res, 200, { status: "ok" });
}

/**
 * Ready when the store takes ledger writes and the gateway is not shutting down; a load balancer should
 * stop sending traffic otherwise. Liveness (/healthz) stays up while it drains, so it is not restarted.
 */
export function readyz(gw: GatewayContext): Handler {
  return async (_req, res) => {
    if (gw.draining()) return sendJson(res, 503, { status: "draining" });
    const storeUp = await gw.plane.storeReachable();
    const ready = storeUp && gw.plane.ledgerHealthy;
    sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "degraded", store: { kind: gw.plane.database.kind, reachable: storeUp }, ledger: gw.plane.ledgerStats });
  };
}

export function metrics(gw: GatewayContext): Handler {
  return async (_req, res) => {
    const text = await gw.metricsText();
    res.writeHead(200, { "content-type": gw.plane.metrics.contentType });
    res.end(text);
  };
}
