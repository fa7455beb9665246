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

/** A spend report as CSV (RFC 4180): one line per group, cost as the exact decimal, then the total. */
export function spendCsv(by: string, lines: readonly SpendLine[]): string {
  const rows = [[by, "requests", "errors", "input_tokens", "output_tokens", "cost_usd"]];
  for (const l of lines) rows.push([l.group, String(l.requests), String(l.errors), String(l.inputTokens), String(l.outputTokens), l.cost]);
  rows.push(["(total)", "", "", "", "", totalCost(lines)]);
  return rows.map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** Quoted only when it must be; a leading = + - @ is defused so a spreadsheet never runs it as a formula. */
function csvField(value: string): string {
  const safe = /^[=+\-@]/.test(value) && !/^-?\d+(\.\d+)?$/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
