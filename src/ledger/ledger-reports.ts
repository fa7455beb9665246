import type { Db } from "../store/database.js";
import { fallbacksBy, reconcileBy, recentLedgerRows, spendBy, type FallbackLine, type ReconciliationLine, type SpendGroup, type SpendLine } from "../store/queries/ledger.js";
import type { LedgerRow } from "../store/schema/ledger.js";

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
}
