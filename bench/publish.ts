import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fillLatestMisses } from "./support/publish-misses.js";
import { addRunColumn } from "./support/publish-runs.js";
import { publishRun } from "./support/publish.js";

/**
 * `npm run bench:publish`: after a full `npm run bench`, puts `bench/results/latest.md` into
 * docs/performance.md (see publishRun), the run's column of the table in its "Where Airlock still
 * misses" (see fillLatestMisses) and the run's worst cells into the table of docs/performance-runs.md
 * (see addRunColumn). What the run means (its paragraph in performance-runs.md, the reasons for the
 * misses and the columns that follow the targets over many runs) is still written by hand.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const latest = await readFile(path.join(ROOT, "bench/results/latest.md"), "utf8");
// Both pages are worked out before either is written, so a refusal leaves both as they were.
const page = path.join(ROOT, "docs/performance.md");
const runs = path.join(ROOT, "docs/performance-runs.md");
const published = fillLatestMisses(publishRun(await readFile(page, "utf8"), latest), latest);
const withColumn = addRunColumn(await readFile(runs, "utf8"), latest);
await writeFile(page, published);
await writeFile(runs, withColumn);
console.log(`published ${/^# (.*)$/m.exec(latest)?.[1] ?? "the run"} into docs/performance.md and docs/performance-runs.md`);
