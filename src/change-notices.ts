import type { Logger } from "./core/logger.js";
import type { ChangeKind } from "./governance/change-control.js";
import type { Database } from "./store/database.js";
import { CHANGES_CHANNEL, type Unlisten } from "./store/notices.js";

/** What a change notice says changed; each area has one reload. */
export type ChangeArea = "kill_switch" | "toggles" | "budgets" | "rate_limits" | "grants" | "routes" | "keys" | "prices" | "directives";

/** The area each kind of change request touches. */
export const CHANGE_AREA_OF = { route: "routes", price: "prices", budget: "budgets", toggle: "toggles", grant: "grants" } as const satisfies Record<ChangeKind, ChangeArea>;

/** After a failed reload, the first retry waits this long; each failure after it doubles the wait, up to RETRY_MAX_MS. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5_000;

/**
 * Tells every instance what changed, and reloads what other instances say changed. Areas reload in the
 * order they were registered: the kill switch first, the one change that must land within a second.
 * A reload that fails is tried again until it succeeds: no second notice may ever come, and a change
 * missed so (a revoked key) would stand on this instance for good.
 */
export class ChangeNotices {
  private readonly reloads: Array<[ChangeArea, () => Promise<void>]> = [];
  /** Areas whose last reload failed, waiting for their retry. */
  private readonly failed = new Set<ChangeArea>();
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private closed = false;

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
  ) {}

  on(area: ChangeArea, reload: () => Promise<void>): void {
    this.reloads.push([area, reload]);
  }

  /** `on` for each area, in the object's order, which is the order a reload of `all` runs them in. */
  onEach(reloads: Record<ChangeArea, () => Promise<void>>): void {
    for (const [area, reload] of Object.entries(reloads) as Array<[ChangeArea, () => Promise<void>]>) this.on(area, reload);
  }

  /** Starts listening; from then on no change can fall between a read and the listen. */
  listen(): Promise<Unlisten> {
    return this.database.listen(CHANGES_CHANNEL, {
      notice: (payload) => void this.reload(payload),
      reconnected: () => void this.reload("all"),
    });
  }

  async announce(area: ChangeArea): Promise<void> {
    try {
      await this.database.notify(CHANGES_CHANNEL, area);
    } catch (err) {
      this.logger.warn({ err, what: area }, "could not announce a change; other instances pick it up on their next reload");
    }
  }

  /**
   * Reloads one area, or every area for `all` (after a reconnect, when notices may have been missed).
   * One area failing does not keep the others from reloading; the failed ones are retried.
   */
  async reload(what: string): Promise<void> {
    const failures: ChangeArea[] = [];
    let firstError: unknown;
    for (const [area, reload] of this.reloads) {
      if (what !== area && what !== "all") continue;
      try {
        await reload();
        this.failed.delete(area);
      } catch (err) {
        firstError ??= err;
        failures.push(area);
        this.failed.add(area);
      }
    }
    if (failures.length === 0) return;
    this.logger.warn({ err: firstError, what: failures.join(",") }, "reload after a change notice failed; retrying until it succeeds");
    this.retryLater();
  }

  /** Stops the retries (the plane is closing). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const areas = [...this.failed];
      this.failed.clear();
      void this.retry(areas);
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private async retry(areas: ChangeArea[]): Promise<void> {
    let failing = false;
    for (const area of areas) {
      for (const [registered, reload] of this.reloads) {
        if (registered !== area) continue;
        try {
          await reload();
        } catch {
          failing = true;
          this.failed.add(area);
        }
      }
    }
    this.retryMs = failing ? Math.min(this.retryMs * 2, RETRY_MAX_MS) : RETRY_MIN_MS;
    if (failing || this.failed.size > 0) this.retryLater();
  }
}
