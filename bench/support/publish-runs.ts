import type { BenchRun, CpuPeer, RunInfo } from "./report.js";
import { airlockTargetName, msText, ratioText } from "./report.js";
import { requiredCpuAgainst, requiredTtfbAddedMs, rewriteTable } from "./report-reader.js";

/**
 * Puts a bench run's worst cells into docs/performance-runs.md: one row of the table that follows each
 * target over the runs, worked out from the run's `latest.json` as its checks were. The row goes last
 * (the runs are oldest first); a run published again has its row rewritten, not added twice.
 */

/** How the table's header begins. */
export const WORST_TABLE_START = "| run (UTC) |";

const PGLITE = airlockTargetName("pglite");
const POSTGRES = airlockTargetName("postgres");
const WORKERS = airlockTargetName("postgres", 2);

/** The run's worst cell against the peer, as the target's CPU check gives it. */
const worstAgainst = (target: string, peer: CpuPeer) => (run: BenchRun) => ratioText(requiredCpuAgainst(run, target, peer).worstRatio);

const ttfbAdded = (target: string, delayMs: number) => (run: BenchRun) => msText(requiredTtfbAddedMs(run, target, delayMs));

/** Each column of the table, by its header, and how the run's cell in it is worked out. */
const COLUMNS: Record<string, (run: BenchRun) => string> = {
  "PGlite vs proxy": worstAgainst(PGLITE, "proxy"),
  "PGlite vs Portkey": worstAgainst(PGLITE, "portkey"),
  "PostgreSQL vs proxy": worstAgainst(POSTGRES, "proxy"),
  "PostgreSQL vs Portkey": worstAgainst(POSTGRES, "portkey"),
  "2 workers vs proxy": worstAgainst(WORKERS, "proxy"),
  "2 workers vs Portkey": worstAgainst(WORKERS, "portkey"),
  "2 workers stream TTFB added at 50 ms": ttfbAdded(WORKERS, 50),
};

export function addRunRow(doc: string, run: BenchRun): string {
  const label = runLabel(run.info);
  return rewriteTable(doc, WORST_TABLE_START, (table) => {
    const [header = [], ...rest] = table;
    const row = [label, ...header.slice(1).map((column) => cellFor(column, run))];
    const existing = rest.findIndex((cells) => cells[0] === label);
    if (existing < 0) return [...table, row];
    return [header, ...rest.map((cells, i) => (i === existing ? row : cells))];
  });
}

/** "12-06 19:29 (Xeon)" for a run of 2026-12-06 19:29 UTC on a Xeon host. */
export function runLabel(info: Pick<RunInfo, "date" | "machine">): string {
  const day = /^\d{4}-(\d\d-\d\d) (\d\d:\d\d) UTC$/.exec(info.date);
  const processor = /^\d+ × (.*?), /.exec(info.machine)?.[1];
  if (!day || !processor) throw new Error(`the run's date "${info.date}" or machine "${info.machine}" is not as the bench writes them`);
  const family = /Xeon|EPYC|Ryzen|Core|Graviton|Ampere/.exec(processor)?.[0] ?? processor;
  return `${day[1]} ${day[2]} (${family})`;
}

function cellFor(column: string, run: BenchRun): string {
  const fill = COLUMNS[column];
  if (fill === undefined) throw new Error(`the worst-cell table's column "${column}" names nothing bench:publish knows`);
  return fill(run);
}
