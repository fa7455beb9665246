import { DELIVERY_STATUSES } from "../../governance/webhook-deliveries.js";
import { requireAdmin } from "../auth.js";
import type { GatewayContext, Handler } from "../context.js";
import { enumParam, idParam, limitParam, sendJson, textParam } from "../http.js";

/**
 * `GET /admin/webhooks/deliveries?status=failed&webhook=ops&limit=50&cursor=…` (admin): webhook deliveries,
 * newest first, with their attempts and last error, and `nextCursor` for the page after (null after the last).
 */
export function listDeliveries(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const status = enumParam(query, "status", DELIVERY_STATUSES);
    const webhook = textParam(query, "webhook");
    const cursor = textParam(query, "cursor");
    sendJson(res, 200, await gw.plane.notifier.deliveries({ status, webhook, limit: limitParam(query), cursor }));
  };
}

/** `POST /admin/webhooks/deliveries/:id/resend` (admin): 201 with the new delivery of the failed one's event; audited. */
export function resendDelivery(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const resent = await gw.plane.notifier.resend(idParam(params, "webhook delivery"), principal);
    gw.logger.info({ requestId: scope.requestId, delivery: resent.id, resentFrom: resent.resentFrom, webhook: resent.webhook, by: principal.keyId }, "webhook delivery resent");
    sendJson(res, 201, resent);
  };
}
