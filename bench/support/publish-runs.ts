import type { BenchRun, CpuPeer, RunInfo } from "./report.js";
import { airlockTargetName, cpuAgainst, msText, ratioText, ttfbAddedMs } from "./report.js";
import { rewriteTable } from "./report-reader.js";

/**
 * Puts a bench run's worst cells into docs/performance-runs.md: one column of the table that follows
 * each target over the runs, worked out from the run's `latest.json` as its checks were. The column
 * goes before the table's last one (the targets); a run published again has its column rewritten,
 * not added twice.
 */

/** How the table's header begins. */
export const WORST_TABLE_START = "| ratio, worst cell |";

const PGLITE = airlockTargetName("pglite");
const POSTGRES = airlockTargetName("postgres");
const WORKERS = airlockTargetName("postgres", 2);

/** The run's worst cell against the peer, as the target's CPU check gives it. */
const worstAgainst =
  (target: string, peer: CpuPeer) =>
  (run: BenchRun): string => {
    const cpu = cpuAgainst(run.results, target, peer);
    if (!cpu) throw new Error(`the run has no cells of ${target} and ${peer} to compare`);
    return ratioText(cpu.worstRatio);
  };

const ttfbAdded =
  (target: string, delayMs: number) =>
  (run: BenchRun): string => {
    const added = ttfbAddedMs(run.results, target, delayMs);
    if (added === undefined) throw new Error(`the run has no first streamed byte for ${target} at ${delayMs} ms upstream`);
    return msText(added);
  };

/** Each row of the table, and how its cell is worked out from the run. */
const ROWS: Record<string, (run: BenchRun) => string> = {
  "PGlite CPU per call vs proxy": worstAgainst(PGLITE, "proxy"),
  "PGlite CPU per call vs Portkey": worstAgainst(PGLITE, "portkey"),
  "PostgreSQL CPU per call vs proxy": worstAgainst(POSTGRES, "proxy"),
  "PostgreSQL CPU per call vs Portkey": worstAgainst(POSTGRES, "portkey"),
  "2 workers CPU per call vs proxy": worstAgainst(WORKERS, "proxy"),
  "2 workers CPU per call vs Portkey": worstAgainst(WORKERS, "portkey"),
  "2 workers stream TTFB added, 50 ms upstream": ttfbAdded(WORKERS, 50),
};

export function addRunColumn(doc: string, run: BenchRun): string {
  const heading = runHeading(run.info);
  return rewriteTable(doc, WORST_TABLE_START, (table) => {
    const existing = table[0]?.indexOf(heading) ?? -1;
    const at = existing >= 0 ? existing : (table[0]?.length ?? 1) - 1;
    return table.map((cells, i) => {
      const value = i === 0 ? heading : i === 1 ? "---" : valueFor(cells[0] ?? "", run);
      return [...cells.slice(0, at), value, ...cells.slice(existing >= 0 ? at + 1 : at)];
    });
  });
}

/** "19:29 (12-06, Xeon)" for a run of 2026-12-06 19:29 UTC on a Xeon host. */
export function runHeading(info: Pick<RunInfo, "date" | "machine">): string {
  const day = /^\d{4}-(\d\d-\d\d) (\d\d:\d\d) UTC$/.exec(info.date);
  const processor = /^\d+ × (.*?), /.exec(info.machine)?.[1];
  if (!day || !processor) throw new Error(`the run's date "${info.date}" or machine "${info.machine}" is not as the bench writes them`);
  const family = /Xeon|EPYC|Ryzen|Core|Graviton|Ampere/.exec(processor)?.[0] ?? processor;
  return `${day[2]} (${day[1]}, ${family})`;
}

function valueFor(row: string, run: BenchRun): string {
  const fill = ROWS[row];
  if (fill === undefined) throw new Error(`the worst-cell table's row "${row}" names nothing bench:publish knows`);
  return fill(run);
}
