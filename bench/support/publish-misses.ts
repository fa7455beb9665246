import { airlockTargetName, cpuCheckPrefix, GLANCE_TABLE_START } from "./report.js";
import { checkNamed, checksOf, reportHeader, rewriteTable, rowsOf } from "./report-reader.js";

/**
 * Fills the latest run's column of the table in docs/performance.md's "Where Airlock still misses"
 * (its second column, and the run's date in its header) from the run's `latest.md`: how many cells of
 * each target met each CPU target and its worst, and what each target added to the first streamed
 * byte. The table's other columns, which follow the targets over many runs, stay the writer's.
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
const ROWS: Record<string, (latest: string) => string> = {
  "CPU per call, at most 2× the proxy's": (latest) => cpuCells(latest, "proxy"),
  "CPU per call, at most 0.25× Portkey's": (latest) => cpuCells(latest, "portkey"),
  "stream TTFB added over direct, at most 1 ms": ttfbCells,
};

export function fillLatestMisses(doc: string, latest: string): string {
  const { date } = reportHeader(latest);
  if (date === undefined) throw new Error("latest.md has no date in its header");
  return rewriteTable(doc, MISSES_TABLE_START, (table) =>
    table.map((cells, i) => {
      if (i === 1) return cells; // the separator
      const label = cells[0] ?? "";
      const fill = ROWS[label];
      if (i > 0 && fill === undefined) throw new Error(`the misses table's row "${label}" names nothing bench:publish knows`);
      return [label, i === 0 ? `the run of ${date}` : fill!(latest), ...cells.slice(2)];
    }),
  );
}

/** "PostgreSQL 7 of 12 cells (worst 2.45×), PGlite 4 of 12 (worst 2.81×), …" from the CPU checks against `peer`. */
function cpuCells(latest: string, peer: string): string {
  const measured = checksOf(latest);
  return TARGETS.map(([target, short], i) => {
    const check = checkNamed(measured, cpuCheckPrefix(target, peer));
    const count = /; (\d+) of (\d+) cells within\)$/.exec(check.name);
    if (!count) throw new Error(`latest.md's check "${check.name}" is not one that counts the cells within`);
    return `${short} ${count[1]} of ${count[2]}${i === 0 ? " cells" : ""} (worst ${check.value})`;
  }).join(", ");
}

/** What each target added to the first streamed byte, at 0 and at 50 ms upstream, the proxy's beside them. */
function ttfbCells(latest: string): string {
  const added = new Map(rowsOf(latest, GLANCE_TABLE_START).map((cells) => [cells[0] ?? "", /^([\d.–]+) \/ ([\d.–]+) ms$/.exec(cells[5] ?? "")]));
  const at = (target: string, which: 1 | 2): string => {
    const pair = added.get(target);
    if (!pair) throw new Error(`latest.md's At a glance table has no first streamed byte for ${target}`);
    return pair[which]!;
  };
  const upstream = (which: 1 | 2) => `${TARGETS.map(([target, short], i) => `${short} ${at(target, which)}${i === 0 ? " ms" : ""}`).join(", ")}, the proxy itself ${at("proxy", which)}`;
  return `0 ms upstream: ${upstream(1)}; 50 ms: ${upstream(2)}`;
}
