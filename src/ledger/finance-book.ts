import { parseRequest } from "../config/load.js";
import { newId } from "../core/ids.js";
import type { Db } from "../store/database.js";
import { insertOperatingCost, insertRevenue } from "../store/queries/finance.js";
import type { OperatingCostRow, RevenueRow } from "../store/schema/finance.js";
import { loadProfitAndLoss } from "./pnl-report.js";
import { operatingCostInput, revenueInput, type ProfitAndLoss } from "./pnl.js";

/** Costs outside AI and revenue, entered by admins, and the profit-and-loss report that combines them with the ledger. */
export class FinanceBook {
  constructor(
    private readonly db: Db,
    /** Writes pending ledger rows, so that the report reads every call made. */
    private readonly flushLedger: () => Promise<void>,
  ) {}

  addOperatingCost(input: unknown, by: string): Promise<OperatingCostRow> {
    const entry = parseRequest(operatingCostInput, input, "operating cost");
    return insertOperatingCost(this.db, { id: newId("opex"), ...entry, description: entry.description ?? null, createdBy: by });
  }

  addRevenue(input: unknown, by: string): Promise<RevenueRow> {
    const entry = parseRequest(revenueInput, input, "revenue");
    return insertRevenue(this.db, { id: newId("rev"), ...entry, description: entry.description ?? null, createdBy: by });
  }

  /** Profit and loss over whole UTC days, `from` and `to` included. */
  async profitAndLoss(from: string, to: string): Promise<ProfitAndLoss> {
    await this.flushLedger();
    return loadProfitAndLoss(this.db, from, to);
  }
}
