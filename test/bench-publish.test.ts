import { describe, expect, it } from "vitest";
import { publishRun } from "../bench/support/publish.js";
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
