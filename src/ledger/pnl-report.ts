import type { Db } from "../store/database.js";
import { ledgerSpendBetween, operatingCostsOverlapping, revenueOverlapping } from "../store/queries/finance.js";
import { profitAndLoss, type ProfitAndLoss } from "./pnl.js";

/** Reads what the profit-and-loss report needs for whole UTC days `from`..`to` (both included) and computes it. */
export async function loadProfitAndLoss(db: Db, from: string, to: string): Promise<ProfitAndLoss> {
  const end = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000);
  const [aiLedger, costs, revenue] = await Promise.all([ledgerSpendBetween(db, new Date(`${from}T00:00:00Z`), end), operatingCostsOverlapping(db, from, to), revenueOverlapping(db, from, to)]);
  return profitAndLoss({ from, to, aiLedger, costs, revenue });
}
