import { z } from "zod";
import { moneyAmount } from "../config/bounds.js";
import { EARLIEST_DATE, LATEST_DATE, parseDay } from "../core/duration.js";
import { AirlockError } from "../core/errors.js";
import { formatCost, Money } from "./pricing.js";

export const COST_CATEGORIES = ["ai_inference", "vm", "api_service", "other"] as const;
export type CostCategory = (typeof COST_CATEGORIES)[number];

/** An amount for a period of whole UTC days, both ends included. */
export interface PeriodAmount {
  amount: string;
  periodStart: string;
  periodEnd: string;
}

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date such as 2026-11-01")
  .refine((d) => parseDay(d) !== undefined, `not a calendar date from ${EARLIEST_DATE} to ${LATEST_DATE}`);
const usd = moneyAmount({ example: "120.50" });
const period = { amount: usd, periodStart: day, periodEnd: day, description: z.string().max(500).optional() };
const inOrder = (e: { periodStart: string; periodEnd: string }) => e.periodStart <= e.periodEnd;

export const operatingCostInput = z.strictObject({ category: z.enum(COST_CATEGORIES), ...period }).refine(inOrder, { message: "periodEnd is before periodStart", path: ["periodEnd"] });
export const revenueInput = z.strictObject({ strategy: z.string().min(1).max(200), ...period }).refine(inOrder, { message: "periodEnd is before periodStart", path: ["periodEnd"] });

export interface ProfitAndLoss {
  from: string;
  to: string;
  revenue: { total: string; byStrategy: Record<string, string> };
  costs: {
    /** What the ledger recorded for AI calls through Airlock in the window. */
    aiLedger: string;
    /** Operating costs entered by category, the share that falls in the window. */
    byCategory: Record<CostCategory, string>;
    total: string;
  };
  /** revenue − costs; negative is a loss. */
  profit: string;
  /** profit ÷ revenue, rounded to four places; null without revenue. */
  margin: number | null;
  aiCalls: number;
}

const DAY_MS = 86_400_000;

/** Whole days from one UTC date to another, both included. */
export function daysBetween(start: string, end: string): number {
  return Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / DAY_MS) + 1;
}

/** The part of an amount that falls in [from, to]: spread evenly over its days, exact until the final rounding. */
export function shareInWindow(entry: PeriodAmount, from: string, to: string): Money {
  const start = entry.periodStart > from ? entry.periodStart : from;
  const end = entry.periodEnd < to ? entry.periodEnd : to;
  if (start > end) return new Money(0);
  return new Money(entry.amount).mul(daysBetween(start, end)).div(daysBetween(entry.periodStart, entry.periodEnd));
}

/**
 * Profit and loss over whole UTC days: the ledger's AI spend, operating costs and revenue, each entry
 * counted for the share of its period inside the window. Sums stay exact; each figure is rounded once.
 */
export function profitAndLoss(input: {
  from: string;
  to: string;
  aiLedger: { cost: string; calls: number };
  costs: ReadonlyArray<PeriodAmount & { category: CostCategory }>;
  revenue: ReadonlyArray<PeriodAmount & { strategy: string }>;
}): ProfitAndLoss {
  const { from, to } = input;
  const byCategory = Object.fromEntries(COST_CATEGORIES.map((c) => [c, new Money(0)])) as Record<CostCategory, Money>;
  for (const cost of input.costs) byCategory[cost.category] = byCategory[cost.category].add(shareInWindow(cost, from, to));
  const byStrategy = new Map<string, Money>();
  for (const entry of input.revenue) byStrategy.set(entry.strategy, (byStrategy.get(entry.strategy) ?? new Money(0)).add(shareInWindow(entry, from, to)));

  const revenueTotal = [...byStrategy.values()].reduce((sum, v) => sum.add(v), new Money(0));
  const costTotal = Object.values(byCategory).reduce((sum, v) => sum.add(v), new Money(input.aiLedger.cost));
  const profit = revenueTotal.sub(costTotal);
  return {
    from,
    to,
    revenue: { total: formatCost(revenueTotal), byStrategy: Object.fromEntries([...byStrategy].map(([k, v]) => [k, formatCost(v)])) },
    costs: {
      aiLedger: formatCost(new Money(input.aiLedger.cost)),
      byCategory: Object.fromEntries(COST_CATEGORIES.map((c) => [c, formatCost(byCategory[c])])) as Record<CostCategory, string>,
      total: formatCost(costTotal),
    },
    profit: formatCost(profit),
    margin: revenueTotal.isZero() ? null : profit.div(revenueTotal).toDecimalPlaces(4).toNumber(),
    aiCalls: input.aiLedger.calls,
  };
}

/** The report's days: `from`..`to`, both included; by default the 30 days up to today (UTC). */
export function reportWindow(fromText: string | null | undefined, toText: string | null | undefined, now = new Date()): { from: string; to: string } {
  if (fromText != null) calendarDay("from", fromText);
  // `to` is checked before the default `from` is worked out from it: a `to` that is no date has no day 29 days earlier.
  const to = toText ?? now.toISOString().slice(0, 10);
  const toDay = calendarDay("to", to);
  // The default starts no earlier than the first day a report covers: an early `to` is not blamed on a `from` the caller never sent.
  const from = fromText ?? new Date(Math.max(toDay.getTime() - 29 * DAY_MS, Date.parse(`${EARLIEST_DATE}T00:00:00Z`))).toISOString().slice(0, 10);
  if (from > to) throw new AirlockError("invalid_request", "from is after to", { param: "from" });
  return { from, to };
}

/** A `from` or `to` day, checked: a calendar date within the bounds every date keeps to. */
function calendarDay(param: "from" | "to", text: string): Date {
  const day = parseDay(text);
  if (!day) throw new AirlockError("invalid_request", `${param} must be a calendar date such as 2026-11-01, from ${EARLIEST_DATE} to ${LATEST_DATE}`, { param });
  return day;
}
