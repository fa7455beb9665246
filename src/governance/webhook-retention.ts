import type { Logger } from "../core/logger.js";
import type { Db } from "../store/database.js";
import { pruneDeliveries } from "../store/queries/webhooks.js";

export interface RetentionOptions {
  db: Db;
  logger: Logger;
  /** Deliveries that ended (delivered or failed) are deleted this many days after they were queued. */
  retentionDays: number;
  /** Every how often this instance looks for deliveries past their retention. */
  intervalMs?: number;
}

/** Deliveries deleted per statement: each one holds its rows' locks only briefly. */
const BATCH = 500;
/** The pause between two batches of one pass, so that pruning a large backlog never crowds out deliveries. */
const BATCH_PAUSE_MS = 50;
const INTERVAL_MS = 10 * 60_000;
/** The advisory lock instances take turns on ("Whrp" in ASCII); distinct from the migrations' lock. */
const PRUNE_LOCK = 0x57687270;

/**
 * Keeps the outbox from growing for ever: in the background, on a timer of its own and never from a
 * call, deliveries that ended are deleted once past the retention, oldest first, a small batch at a
 * time. Instances sharing PostgreSQL (and a gateway's workers) take turns through an advisory lock: an
 * instance that finds another pruning leaves the pass to it until its next interval.
 */
export class DeliveryRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: RetentionOptions) {}

  /** A first pass now (what piled up while no instance ran), then one every interval. */
  start(): void {
    this.timer = setInterval(() => this.pass(), this.options.intervalMs ?? INTERVAL_MS);
    this.timer.unref();
    this.pass();
  }

  private pass(): void {
    if (this.closed || this.running) return;
    this.running = this.prune()
      .catch((err: unknown) => this.options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, "could not prune webhook deliveries; tried again later"))
      .finally(() => (this.running = undefined));
  }

  private async prune(): Promise<void> {
    let deleted = 0;
    while (!this.closed) {
      const batch = await pruneDeliveries(this.options.db, this.options.retentionDays, BATCH, PRUNE_LOCK);
      if (batch === undefined) break; // another instance is pruning
      deleted += batch;
      if (batch < BATCH) break;
      await new Promise((resolve) => setTimeout(resolve, BATCH_PAUSE_MS));
    }
    if (deleted > 0) this.options.logger.info({ deliveries: deleted, retentionDays: this.options.retentionDays }, "webhook deliveries past their retention deleted");
  }

  /** Stops the timer and waits for the batch under way, while the store is still open. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.running;
  }
}
