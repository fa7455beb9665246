import { GLANCE_TABLE_START } from "./report.js";
import { reportHeader, tableAt } from "./report-reader.js";

/**
 * Puts a bench run's `latest.md` into docs/performance.md: the summary table under "At a glance"
 * (between its two markers) and the whole report under "Latest results" (after its marker and the
 * chart's line, to the end of the page), headings moved down to sit under the page's own. The rest of
 * the page, and the paragraphs that say what a run means, stay the writer's.
 */

export const GLANCE_START = "<!-- GLANCE -->";
export const GLANCE_END = "<!-- /GLANCE -->";
export const RESULTS = "<!-- RESULTS -->";

/** What docs/performance.md shows under the results marker before the report itself. */
const CHART_LINE = "The chart: [bench/results/latest.svg](../bench/results/latest.svg). The raw numbers: [bench/results/latest.json](../bench/results/latest.json).";

export function publishRun(doc: string, latest: string): string {
  const { date, machine, command } = reportHeader(latest);
  if (command === undefined) throw new Error("latest.md has no Command line: is it a bench report?");
  // A narrowed run (--smoke, --targets, --modes…) leaves out cells the page's tables and checks speak of;
  // the server it ran its PostgreSQL targets on is the reader's to see, not a narrowing.
  if (command.replace(/^DATABASE_URL=\S+ /, "") !== "npm run bench") throw new Error(`latest.md is from \`${command}\`; publish a full run (\`npm run bench\`)`);
  const glance = tableAt(latest, GLANCE_TABLE_START);
  if (glance === undefined) throw new Error("latest.md has no At a glance table");
  if (date === undefined || machine === undefined) throw new Error("latest.md has no date or machine in its header");

  const start = doc.indexOf(GLANCE_START);
  const end = doc.indexOf(GLANCE_END);
  if (start < 0 || end < start) throw new Error(`the page has no ${GLANCE_START} … ${GLANCE_END} pair`);
  // Blank lines around the table: a table runs on into a line that follows it without one.
  const withGlance = `${doc.slice(0, start + GLANCE_START.length)}\n\nThe run of ${date}, on ${machine}:\n\n${glance}\n${doc.slice(end)}`;

  const marker = withGlance.indexOf(RESULTS);
  if (marker < 0) throw new Error(`the page has no ${RESULTS} marker`);
  const report = latest.replace(/^#{1,2} /gm, "### ").trimEnd();
  return `${withGlance.slice(0, marker + RESULTS.length)}\n\n${CHART_LINE}\n\n${report}\n`;
}
