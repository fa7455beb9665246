import type { BenchRun, CpuPeer } from "./report.js";
import { airlockTargetName, floorOf, heldCellOf, heldCellsOf, heldRatio, ratioText } from "./report.js";
import { requiredCpuAgainst, requiredTtfbAddedMs, rewriteTable } from "./report-reader.js";

/**
 * Fills the latest run's column of the table in docs/performance.md's "Where Airlock still misses"
 * (its second column, and the run's date in its header) from the run's `latest.json`: how many cells
 * of each target met each CPU target, its worst and, against the proxy, that cell held side by side,
 * and what each target added to the first streamed byte. The table's other columns, which follow the
 * targets over many runs, stay the writer's.
 */

/** How the table's header begins. */
export const MISSES_TABLE_START = "| target | the run of ";

/** The Airlock targets in the order the table names them, with the names it gives them. */
const TARGETS: ReadonlyArray<readonly [target: string, short: string]> = [
  [airlockTargetName("postgres"), "PostgreSQL"],
  [airlockTargetName("pglite"), "PGlite"],
  [airlockTargetName("postgres", 2), "2 workers"],
];

/** Each row of the table, by its first cell, and how the latest run's cell is written. */
const ROWS: Record<string, (run: BenchRun) => string> = {
  "CPU per call, at most 2× the proxy's": (run) => cpuCells(run, "proxy"),
  "CPU per call, at most 0.25× Portkey's": (run) => cpuCells(run, "portkey"),
  "stream TTFB added over direct, at most 1 ms": ttfbCells,
};

export function fillLatestMisses(doc: string, run: BenchRun): string {
  return rewriteTable(doc, MISSES_TABLE_START, (table) =>
    table.map((cells, i) => {
      if (i === 1) return cells; // the separator
      const label = cells[0] ?? "";
      const fill = ROWS[label];
      if (i > 0 && fill === undefined) throw new Error(`the misses table's row "${label}" names nothing bench:publish knows`);
      return [label, i === 0 ? `the run of ${run.info.date}` : fill!(run), ...cells.slice(2)];
    }),
  );
}

/** "PostgreSQL 7 of 12 cells (worst 2.45×), PGlite 4 of 12 (worst 2.81×), …": each target against `peer`. */
function cpuCells(run: BenchRun, peer: CpuPeer): string {
  return TARGETS.map(([target, short], i) => {
    const cpu = requiredCpuAgainst(run, target, peer);
    // Against the proxy the run also held the worst cell side by side with it, and a gateway of workers
    // with a proxy of as many workers too (see HeldCell in report.ts).
    const held = peer === "proxy" ? heldCellOf(run.info, target) : undefined;
    const workersFloor = peer === "proxy" ? heldCellsOf(run.info, target).find((h) => floorOf(h) !== "proxy") : undefined;
    const heldText = held ? `, held side by side ${ratioText(heldRatio(held))}` : "";
    const workersText = workersFloor ? `, against the ${floorOf(workersFloor)} ${ratioText(heldRatio(workersFloor))}` : "";
    return `${short} ${cpu.within} of ${cpu.cells}${i === 0 ? " cells" : ""} (worst ${ratioText(cpu.worstRatio)}${heldText}${workersText})`;
  }).join(", ");
}

/** What each target added to the first streamed byte, at 0 and at 50 ms upstream, the proxy's beside them. */
function ttfbCells(run: BenchRun): string {
  const at = (target: string, delayMs: number) => requiredTtfbAddedMs(run, target, delayMs).toFixed(2);
  const upstream = (delayMs: number) => `${TARGETS.map(([target, short], i) => `${short} ${at(target, delayMs)}${i === 0 ? " ms" : ""}`).join(", ")}, the proxy itself ${at("proxy", delayMs)}`;
  return `0 ms upstream: ${upstream(0)}; 50 ms: ${upstream(50)}`;
}
