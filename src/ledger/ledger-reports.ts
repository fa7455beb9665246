import type { Db } from "../store/database.js";
import { fallbacksBy, reconcileBy, recentLedgerRows, spendBy, type FallbackLine, type ReconciliationLine, type SpendGroup, type SpendLine } from "../store/queries/ledger.js";
import type { LedgerRow } from "../store/schema/ledger.js";
import type { AirlockConfig } from "../config/schema.js";
import { isFiltered, type LedgerFilters } from "../store/queries/ledger-filters.js";
import { latencySince, narrowedOverview, outcomesSince, TOP_DIMENSIONS, type TopDimension } from "../store/queries/overview.js";
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
    const top10 = (top: Record<TopDimension, SpendLine[]>) => Object.fromEntries(TOP_DIMENSIONS.map((by) => [by, top[by].slice(0, TOP_LINES)])) as Record<TopDimension, SpendLine[]>;
    if (isFiltered(filters)) {
      const narrowed = await narrowedOverview(this.db, since, filters);
      return buildOverview({ since, filters, ...narrowed, top: top10(narrowed.top), slo });
    }
    const [outcomes, histograms, ...tops] = await Promise.all([
      outcomesSince(this.db, since),
      latencySince(this.db, since),
      ...TOP_DIMENSIONS.map((by) => spendBy(this.db, by, since)),
    ]);
    const top = Object.fromEntries(TOP_DIMENSIONS.map((by, i) => [by, tops[i] ?? []])) as Record<TopDimension, SpendLine[]>;
    return buildOverview({ since, filters, outcomes, histograms, top: top10(top), slo });
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
