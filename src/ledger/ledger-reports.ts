import type { Db } from "../store/database.js";
import { fallbacksBy, reconcileBy, recentLedgerRows, spendBy, type FallbackLine, type ReconciliationLine, type SpendGroup, type SpendLine } from "../store/queries/ledger.js";
import type { LedgerRow } from "../store/schema/ledger.js";
import type { AirlockConfig } from "../config/schema.js";
import type { LedgerFilters } from "../store/queries/ledger-filters.js";
import { latencySince, outcomesSince } from "../store/queries/overview.js";
import { buildOverview, TOP_DIMENSIONS, TOP_LINES, type Overview, type TopDimension } from "./overview.js";
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

  /** Everything the dashboard's overview shows, from the rollups (unfiltered) or the ledger's indexes (filtered). */
  async overview(since: Date, filters: LedgerFilters, slo: AirlockConfig["dashboard"]["slo"]): Promise<Overview> {
    await this.flushLedger();
    const [outcomes, histograms, ...tops] = await Promise.all([
      outcomesSince(this.db, since, filters),
      latencySince(this.db, since, filters),
      ...TOP_DIMENSIONS.map((by) => spendBy(this.db, by, since, filters)),
    ]);
    const top = Object.fromEntries(TOP_DIMENSIONS.map((by, i) => [by, (tops[i] ?? []).slice(0, TOP_LINES)])) as Record<TopDimension, SpendLine[]>;
    return buildOverview({ since, filters, outcomes, histograms, top, slo });
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
