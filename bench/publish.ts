import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fillLatestMisses } from "./support/publish-misses.js";
import { addRunRow } from "./support/publish-runs.js";
import { publishRun } from "./support/publish.js";
import { reportHeader } from "./support/report-reader.js";
import type { BenchRun } from "./support/report.js";
import { ROOT } from "./support/root.js";

/**
 * `npm run bench:publish`: after a full `npm run bench`, puts `bench/results/latest.md` into
 * docs/performance.md (see publishRun), and from the same run's `latest.json` the run's column of the
 * table in its "Where Airlock still misses" (see fillLatestMisses) and the run's worst cells into the
 * table of docs/performance-runs.md (see addRunRow). What the run means (its paragraph in
 * performance-runs.md, the reasons for the misses and the columns that follow the targets over many
 * runs) is still written by hand.
 */
const results = path.join(ROOT, "bench/results");
const latest = await readFile(path.join(results, "latest.md"), "utf8");
const run = JSON.parse(await readFile(path.join(results, "latest.json"), "utf8")) as BenchRun;
const { date } = reportHeader(latest);
if (date !== run.info.date) throw new Error(`latest.md (${date ?? "no date"}) and latest.json (${run.info.date}) are from different runs`);
// Both pages are worked out before either is written, so a refusal leaves both as they were.
const page = path.join(ROOT, "docs/performance.md");
const runs = path.join(ROOT, "docs/performance-runs.md");
const published = fillLatestMisses(publishRun(await readFile(page, "utf8"), latest), run);
const withRow = addRunRow(await readFile(runs, "utf8"), run);
await writeFile(page, published);
await writeFile(runs, withRow);
console.log(`published the run of ${date} into docs/performance.md and docs/performance-runs.md`);
