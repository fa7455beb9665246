import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout's root. `fileURLToPath`, not a URL's `pathname`, which keeps a space or an accent percent-encoded. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Where a bench writes its report: `--out`, else the committed results, or for a smoke run a folder of the temporary directory. */
export function resultsDir(out: string | undefined, smoke: boolean): string {
  return out ?? (smoke ? path.join(os.tmpdir(), "airlock-bench-smoke") : path.join(ROOT, "bench/results"));
}
