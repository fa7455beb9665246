import { AirlockError } from "../core/errors.js";
import { pageOf, startOf, type Page, type PageQuery } from "../core/page-cursor.js";
import { newId } from "../core/ids.js";
import type { Db } from "../store/database.js";
import { auditBy } from "../store/queries/admin-rows.js";
import { getDelivery, listDeliveries, resendDelivery, type DeliveryStatus } from "../store/queries/webhooks.js";
import type { WebhookDeliveryRow } from "../store/schema/index.js";

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const satisfies readonly DeliveryStatus[];

/** `cursor`: the `nextCursor` of the page before; the newest deliveries when left out. */
export interface DeliveryQuery extends PageQuery {
  status?: DeliveryStatus;
  webhook?: string;
}

/** One page of deliveries, newest first, and the cursor of the next page (null after the last). */
export type DeliveryPage = Page<WebhookDeliveryRow>;

/**
 * A page of deliveries. The cursor names the last row's place, (created_at, id), not an offset: rows
 * queued while an admin pages, or pruned by retention, neither shift a page nor repeat a row.
 */
export async function deliveryPage(db: Db, query: DeliveryQuery): Promise<DeliveryPage> {
  const rows = await listDeliveries(db, { status: query.status, webhook: query.webhook, after: startOf(query), limit: query.limit + 1 });
  return pageOf(rows, query.limit);
}

/**
 * Sends a failed delivery again: a new delivery, pending at once, of the same event (same event id and
 * body, so receivers deduplicate it) to the same webhook, with `resentFrom` naming the failed one. The
 * failed delivery stays as it was, and may be resent again. Audited as `webhook_delivery.resend`.
 */
/**
 * `liveMs`: how recently an instance must have said it sends the webhook; undefined on an embedded store
 * with its gateway stopped, whose next start sends the resend (or ends it, if its file lacks the webhook).
 */
export async function resendFailed(db: Db, id: string, by: { keyId: string; kind: string }, everyWebhook: string, liveMs: number | undefined): Promise<WebhookDeliveryRow> {
  const outcome = await resendDelivery(db, id, newId("dlv"), everyWebhook, liveMs, auditBy(by));
  const found = outcome.found;
  if (!found) throw new AirlockError("not_found", `no webhook delivery "${id}"`);
  if (found.status !== "failed") {
    const why = found.status === "pending" ? "it is still being sent" : "it was delivered";
    throw new AirlockError("conflict", `only a failed delivery can be resent; "${id}" is ${found.status} (${why})`, { details: { status: found.status } });
  }
  if (!outcome.resentId) {
    const which = found.webhook === everyWebhook ? "any webhook" : `a webhook named "${found.webhook}"`;
    throw new AirlockError("invalid_request", `no running instance has ${which} configured, so a resend would not be sent; start a gateway whose file has it, then resend`, {
      details: { webhook: found.webhook },
    });
  }
  const resent = await getDelivery(db, outcome.resentId);
  // Retention takes only deliveries at least a day old: the one just queued is there.
  return resent!;
}
