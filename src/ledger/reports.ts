import { Money, formatCost } from "./pricing.js";
import type { FallbackLine, SpendLine } from "../store/queries/ledger.js";

/** Sums report lines exactly. */
export function totalCost(lines: readonly SpendLine[]): string {
  return formatCost(lines.reduce((sum, line) => sum.add(line.cost), new Money(0)));
}

export interface FallbackReportLine extends FallbackLine {
  /** Share of calls that moved past their first candidate, 0..1. */
  fallbackRate: number;
  /** Share of calls that failed, 0..1. */
  errorRate: number;
}

export interface FallbackReport {
  since: string;
  calls: number;
  fallbackRate: number;
  errorRate: number;
  lines: FallbackReportLine[];
}

/** Rates are ratios for people to read, rounded to four places; the counts beside them are exact. */
export function fallbackReport(lines: readonly FallbackLine[], since: Date): FallbackReport {
  const ratio = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 10_000);
  const calls = lines.reduce((n, l) => n + l.calls, 0);
  return {
    since: since.toISOString(),
    calls,
    fallbackRate: ratio(lines.reduce((n, l) => n + l.fellBack, 0), calls),
    errorRate: ratio(lines.reduce((n, l) => n + l.errors, 0), calls),
    lines: lines.map((l) => ({ ...l, fallbackRate: ratio(l.fellBack, l.calls), errorRate: ratio(l.errors, l.calls) })),
  };
}
