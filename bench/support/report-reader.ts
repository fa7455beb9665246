import { cpuAgainst, ttfbAddedMs, type BenchRun, type CpuComparison, type CpuPeer } from "./report.js";

/**
 * Reading a bench run back (its `latest.md`, and from its `latest.json` the values a published table
 * cannot be filled without), and rewriting a page's tables, for bench:publish.
 */

/** Where the table whose first line starts with `start` lies in `lines`: its first line and the line after its last. */
function tableSpan(lines: readonly string[], start: string): { first: number; end: number } | undefined {
  const first = lines.findIndex((line) => line.startsWith(start));
  if (first < 0) return undefined;
  const end = lines.findIndex((line, i) => i > first && !line.startsWith("|"));
  return { first, end: end < 0 ? lines.length : end };
}

/** The markdown table whose first line starts with `start`, through its last row, with its line ends. */
export function tableAt(markdown: string, start: string): string | undefined {
  const lines = markdown.split("\n");
  const span = tableSpan(lines, start);
  return span && `${lines.slice(span.first, span.end).join("\n")}\n`;
}

/**
 * The page with the table that begins with `start` rewritten: `edit` gets every line of it as cells,
 * the header and the separator included, and returns them as they should be. The separator is written
 * without spaces, as the pages write it.
 */
export function rewriteTable(doc: string, start: string, edit: (rows: string[][]) => string[][]): string {
  const lines = doc.split("\n");
  const span = tableSpan(lines, start);
  if (!span) throw new Error(`the page has no table that begins "${start}"`);
  const rows = edit(lines.slice(span.first, span.end).map(cellsOf));
  lines.splice(span.first, span.end - span.first, ...rows.map((cells, i) => (i === 1 ? `|${cells.join("|")}|` : `| ${cells.join(" | ")} |`)));
  return lines.join("\n");
}

/** A table line's cells, trimmed, without the empty ones outside its first and last bar. */
export function cellsOf(line: string): string[] {
  return line.split("|").slice(1, -1).map((cell) => cell.trim());
}

/** The target's CPU against the peer's over the run, as its check has it; throws when the run lacks their cells. */
export function requiredCpuAgainst(run: BenchRun, target: string, peer: CpuPeer): CpuComparison {
  const cpu = cpuAgainst(run.results, target, peer);
  if (!cpu) throw new Error(`the run has no cells of ${target} and ${peer} to compare`);
  return cpu;
}

/** What the target added to the first streamed byte at that upstream delay; throws when the run lacks it. */
export function requiredTtfbAddedMs(run: BenchRun, target: string, delayMs: number): number {
  const added = ttfbAddedMs(run.results, target, delayMs);
  if (added === undefined) throw new Error(`the run has no first streamed byte for ${target} at ${delayMs} ms upstream`);
  return added;
}

/** What the report's first lines say: its date ("2026-12-06 21:58 UTC"), machine and command, where they stand. */
export function reportHeader(latest: string): { date?: string; machine?: string; command?: string } {
  return {
    date: /^# Airlock bench, (.*)$/m.exec(latest)?.[1],
    machine: /^Machine: (.*)$/m.exec(latest)?.[1],
    command: /^Command: `([^`]*)`$/m.exec(latest)?.[1],
  };
}
