import type { Db } from "../store/database.js";
import { fallbacksBy, reconcileBy, recentLedgerRows, spendBy, type FallbackLine, type ReconciliationLine, type SpendGroup, type SpendLine } from "../store/queries/ledger.js";
import type { LedgerRow } from "../store/schema/ledger.js";
import type { AirlockConfig } from "../config/schema.js";
import { isFiltered, type LedgerFilters } from "../store/queries/ledger-filters.js";
import { latencySince, narrowedOverview, outcomesSince, type TopDimension } from "../store/queries/overview.js";
import { buildOverview, TOP_LINES, type Overview } from "./overview.js";
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

  async spend(by: SpendGroup, since: Date, filters?: LedgerFilters): Promise<SpendLine[]> {
    await this.flushLedger();
    return spendBy(this.db, by, since, filters);
  }

  /** Everything the dashboard's overview shows: from the rollups, or narrowed by filters from the ledger's indexes. */
  async overview(since: Date, filters: LedgerFilters, slo: AirlockConfig["dashboard"]["slo"]): Promise<Overview> {
    await this.flushLedger();
    if (isFiltered(filters)) return buildOverview({ since, filters, ...(await narrowedOverview(this.db, since, filters, TOP_LINES)), slo });
    const top = (by: TopDimension) => spendBy(this.db, by, since, undefined, TOP_LINES);
    const [outcomes, histograms, operation, model, user, key] = await Promise.all([outcomesSince(this.db, since), latencySince(this.db, since), top("operation"), top("model"), top("user"), top("key")]);
    return buildOverview({ since, filters, outcomes, histograms, top: { operation, model, user, key }, slo });
  }

  async recentCalls(limit: number, filters?: LedgerFilters): Promise<LedgerRow[]> {
    await this.flushLedger();
    return recentLedgerRows(this.db, limit, filters);
  }

  /** Spend per hour or day, split by one dimension: the dashboard's stacked chart. */
  async spendSeries(by: SeriesDimension, grain: SeriesGrain, since: Date, filters?: LedgerFilters): Promise<SeriesPoint[]> {
    await this.flushLedger();
    return spendSeries(this.db, by, grain, since, filters);
  }
}
