import type { Db } from "../store/database.js";
import { fallbacksBy, reconcileBy, recentLedgerRows, spendBy, type FallbackLine, type ReconciliationLine, type SpendGroup, type SpendLine } from "../store/queries/ledger.js";
import type { LedgerRow } from "../store/schema/ledger.js";
import { spendSeries, type SeriesDimension, type SeriesGrain, type SeriesPoint } from "../store/queries/spend-series.js";

/** Reports over the ledger. They read what is written: pending rows are flushed first. */
export class LedgerReports {
  constructor(
    private readonly db: Db,
    private readonly flushLedger: () => Promise<void>,
  ) {}

  async reconciliation(since: Date): Promise<ReconciliationLine[]> {
    await this.flushLedger();
    return reconcileBy(this.db, since);
  }

  async fallbackReport(since: Date): Promise<FallbackLine[]> {
    await this.flushLedger();
    return fallbacksBy(this.db, since);
  }

  async spend(by: SpendGroup, since: Date): Promise<SpendLine[]> {
    await this.flushLedger();
    return spendBy(this.db, by, since);
  }

  async recentCalls(limit: number): Promise<LedgerRow[]> {
    await this.flushLedger();
    return recentLedgerRows(this.db, limit);
  }

  /** Spend per hour or day, split by one dimension: the dashboard's stacked chart. */
  async spendSeries(by: SeriesDimension, grain: SeriesGrain, since: Date): Promise<SeriesPoint[]> {
    await this.flushLedger();
    return spendSeries(this.db, by, grain, since);
  }
}
