import { describe, expect, it } from "vitest";
import { publishRun } from "../bench/support/publish.js";

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
