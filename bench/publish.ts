import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { publishRun } from "./support/publish.js";

/**
 * `npm run bench:publish`: after a full `npm run bench`, puts `bench/results/latest.md` into
 * docs/performance.md (see publishRun). What the run means — its paragraph in performance-runs.md,
 * its column in the worst-cell table, "Where Airlock still misses" — is still written by hand.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const page = path.join(ROOT, "docs/performance.md");
const latest = await readFile(path.join(ROOT, "bench/results/latest.md"), "utf8");
await writeFile(page, publishRun(await readFile(page, "utf8"), latest));
console.log(`published ${/^# (.*)$/m.exec(latest)?.[1] ?? "the run"} into docs/performance.md`);
