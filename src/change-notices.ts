import type { Logger } from "./core/logger.js";
import type { ChangeKind } from "./governance/change-control.js";
import type { Database } from "./store/database.js";
import { CHANGES_CHANNEL, type Unlisten } from "./store/notices.js";

/** What a change notice says changed; each area has one reload. */
export type ChangeArea = "kill_switch" | "toggles" | "budgets" | "rate_limits" | "grants" | "routes" | "keys" | "prices" | "directives";

/** The area each kind of change request touches. */
export const CHANGE_AREA_OF = { route: "routes", price: "prices", budget: "budgets", toggle: "toggles", grant: "grants" } as const satisfies Record<ChangeKind, ChangeArea>;

/**
 * Tells every instance what changed, and reloads what other instances say changed. Areas reload in the
 * order they were registered: the kill switch first, the one change that must land within a second.
 */
export class ChangeNotices {
  private readonly reloads: Array<[ChangeArea, () => Promise<void>]> = [];

  constructor(
    private readonly database: Database,
    private readonly logger: Logger,
  ) {}

  on(area: ChangeArea, reload: () => Promise<void>): void {
    this.reloads.push([area, reload]);
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

  /** Reloads one area, or every area for `all` (after a reconnect, when notices may have been missed). */
  async reload(what: string): Promise<void> {
    try {
      for (const [area, reload] of this.reloads) if (what === area || what === "all") await reload();
    } catch (err) {
      this.logger.warn({ err, what }, "reload after a change notice failed; the next notice or reconnect retries it");
    }
  }
}
