import { describe, expect, it } from "vitest";
import { publishRun } from "../bench/support/publish.js";
import { fillLatestMisses } from "../bench/support/publish-misses.js";
import { addRunColumn, runHeading } from "../bench/support/publish-runs.js";

const PAGE = [
  "# Performance",
  "",
  "## At a glance",
  "",
  "Prose the writer keeps.",
  "",
  "<!-- GLANCE -->",
  "",
  "| target | JSON call: CPU µs | JSON calls/s |",
  "|---|---:|---:|",
  "| proxy | 99 | 9,000 |",
  "",
  "<!-- /GLANCE -->",
  "",
  "More prose the writer keeps.",
  "",
  "## Latest results",
  "",
  "<!-- RESULTS -->",
  "",
  "The chart: [bench/results/latest.svg](../bench/results/latest.svg). The raw numbers: [bench/results/latest.json](../bench/results/latest.json).",
  "",
  "### Airlock bench, an older run",
  "",
  "old cells",
  "",
].join("\n");

function report(command: string): string {
  return [
    "# Airlock bench, 2026-12-06 19:29 UTC",
    "",
    "Machine: test",
    `Command: \`${command}\``,
    "",
    "## At a glance",
    "",
    "| target | JSON call: CPU µs | JSON calls/s |",
    "|---|---:|---:|",
    "| proxy | 118 | 8,397 |",
    "| airlock (PostgreSQL) | 154 (1.30×) | 5,790 |",
    "",
    "## Checks",
    "",
    "| check | measured | target | |",
    "",
  ].join("\n");
}

describe("publishing a bench run into docs/performance.md", () => {
  it("replaces the summary table and the report, and keeps the writer's prose", () => {
    const page = publishRun(PAGE, report("npm run bench"));
    expect(page).toContain("<!-- GLANCE -->\n\nThe run of 2026-12-06 19:29 UTC, on test:\n\n| target | JSON call: CPU µs | JSON calls/s |\n|---|---:|---:|\n| proxy | 118 | 8,397 |\n| airlock (PostgreSQL) | 154 (1.30×) | 5,790 |\n\n<!-- /GLANCE -->");
    expect(page).not.toContain("| proxy | 99 | 9,000 |");
    expect(page).toContain("Prose the writer keeps.");
    expect(page).toContain("More prose the writer keeps.");
    // The report's headings sit under the page's "Latest results"; the older run is gone.
    expect(page).toContain("### Airlock bench, 2026-12-06 19:29 UTC\n");
    expect(page).toContain("\n### At a glance\n");
    expect(page).toContain("\n### Checks\n");
    expect(page).not.toContain("an older run");
    expect(page.endsWith("| check | measured | target | |\n")).toBe(true);
    // Publishing the same run again changes nothing.
    expect(publishRun(page, report("npm run bench"))).toBe(page);
  });

  it("refuses a narrowed run, and a page without its markers", () => {
    expect(() => publishRun(PAGE, report("npm run bench -- --smoke"))).toThrow("publish a full run");
    expect(() => publishRun(PAGE.replace("<!-- /GLANCE -->", ""), report("npm run bench"))).toThrow("GLANCE");
    expect(() => publishRun(PAGE.replace("<!-- RESULTS -->", ""), report("npm run bench"))).toThrow("RESULTS");
    expect(() => publishRun(PAGE, "not a report")).toThrow("Command");
    expect(() => publishRun(PAGE, report("npm run bench").replace(/^Machine: .*\n/m, ""))).toThrow("machine");
  });
});

describe("adding a run's worst cells to docs/performance-runs.md", () => {
  const RUNS = [
    "Worst-cell ratios over the runs:",
    "",
    "| ratio, worst cell | 18:03 (12-06, EPYC) | target |",
    "|---|---|---|",
    "| PGlite CPU per call vs proxy | 2.30× | ≤ 2× |",
    "| PostgreSQL CPU per call vs Portkey | 0.40× | ≤ 0.25× |",
    "| 2 workers CPU per call vs proxy |  | ≤ 2× |",
    "| 2 workers stream TTFB added, 50 ms upstream | 1.69 ms | ≤ 1 ms |",
    "",
    "Prose after the table.",
    "",
  ].join("\n");

  const LATEST = [
    "# Airlock bench, 2026-12-06 19:29 UTC",
    "",
    "Machine: 2 × Intel(R) Xeon(R) Processor, 24 GiB, Linux 6.18.44-fc-v1272, Node v20.20.2",
    "Command: `npm run bench`",
    "",
    "## Checks",
    "",
    "| check | measured | target | |",
    "|---|---|---|---|",
    "| airlock (PGlite): CPU per request vs proxy, worst cell (json · 0 ms · c64) | 2.61× | ≤ 2× | **miss** |",
    "| airlock (PGlite): the same without the embedded store's thread, worst cell (json · 50 ms · c16) | 2.25× | (≤ 2×) | note |",
    "| airlock (PostgreSQL): CPU per request vs portkey, worst cell (json · 50 ms · c1) | 0.59× | ≤ 0.25× | **miss** |",
    "| airlock (PostgreSQL, 2 workers): CPU per request vs proxy, worst cell (json · 50 ms · c1) | 3.77× | ≤ 2× | **miss** |",
    "| airlock (PostgreSQL, 2 workers): stream TTFB p50 added over direct (50 ms upstream) | 1.03 ms | ≤ 1 ms | **miss** |",
    "",
    "## Every cell",
    "",
    "| cell | target |",
    "|---|---|",
    "| json · 0 ms · c1 | direct |",
    "",
  ].join("\n");

  it("adds the run's column before the targets' and keeps the rest of the page", () => {
    const page = addRunColumn(RUNS, LATEST);
    expect(page).toBe(
      RUNS.replace("| 18:03 (12-06, EPYC) | target |", "| 18:03 (12-06, EPYC) | 19:29 (12-06, Xeon) | target |")
        .replace("|---|---|---|", "|---|---|---|---|")
        .replace("| 2.30× | ≤ 2× |", "| 2.30× | 2.61× | ≤ 2× |")
        .replace("| 0.40× | ≤ 0.25× |", "| 0.40× | 0.59× | ≤ 0.25× |")
        .replace("|  | ≤ 2× |", "|  | 3.77× | ≤ 2× |")
        .replace("| 1.69 ms | ≤ 1 ms |", "| 1.69 ms | 1.03 ms | ≤ 1 ms |"),
    );
    // Published again, the run's column is rewritten in place, not added twice.
    expect(addRunColumn(page, LATEST)).toBe(page);
    expect(addRunColumn(page, LATEST.replace("| 2.61× |", "| 2.70× |"))).toBe(page.replace("| 2.61× |", "| 2.70× |"));
  });

  it("names a run by its time, day and processor", () => {
    expect(runHeading(LATEST)).toBe("19:29 (12-06, Xeon)");
    expect(runHeading(LATEST.replace("Intel(R) Xeon(R) Processor", "AMD EPYC"))).toBe("19:29 (12-06, EPYC)");
    expect(() => runHeading(LATEST.replace(/^Machine: .*\n/m, ""))).toThrow("machine");
  });

  it("refuses a row it cannot fill and a report without its check", () => {
    expect(() => addRunColumn(RUNS.replace("| PGlite CPU per call vs proxy |", "| PGlite memory |"), LATEST)).toThrow('"PGlite memory" names no check');
    expect(() => addRunColumn(RUNS, LATEST.replace(/^\| airlock \(PGlite\): CPU per request vs proxy.*\n/m, ""))).toThrow("airlock (PGlite): CPU per request vs proxy, worst cell");
    expect(() => addRunColumn("no table here", LATEST)).toThrow("| ratio, worst cell |");
  });
});

describe("filling the latest run's column of Where Airlock still misses", () => {
  const MISSES = [
    "What the latest run met and missed.",
    "",
    "| target | the run of 2026-12-06 19:29 UTC | the runs since 2026-12-03 10:33 UTC |",
    "|---|---|---|",
    "| CPU per call, at most 2× the proxy's | old | PostgreSQL 4–12 of 12 |",
    "| CPU per call, at most 0.25× Portkey's | old | PostgreSQL 4–10 of 12 |",
    "| stream TTFB added over direct, at most 1 ms | old | every run |",
    "",
    "What keeps the misses there.",
  ].join("\n");

  const check = (target: string, peer: string, cell: string, within: number, value: string) => `| ${target}: CPU per request vs ${peer}, worst cell (${cell}; ${within} of 12 cells within) | ${value} | ≤ 2× | **miss** |`;
  const LATEST = [
    "# Airlock bench, 2026-12-06 21:58 UTC",
    "",
    "## At a glance",
    "",
    "| target | JSON call: CPU µs | JSON calls/s | stream: CPU µs | streams/s | first streamed byte added, 0 / 50 ms upstream | peak RSS at 64 connections |",
    "|---|---:|---:|---:|---:|---:|---:|",
    "| proxy | 57 | 18,221 | 76 | 12,840 | 0.19 / 0.56 ms | 156 MB |",
    "| airlock (PGlite) | 151 (2.66×) | 7,707 | 215 (2.81×) | 5,329 | 0.33 / 0.89 ms | 323 MB |",
    "| airlock (PostgreSQL) | 119 (2.10×) | 7,644 | 169 (2.22×) | 5,737 | 0.34 / 0.89 ms | 148 MB |",
    "| airlock (PostgreSQL, 2 workers) | 139 (2.44×) | 7,759 | 199 (2.61×) | 5,756 | 0.40 / 1.07 ms | 256 MB |",
    "",
    "## Checks",
    "",
    "| check | measured | target | |",
    "|---|---|---|---|",
    check("airlock (PGlite)", "proxy", "stream · 0 ms · c16", 4, "2.81×"),
    check("airlock (PGlite)", "portkey", "stream · 50 ms · c1", 10, "0.49×"),
    check("airlock (PostgreSQL)", "proxy", "stream · 0 ms · c1", 7, "2.45×"),
    check("airlock (PostgreSQL)", "portkey", "json · 50 ms · c1", 10, "0.45×"),
    check("airlock (PostgreSQL, 2 workers)", "proxy", "stream · 50 ms · c16", 5, "2.77×"),
    check("airlock (PostgreSQL, 2 workers)", "portkey", "json · 50 ms · c1", 9, "0.54×"),
    "",
  ].join("\n");

  it("writes the run's date and each target's cells, and keeps the columns over the runs and the prose", () => {
    const page = fillLatestMisses(MISSES, LATEST);
    expect(page.split("\n").slice(2, 7)).toEqual([
      "| target | the run of 2026-12-06 21:58 UTC | the runs since 2026-12-03 10:33 UTC |",
      "|---|---|---|",
      "| CPU per call, at most 2× the proxy's | PostgreSQL 7 of 12 cells (worst 2.45×), PGlite 4 of 12 (worst 2.81×), 2 workers 5 of 12 (worst 2.77×) | PostgreSQL 4–12 of 12 |",
      "| CPU per call, at most 0.25× Portkey's | PostgreSQL 10 of 12 cells (worst 0.45×), PGlite 10 of 12 (worst 0.49×), 2 workers 9 of 12 (worst 0.54×) | PostgreSQL 4–10 of 12 |",
      "| stream TTFB added over direct, at most 1 ms | 0 ms upstream: PostgreSQL 0.34 ms, PGlite 0.33, 2 workers 0.40, the proxy itself 0.19; 50 ms: PostgreSQL 0.89 ms, PGlite 0.89, 2 workers 1.07, the proxy itself 0.56 | every run |",
    ]);
    expect(page.startsWith("What the latest run met and missed.\n\n")).toBe(true);
    expect(page.endsWith("\n\nWhat keeps the misses there.")).toBe(true);
    expect(fillLatestMisses(page, LATEST)).toBe(page);
  });

  it("refuses a row it cannot fill, a report whose checks do not count their cells, and a page without the table", () => {
    expect(() => fillLatestMisses(MISSES.replace("| CPU per call, at most 2× the proxy's |", "| memory |"), LATEST)).toThrow('"memory" names nothing');
    expect(() => fillLatestMisses(MISSES, LATEST.replaceAll(/; \d+ of 12 cells within\)/g, ")"))).toThrow("counts the cells within");
    expect(() => fillLatestMisses(MISSES, LATEST.replace(/^\| proxy \|.*\n/m, ""))).toThrow("no first streamed byte for proxy");
    expect(() => fillLatestMisses("no table", LATEST)).toThrow("| target | the run of ");
  });
});
