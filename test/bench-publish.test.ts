import { describe, expect, it } from "vitest";
import { publishRun } from "../bench/support/publish.js";
import { fillLatestMisses } from "../bench/support/publish-misses.js";
import { addRunRow, runLabel } from "../bench/support/publish-runs.js";
import { cellName, type BenchRun, type RunInfo } from "../bench/support/report.js";
import type { CellResult } from "../bench/support/cells.js";
import { benchCell as cell } from "./bench-cells.js";

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

  it("takes a full run made with DATABASE_URL, which its command names", () => {
    const command = "DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench";
    expect(publishRun(PAGE, report(command))).toContain(`Command: \`${command}\``);
  });

  it("refuses a narrowed run, and a page without its markers", () => {
    expect(() => publishRun(PAGE, report("npm run bench -- --smoke"))).toThrow("publish a full run");
    expect(() => publishRun(PAGE, report("DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --targets proxy"))).toThrow("publish a full run");
    expect(() => publishRun(PAGE.replace("<!-- /GLANCE -->", ""), report("npm run bench"))).toThrow("GLANCE");
    expect(() => publishRun(PAGE.replace("<!-- RESULTS -->", ""), report("npm run bench"))).toThrow("RESULTS");
    expect(() => publishRun(PAGE, "not a report")).toThrow("Command");
    expect(() => publishRun(PAGE, report("npm run bench").replace(/^Machine: .*\n/m, ""))).toThrow("machine");
  });
});

const XEON = "2 × Intel(R) Xeon(R) Processor, 24 GiB, Linux 6.18.44-fc-v1272, Node v20.20.2";

function benchRun(results: CellResult[], info: Partial<RunInfo> = {}): BenchRun {
  return { info: { date: "2026-12-06 19:29 UTC", machine: XEON, command: "npm run bench", ledger: [], ...info }, checks: [], results };
}

/** The same run with one cell's CPU per request changed. */
function withCpu(run: BenchRun, target: string, cell: string, cpuMicrosPerRequest: number): BenchRun {
  return { ...run, results: run.results.map((r) => (r.target === target && cellName(r) === cell ? { ...r, cpuMicrosPerRequest } : r)) };
}

describe("adding a run's worst cells to docs/performance-runs.md", () => {
  const RUNS = [
    "Worst cells over the runs:",
    "",
    "| run (UTC) | PGlite vs proxy | PostgreSQL vs Portkey | 2 workers vs proxy | 2 workers stream TTFB added at 50 ms |",
    "|---|---|---|---|---|",
    "| target | ≤ 2× | ≤ 0.25× | ≤ 2× | ≤ 1 ms |",
    "| 12-06 18:03 (EPYC) | 2.30× | 0.40× |  | 1.69 ms |",
    "",
    "Prose after the table.",
    "",
  ].join("\n");

  // PGlite's worst cell against the proxy is JSON at 64 connections (261 against 100 µs), PostgreSQL's
  // against Portkey JSON at one connection and 50 ms (1,180 against 2,000), and 2 workers' against the
  // proxy the same cell (2,514 against 667); 2 workers add 1.03 ms to the first byte at 50 ms upstream.
  const RUN = benchRun([
    cell("direct", true, 50, 1, 430, { ttfbP50Ms: 51.2 }),
    cell("proxy", false, 0, 64, 100),
    cell("proxy", false, 50, 1, 667),
    cell("portkey", false, 50, 1, 2000),
    cell("airlock (PGlite)", false, 0, 64, 261),
    cell("airlock (PGlite)", false, 50, 1, 1000),
    cell("airlock (PostgreSQL)", false, 50, 1, 1180),
    cell("airlock (PostgreSQL, 2 workers)", false, 50, 1, 2514),
    cell("airlock (PostgreSQL, 2 workers)", true, 50, 1, 2600, { ttfbP50Ms: 52.23 }),
  ]);

  it("adds the run's row after the others and keeps the rest of the page", () => {
    const page = addRunRow(RUNS, RUN);
    expect(page).toBe(RUNS.replace("| 1.69 ms |\n", "| 1.69 ms |\n| 12-06 19:29 (Xeon) | 2.61× | 0.59× | 3.77× | 1.03 ms |\n"));
    // Published again, the run's row is rewritten in place, not added twice.
    expect(addRunRow(page, RUN)).toBe(page);
    expect(addRunRow(page, withCpu(RUN, "airlock (PGlite)", "json · 0 ms · c64", 270))).toBe(page.replace("| 2.61× |", "| 2.70× |"));
  });

  it("names a run by its day, time and processor", () => {
    expect(runLabel(RUN.info)).toBe("12-06 19:29 (Xeon)");
    expect(runLabel({ ...RUN.info, machine: XEON.replace("Intel(R) Xeon(R) Processor", "AMD EPYC") })).toBe("12-06 19:29 (EPYC)");
    expect(() => runLabel({ ...RUN.info, machine: "test" })).toThrow('machine "test"');
  });

  it("refuses a column it cannot fill and a run without the cells for one", () => {
    expect(() => addRunRow(RUNS.replace("| PGlite vs proxy |", "| PGlite memory |"), RUN)).toThrow('"PGlite memory" names nothing');
    const withoutPGlite = { ...RUN, results: RUN.results.filter((r) => r.target !== "airlock (PGlite)") };
    expect(() => addRunRow(RUNS, withoutPGlite)).toThrow("no cells of airlock (PGlite) and proxy");
    const withoutDirect = { ...RUN, results: RUN.results.filter((r) => r.target !== "direct") };
    expect(() => addRunRow(RUNS, withoutDirect)).toThrow("no first streamed byte for airlock (PostgreSQL, 2 workers) at 50 ms upstream");
    expect(() => addRunRow("no table here", RUN)).toThrow("| run (UTC) |");
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

  // Three cells that the proxy and Portkey both ran, at 100 and 1,000 µs, and streams at 50 ms upstream,
  // which the proxy alone ran, at its cost; then each target's cost in the first three.
  const shared = (target: string, [json1, json16, stream1]: [number, number, number], ttfb: [number, number]) => [
    cell(target, false, 0, 1, json1),
    cell(target, false, 0, 16, json16),
    cell(target, true, 0, 1, stream1, { ttfbP50Ms: ttfb[0] }),
    cell(target, true, 50, 1, 700, { ttfbP50Ms: ttfb[1] }),
  ];
  const RUN = benchRun(
    [
      cell("direct", true, 0, 1, 60, { ttfbP50Ms: 0.4 }),
      cell("direct", true, 50, 1, 430, { ttfbP50Ms: 51.2 }),
      ...shared("proxy", [100, 100, 100], [0.59, 51.76]),
      ...shared("portkey", [1000, 1000, 1000], [28, 79]).filter((r) => r.delayMs === 0),
      ...shared("airlock (PostgreSQL)", [150, 250, 210], [0.74, 52.09]),
      ...shared("airlock (PGlite)", [190, 281, 200], [0.73, 52.09]),
      ...shared("airlock (PostgreSQL, 2 workers)", [300, 180, 100], [0.8, 52.27]),
    ],
    { date: "2026-12-06 21:58 UTC" },
  );

  it("writes the run's date and each target's cells, and keeps the columns over the runs and the prose", () => {
    const page = fillLatestMisses(MISSES, RUN);
    expect(page.split("\n").slice(2, 7)).toEqual([
      "| target | the run of 2026-12-06 21:58 UTC | the runs since 2026-12-03 10:33 UTC |",
      "|---|---|---|",
      "| CPU per call, at most 2× the proxy's | PostgreSQL 2 of 4 cells (worst 2.50×), PGlite 3 of 4 (worst 2.81×), 2 workers 3 of 4 (worst 3.00×) | PostgreSQL 4–12 of 12 |",
      "| CPU per call, at most 0.25× Portkey's | PostgreSQL 3 of 3 cells (worst 0.25×), PGlite 2 of 3 (worst 0.28×), 2 workers 2 of 3 (worst 0.30×) | PostgreSQL 4–10 of 12 |",
      "| stream TTFB added over direct, at most 1 ms | 0 ms upstream: PostgreSQL 0.34 ms, PGlite 0.33, 2 workers 0.40, the proxy itself 0.19; 50 ms: PostgreSQL 0.89 ms, PGlite 0.89, 2 workers 1.07, the proxy itself 0.56 | every run |",
    ]);
    expect(page.startsWith("What the latest run met and missed.\n\n")).toBe(true);
    expect(page.endsWith("\n\nWhat keeps the misses there.")).toBe(true);
    expect(fillLatestMisses(page, RUN)).toBe(page);
    // A run that held each target's worst cell side by side with the proxy says so beside it.
    const held = { ...RUN, info: { ...RUN.info, held: [{ target: "airlock (PGlite)", cell: "json · 0 ms · c16", proxyMicros: [100, 100, 100], targetMicros: [190, 170, 180], errors: 0 }] } };
    expect(fillLatestMisses(MISSES, held).split("\n")[4]).toBe(
      "| CPU per call, at most 2× the proxy's | PostgreSQL 2 of 4 cells (worst 2.50×), PGlite 3 of 4 (worst 2.81×, held side by side 1.80×), 2 workers 3 of 4 (worst 3.00×) | PostgreSQL 4–12 of 12 |",
    );
    // A gateway of workers held against a proxy of as many workers too says that after the proxy's.
    const workers = "airlock (PostgreSQL, 2 workers)";
    const heldWorkers = { ...RUN, info: { ...RUN.info, held: [{ target: workers, cell: "json · 0 ms · c16", proxyMicros: [100, 100, 100], targetMicros: [200, 180, 190], errors: 0 }, { target: workers, cell: "json · 0 ms · c16", floor: "proxy (2 workers)", proxyMicros: [120, 125, 100], targetMicros: [204, 200, 170], errors: 0 }] } };
    expect(fillLatestMisses(MISSES, heldWorkers).split("\n")[4]).toContain("2 workers 3 of 4 (worst 3.00×, held side by side 1.90×, against the proxy (2 workers) 1.70×)");
  });

  it("refuses a row it cannot fill, a run without a target's cells, and a page without the table", () => {
    expect(() => fillLatestMisses(MISSES.replace("| CPU per call, at most 2× the proxy's |", "| memory |"), RUN)).toThrow('"memory" names nothing');
    const withoutWorkers = { ...RUN, results: RUN.results.filter((r) => r.target !== "airlock (PostgreSQL, 2 workers)") };
    expect(() => fillLatestMisses(MISSES, withoutWorkers)).toThrow("no cells of airlock (PostgreSQL, 2 workers) and proxy");
    const proxyWithoutTtfb = { ...RUN, results: RUN.results.map((r) => (r.target === "proxy" ? { ...r, ttfbP50Ms: undefined } : r)) };
    expect(() => fillLatestMisses(MISSES, proxyWithoutTtfb)).toThrow("no first streamed byte for proxy");
    expect(() => fillLatestMisses("no table", RUN)).toThrow("| target | the run of ");
  });
});
