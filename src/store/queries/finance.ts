import { and, asc, gte, lt, lte, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { normalizeDecimal } from "./ledger.js";
import { ledger, operatingCosts, revenue, type OperatingCostRow, type RevenueRow } from "../schema/index.js";

export async function insertOperatingCost(db: Db, row: Omit<OperatingCostRow, "createdAt">): Promise<OperatingCostRow> {
  const [saved] = await db.insert(operatingCosts).values(row).returning();
  if (!saved) throw new Error("insert returned no row");
  return { ...saved, amount: normalizeDecimal(saved.amount) };
}

export async function insertRevenue(db: Db, row: Omit<RevenueRow, "createdAt">): Promise<RevenueRow> {
  const [saved] = await db.insert(revenue).values(row).returning();
  if (!saved) throw new Error("insert returned no row");
  return { ...saved, amount: normalizeDecimal(saved.amount) };
}

/** Entries whose period overlaps [from, to] (UTC dates, both included). */
export function operatingCostsOverlapping(db: Db, from: string, to: string): Promise<OperatingCostRow[]> {
  return db.select().from(operatingCosts).where(and(lte(operatingCosts.periodStart, to), gte(operatingCosts.periodEnd, from))).orderBy(asc(operatingCosts.periodStart));
}

export function revenueOverlapping(db: Db, from: string, to: string): Promise<RevenueRow[]> {
  return db.select().from(revenue).where(and(lte(revenue.periodStart, to), gte(revenue.periodEnd, from))).orderBy(asc(revenue.periodStart));
}

/** The ledger's exact spend between two instants, with the number of calls. */
export async function ledgerSpendBetween(db: Db, from: Date, toExclusive: Date): Promise<{ cost: string; calls: number }> {
  const [row] = await db
    .select({ cost: sql<string>`coalesce(sum(${ledger.cost}), 0)::text`, calls: sql<string>`count(*)` })
    .from(ledger)
    .where(and(gte(ledger.ts, from), lt(ledger.ts, toExclusive)));
  return { cost: String(row?.cost ?? "0"), calls: Number(row?.calls ?? 0) };
}
