import { cpuCheckPrefix, ttfbCheckName } from "./report.js";
import { cellsOf, checksOf, checkValue } from "./report-reader.js";

/**
 * Puts a bench run's worst cells into docs/performance-runs.md: one column of the table that follows
 * each target over the runs, read from the checks of the run's `latest.md`. The column goes before the
 * table's last one (the targets); a run published again has its column rewritten, not added twice.
 */

/** How the table's header begins. */
export const WORST_TABLE_START = "| ratio, worst cell |";

const PGLITE = "airlock (PGlite)";
const POSTGRES = "airlock (PostgreSQL)";
const WORKERS = "airlock (PostgreSQL, 2 workers)";

/** Each row of the table, and how the check it shows begins in the report. */
const ROWS: Record<string, string> = {
  "PGlite CPU per call vs proxy": cpuCheckPrefix(PGLITE, "proxy"),
  "PGlite CPU per call vs Portkey": cpuCheckPrefix(PGLITE, "portkey"),
  "PostgreSQL CPU per call vs proxy": cpuCheckPrefix(POSTGRES, "proxy"),
  "PostgreSQL CPU per call vs Portkey": cpuCheckPrefix(POSTGRES, "portkey"),
  "2 workers CPU per call vs proxy": cpuCheckPrefix(WORKERS, "proxy"),
  "2 workers CPU per call vs Portkey": cpuCheckPrefix(WORKERS, "portkey"),
  "2 workers stream TTFB added, 50 ms upstream": ttfbCheckName(WORKERS, 50),
};

export function addRunColumn(doc: string, latest: string): string {
  const heading = runHeading(latest);
  const measured = checksOf(latest);
  const lines = doc.split("\n");
  const first = lines.findIndex((line) => line.startsWith(WORST_TABLE_START));
  if (first < 0) throw new Error(`the page has no table that begins "${WORST_TABLE_START}"`);
  const end = lines.findIndex((line, i) => i > first && !line.startsWith("|"));
  const table = lines.slice(first, end < 0 ? lines.length : end).map(cellsOf);
  const header = table[0] ?? [];
  const existing = header.indexOf(heading);
  const at = existing >= 0 ? existing : header.length - 1;
  const rows = table.map((cells, i) => {
    const value = i === 0 ? heading : i === 1 ? "---" : valueFor(cells[0] ?? "", measured);
    return [...cells.slice(0, at), value, ...cells.slice(existing >= 0 ? at + 1 : at)];
  });
  // The separator line is written as the page writes it, without spaces.
  lines.splice(first, table.length, ...rows.map((cells, i) => (i === 1 ? `|${cells.join("|")}|` : `| ${cells.join(" | ")} |`)));
  return lines.join("\n");
}

/** "19:29 (12-06, Xeon)" for a run of 2026-12-06 19:29 UTC on a Xeon host. */
export function runHeading(latest: string): string {
  const date = /^# Airlock bench, \d{4}-(\d\d-\d\d) (\d\d:\d\d) UTC$/m.exec(latest);
  const machine = /^Machine: \d+ × (.*?), /m.exec(latest)?.[1];
  if (!date || machine === undefined) throw new Error("latest.md has no date or machine in its header");
  const family = /Xeon|EPYC|Ryzen|Core|Graviton|Ampere/.exec(machine)?.[0] ?? machine;
  return `${date[2]} (${date[1]}, ${family})`;
}

function valueFor(row: string, measured: Map<string, string>): string {
  const prefix = ROWS[row];
  if (prefix === undefined) throw new Error(`the worst-cell table's row "${row}" names no check bench:publish knows`);
  return checkValue(measured, prefix);
}
