import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";
import { ROOT } from "./root.js";

/**
 * A bench entry in TypeScript as plain JavaScript, to run under `node` alone. A process started with
 * the tsx loader carries it for good: an esbuild service process beside it, about 30 MB more RSS and
 * five more threads, which a measured process must not carry when the gateway it is set against runs
 * from its build (idle, the bare proxy held 89 MB under tsx and about 60 MB as plain JavaScript). Its
 * packages stay imports, read from the checkout's node_modules, so the output goes under it, named by
 * its content: checkouts that share one node_modules (worktrees) never run each other's.
 */
const OUT_DIR = path.join(ROOT, "node_modules/.cache/airlock-bench");

/** Bundles `entry` to `<its name>-<hash>.mjs` and answers that path. Benches running at once may build the same entry: each writes its own file, then renames it into place. */
export async function plainNode(entry: string): Promise<string> {
  const result = await build({ entryPoints: [entry], bundle: true, packages: "external", platform: "node", format: "esm", target: "node20", write: false, logLevel: "silent" });
  const contents = result.outputFiles[0]!.contents;
  const hash = createHash("sha256").update(contents).digest("hex").slice(0, 12);
  const out = path.join(OUT_DIR, `${path.basename(entry, path.extname(entry))}-${hash}.mjs`);
  await mkdir(OUT_DIR, { recursive: true });
  const partial = `${out}.${randomBytes(4).toString("hex")}`;
  await writeFile(partial, contents);
  await rename(partial, out);
  return out;
}
