import type { WebhookConfig } from "../config/schema.js";
import { Cancellation } from "../core/cancel.js";
import { newId } from "../core/ids.js";
import { Reloader } from "../core/reloader.js";
import { attempt } from "./webhook-attempt.js";
import type { Logger } from "../core/logger.js";
import type { Db } from "../store/database.js";
import { claimDeliveries, endUnsendable, enqueueDeliveries, forgetSenders, markAttemptFailed, markDelivered, releaseDelivery, removeDelivery, renewSender, type ClaimedDelivery, type NewDelivery } from "../store/queries/webhooks.js";
import type { WebhookDeliveryRow } from "../store/schema/index.js";
import { deliveryPage, resendFailed, type DeliveryPage, type DeliveryQuery } from "./webhook-deliveries.js";
import { DeliveryRetention } from "./webhook-retention.js";

export const NOTIFICATION_EVENTS = ["approval.requested", "change.applied", "budget.warning", "budget.exhausted", "kill_switch.flipped"] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export interface NotifierOptions {
  db: Db;
  logger: Logger;
  webhooks: readonly WebhookConfig[];
  /** Whether other instances may use the store too (PostgreSQL); the embedded store is this process's alone. */
  sharedStore?: () => boolean;
  /** Every how often each instance looks for deliveries that are due (a local event is sent at once). */
  pollIntervalMs?: number;
  /** How long one attempt may take before it counts as failed. */
  timeoutMs?: number;
  /** Days a delivery that ended is kept (notifications.retentionDays). */
  retentionDays?: number;
}

/** Attempts per delivery, and the pause before each retry: 1 s, doubling (about 2 minutes from first attempt to last). */
const MAX_ATTEMPTS = 8;
const BASE_DELAY_MS = 1_000;
/** The longest pause a receiver's Retry-After is granted before the next attempt. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;
/** A delivery is held this long by the instance sending it; past that, another may take it. */
const LOCK_MS = 30_000;
/**
 * Deliveries one instance sends at once to each webhook. Each webhook has slots of its own: a receiver
 * that hangs fills only its own, never the ones another receiver's deliveries wait for.
 */
export const MAX_IN_FLIGHT = 16;
/**
 * Every how often an instance says which webhooks it sends, and ends the deliveries that no instance
 * sends any more. An instance not heard of for SENDER_LIVE_MS (three renewals) is taken for gone: its
 * webhooks' deliveries wait that long for it to come back (a restart) before they end as failed.
 */
const RENEW_MS = 10_000;
export const SENDER_LIVE_MS = 30_000;

/**
 * Whether a round done every RENEW_MS, checked on a timer ticking every `tickMs`, is due. A round
 * stamps itself a little after its tick fires, so a strict RENEW_MS would find the next tick a few ms
 * short and wait a whole tick more: an instance without webhooks, ticking every RENEW_MS, swept every
 * 20 s instead of 10. Within half a tick of due counts as due.
 */
export function roundDue(now: number, lastAt: number, tickMs: number): boolean {
  return now - lastAt >= RENEW_MS - tickMs / 2;
}

/** Why a failed attempt is retried: the receiver may be down, overloaded or slow. A 4xx other than these will not change. */
function retryable(status: number | null): boolean {
  return status === null || status === 408 || status === 429 || status >= 500;
}

export function retryDelayMs(attempts: number): number | undefined {
  if (attempts >= MAX_ATTEMPTS) return undefined;
  return BASE_DELAY_MS * 2 ** (attempts - 1);
}

/**
 * Webhooks for the events people must hear of. `notify` only queues: it writes the event to the
 * outbox in the background and returns at once, so no call, flip or approval waits on a receiver.
 * Any instance delivers what is due, retrying with backoff, and keeps every failure.
 */
export class Notifier {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Delivery rounds never overlap; a kick during one runs one more round after it (see Reloader). */
  private readonly rounds = new Reloader(() =>
    this.sendDue().catch((err: unknown) => this.options.logger.warn({ err: message(err) }, "webhook delivery round failed; retried on the next")),
  );
  /** Deliveries under way, by webhook name. */
  private readonly inFlight = new Map<string, number>();
  /**
   * Ends deliveries still out when the instance closes; their locks run out and they are sent again.
   * A Cancellation, not an AbortController: each attempt out listens to it, up to 16 per webhook, and
   * Node warns of a "possible memory leak" on the gateway's stderr past 10 listeners on one AbortSignal.
   */
  private readonly stopping = new Cancellation();
  private readonly sending = new Set<Promise<void>>();
  private readonly queueing = new Set<Promise<void>>();
  /** This instance among the senders (see webhook_senders). */
  private readonly instance = newId("sender");
  private renewedAt = Number.NEGATIVE_INFINITY;
  private sweptAt = Number.NEGATIVE_INFINITY;
  /** How often the timer kicks a round: the poll interval when this instance sends, else RENEW_MS. */
  private tickMs = RENEW_MS;
  private readonly retention: DeliveryRetention;

  constructor(private readonly options: NotifierOptions) {
    this.retention = new DeliveryRetention({ db: options.db, logger: options.logger, retentionDays: options.retentionDays ?? 30 });
  }

  /**
   * Says which webhooks this instance sends before it can queue any delivery, so that no other instance
   * takes that delivery for one nobody sends. An instance with none still ends such deliveries, slowly.
   */
  async start(): Promise<void> {
    const sends = this.options.webhooks.length > 0;
    // The embedded store belongs to this process: the senders it names were processes that are gone, and
    // what only they sent, nobody will; it ends at this start instead of 30 s later.
    if (!this.shared()) await forgetSenders(this.options.db);
    if (sends) await this.renew();
    this.tickMs = sends ? (this.options.pollIntervalMs ?? 1_000) : RENEW_MS;
    this.timer = setInterval(() => this.kick(), this.tickMs);
    this.timer.unref();
    this.kick();
    this.retention.start();
  }

  /** Queues the event for every webhook that listens for it. Never throws, never waits. */
  notify(type: NotificationEvent, data: Record<string, unknown>): void {
    const rows = this.deliveriesOf(envelope(type, data), () => newId("dlv"));
    if (rows.length === 0 || this.closed) return;
    const queued = enqueueDeliveries(this.options.db, rows).then(
      () => this.kick(),
      (err: unknown) => this.options.logger.error({ err: message(err), event: type }, "could not queue a webhook event"),
    );
    // Written before the store closes: an event raised while the gateway stops is sent by the next one.
    this.queueing.add(queued);
    void queued.finally(() => this.queueing.delete(queued));
  }

  /** One delivery of the event to each webhook that listens for it, in that webhook's format. */
  private deliveriesOf(event: EventEnvelope, idFor: (webhook: string) => string): NewDelivery[] {
    return this.options.webhooks
      .filter((hook) => !hook.events || hook.events.includes(event.type))
      .map((hook) => ({ id: idFor(hook.name), eventId: event.id, webhook: hook.name, event: event.type, body: bodyFor(hook.format, event) }));
  }

  /** Sends what is due now. */
  private kick(): void {
    if (!this.closed) void this.rounds.reload();
  }

  /** Claims what is due for each webhook and sends it, each delivery on its own: a receiver that hangs holds up only its own. */
  private async sendDue(): Promise<void> {
    if (this.closed) return;
    const sends = this.options.webhooks.length > 0;
    if (sends && roundDue(Date.now(), this.renewedAt, this.tickMs)) await this.renew();
    // Without webhooks, on a store of its own, nothing can become unsendable after the start: the idle store is left alone.
    const sweep = sends || this.shared() || this.sweptAt === Number.NEGATIVE_INFINITY;
    if (sweep && roundDue(Date.now(), this.sweptAt, this.tickMs)) await this.endUnsendable();
    if (!sends) return;
    await this.fanOut();
    // Only this instance's own webhooks: another's deliveries (a rolling deploy adding or removing one) wait for it.
    for (const hook of this.options.webhooks) await this.sendDueTo(hook.name);
  }

  private shared(): boolean {
    return this.options.sharedStore?.() ?? true;
  }

  private async renew(): Promise<void> {
    await renewSender(this.options.db, this.instance, this.options.webhooks.map((hook) => hook.name), SENDER_LIVE_MS);
    this.renewedAt = Date.now();
  }

  /** Deliveries queued for a webhook that no running instance has any more: each ends failed, saying why. */
  private async endUnsendable(): Promise<void> {
    this.sweptAt = Date.now();
    const ended = await endUnsendable(this.options.db, EVERY_WEBHOOK, SENDER_LIVE_MS);
    if (ended.length === 0) return;
    const webhooks = [...new Set(ended.map((row) => row.webhook))];
    this.options.logger.warn({ webhooks, deliveries: ended.length }, "webhook deliveries ended: no running instance has their webhook configured");
  }

  /**
   * Turns each event queued for every webhook (see queueForEveryWebhook) into one delivery per webhook
   * that listens. The deliveries' ids come from the event's row, so an instance that dies half way
   * leaves nothing that the next one to take the row would queue twice.
   */
  private async fanOut(): Promise<void> {
    while (!this.closed) {
      const queued = await claimDeliveries(this.options.db, EVERY_WEBHOOK, MAX_IN_FLIGHT, LOCK_MS);
      if (queued.length === 0) return;
      for (const row of queued) {
        await enqueueDeliveries(this.options.db, this.deliveriesOf(row.body as EventEnvelope, (webhook) => `${row.id}.${webhook}`));
        await removeDelivery(this.options.db, row.id);
      }
    }
  }

  private async sendDueTo(webhook: string): Promise<void> {
    for (;;) {
      const free = MAX_IN_FLIGHT - (this.inFlight.get(webhook) ?? 0);
      if (this.closed || free <= 0) return;
      const due = await claimDeliveries(this.options.db, webhook, free, LOCK_MS);
      if (due.length === 0) return;
      this.inFlight.set(webhook, (this.inFlight.get(webhook) ?? 0) + due.length);
      for (const delivery of due) {
        const sending = this.settle(delivery).finally(() => {
          this.sending.delete(sending);
          this.inFlight.set(webhook, (this.inFlight.get(webhook) ?? 1) - 1);
          this.kick();
        });
        this.sending.add(sending);
      }
    }
  }

  /** One attempt, recorded; never throws. */
  private settle(delivery: ClaimedDelivery): Promise<void> {
    return this.send(delivery).catch((err: unknown) =>
      this.options.logger.warn({ err: message(err), delivery: delivery.id }, "could not record a webhook attempt; it is retried when its lock runs out"),
    );
  }

  private async send(delivery: ClaimedDelivery): Promise<void> {
    // Claimed by its name among this instance's webhooks, so it is one of them.
    const hook = this.options.webhooks.find((h) => h.name === delivery.webhook)!;
    const { status, error, retryAfterMs } = await attempt(hook, delivery, this.options.timeoutMs ?? 5_000, this.stopping);
    // Cut off by this instance closing: handed back as it was, for the next instance to send at once.
    if (status === null && this.stopping.aborted) return releaseDelivery(this.options.db, delivery.id);
    if (error === undefined) return markDelivered(this.options.db, delivery.id, status!);
    const backoff = retryable(status) ? retryDelayMs(delivery.attempts) : undefined;
    // A receiver that asks for a pause (Slack's 429) gets it, within bounds, instead of being asked again in a second.
    const retryIn = backoff === undefined || retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
    if (retryIn === undefined) this.options.logger.error({ webhook: hook.name, event: delivery.event, delivery: delivery.id, err: error }, "webhook delivery failed for good");
    await markAttemptFailed(this.options.db, delivery.id, error, status, retryIn);
  }

  /** The newest deliveries, with their attempts and last error, a page at a time. */
  deliveries(query: DeliveryQuery): Promise<DeliveryPage> {
    return deliveryPage(this.options.db, query);
  }

  /** Queues a failed delivery again (see resendFailed); this instance sends it at once if the webhook is its own. */
  async resend(id: string, by: { keyId: string; kind: string }): Promise<WebhookDeliveryRow> {
    const resent = await resendFailed(this.options.db, id, by, EVERY_WEBHOOK, SENDER_LIVE_MS);
    this.kick();
    return resent;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.stopping.abort(new DOMException("the instance is closing", "AbortError"));
    await this.retention.close();
    // Waits for a round under way; the round asked for after it finds the notifier closed and ends at once.
    await this.rounds.reload();
    // And for the attempts just cut off to hand their deliveries back, and the events still being
    // queued, while the store is still open.
    await Promise.allSettled([...this.sending, ...this.queueing]);
  }
}

interface EventEnvelope {
  id: string;
  type: NotificationEvent;
  ts: string;
  data: Record<string, unknown>;
}

function envelope(type: NotificationEvent, data: Record<string, unknown>): EventEnvelope {
  return { id: newId("evt"), type, ts: new Date().toISOString(), data };
}

/** The webhook name of an event queued for every webhook; no configured name can be it. */
export const EVERY_WEBHOOK = "*";

/**
 * Queues an event from a process that does not know the gateways' webhooks: the CLI writing to the
 * store itself. The first gateway with webhooks to see it queues one delivery per webhook that listens.
 */
export async function queueForEveryWebhook(db: Db, type: NotificationEvent, data: Record<string, unknown>): Promise<void> {
  const event = envelope(type, data);
  await enqueueDeliveries(db, [{ id: newId("dlv"), eventId: event.id, webhook: EVERY_WEBHOOK, event: type, body: event }]);
}

/** What `kill_switch.flipped` tells, wherever the flip was made. */
export function killSwitchFlipped(flip: { active: boolean; operation?: string; reason: string }, by: string): Record<string, unknown> {
  return { active: flip.active, scope: flip.operation ? `operation:${flip.operation}` : "global", reason: flip.reason, by };
}

/**
 * The generic JSON envelope, or a chat message: Slack reads `text`, Discord reads `content`. Values in
 * the line (a kill switch's reason, names) are written by people, and must not ping a channel: Slack
 * reads `<!channel>` and `<@U…>` in text unless `& < >` are escaped, and Discord parses no mention
 * that `allowed_mentions` leaves out.
 */
function bodyFor(format: WebhookConfig["format"], event: EventEnvelope): unknown {
  if (format === "json") return event;
  const text = summary(event);
  if (format === "slack") return { text: text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;") };
  return { content: text, allowed_mentions: { parse: [] } };
}

function summary({ type, data }: EventEnvelope): string {
  const d = data as Record<string, string | undefined>;
  switch (type) {
    case "budget.warning":
      return `Airlock: budget "${d.budget}" has spent $${d.spent} of $${d.limit} this window (warning threshold passed).`;
    case "budget.exhausted":
      return `Airlock: budget "${d.budget}" ($${d.limit}) is used up; calls under it are refused until ${d.windowEnd}.`;
    case "kill_switch.flipped":
      return `Airlock: kill switch ${d.active ? "ON" : "off"} for ${d.scope === "global" ? "all calls" : d.scope} by ${d.by}: ${d.reason}`;
    case "approval.requested":
      return `Airlock: ${d.requestedBy} (${d.requestedByKind}) asks to apply a ${d.category} to ${d.kind} "${d.target}". Review: airlock approvals show ${d.id}`;
    case "change.applied":
      return `Airlock: change request ${d.id} (${d.category} of ${d.kind} "${d.target}") was approved by ${d.decidedBy} and applied.`;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
