import { airlockTargetName, cpuCheckPrefix, ttfbCheckName } from "./report.js";
import { checkNamed, checksOf, reportHeader, rewriteTable } from "./report-reader.js";

/**
 * Puts a bench run's worst cells into docs/performance-runs.md: one column of the table that follows
 * each target over the runs, read from the checks of the run's `latest.md`. The column goes before the
 * table's last one (the targets); a run published again has its column rewritten, not added twice.
 */

/** How the table's header begins. */
export const WORST_TABLE_START = "| ratio, worst cell |";

const PGLITE = airlockTargetName("pglite");
const POSTGRES = airlockTargetName("postgres");
const WORKERS = airlockTargetName("postgres", 2);

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
  return rewriteTable(doc, WORST_TABLE_START, (table) => {
    const existing = table[0]?.indexOf(heading) ?? -1;
    const at = existing >= 0 ? existing : (table[0]?.length ?? 1) - 1;
    return table.map((cells, i) => {
      const value = i === 0 ? heading : i === 1 ? "---" : valueFor(cells[0] ?? "", measured);
      return [...cells.slice(0, at), value, ...cells.slice(existing >= 0 ? at + 1 : at)];
    });
  });
}

/** "19:29 (12-06, Xeon)" for a run of 2026-12-06 19:29 UTC on a Xeon host. */
export function runHeading(latest: string): string {
  const { date, machine } = reportHeader(latest);
  const day = date && /^\d{4}-(\d\d-\d\d) (\d\d:\d\d) UTC$/.exec(date);
  const processor = machine && /^\d+ × (.*?), /.exec(machine)?.[1];
  if (!day || !processor) throw new Error("latest.md has no date or machine in its header");
  const family = /Xeon|EPYC|Ryzen|Core|Graviton|Ampere/.exec(processor)?.[0] ?? processor;
  return `${day[2]} (${day[1]}, ${family})`;
}

function valueFor(row: string, measured: Map<string, string>): string {
  const prefix = ROWS[row];
  if (prefix === undefined) throw new Error(`the worst-cell table's row "${row}" names no check bench:publish knows`);
  return checkNamed(measured, prefix).value;
}
