import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { bundleCli } from "../../scripts/cli-bundle.mjs";
import { openDatabase } from "../../src/store/database.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const execFileAsync = promisify(execFile);

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    workflowsTemplate: string;
    /** The CLI bundled from src/, which "source" entries start (test/support/process.ts). */
    cliBundle: string;
  }
}

/**
 * A new PGlite store starts from the build's initdb template and then runs Airlock's migrations (about
 * 1.5 s together here). One migrated database is made here, once per run, and every test starts its own
 * copy from the archive in about 0.5 s. The workflow engine's embedded store gets the same
 * (workflows-template.ts): a second PGlite, with the engine's own tables made by one launch of it, which
 * otherwise cost each test that runs directives the engine's migrations. And the CLI is bundled from
 * src/ once (scripts/cli-bundle.mjs, as the build bundles dist/): a process started from the bundle
 * takes about half the CPU time of one that compiles every module through tsx, and the suite starts
 * hundreds of them.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Vitest runs this once per project (see vitest.config.ts); the projects share one set of templates.
  shared.users++;
  shared.made ??= makeTemplates();
  const { dir, pgliteArchive, workflowsArchive, cliDir } = await shared.made;
  project.provide("pgliteTemplate", pgliteArchive);
  project.provide("workflowsTemplate", workflowsArchive);
  project.provide("cliBundle", path.join(cliDir, "airlock.js"));
  return async () => {
    if (--shared.users === 0) await Promise.all([rm(dir, { recursive: true, force: true }), rm(cliDir, { recursive: true, force: true })]);
  };
}

interface Templates {
  dir: string;
  pgliteArchive: string;
  workflowsArchive: string;
  cliDir: string;
}

interface Shared {
  made?: Promise<Templates>;
  /** Projects whose teardown has not run yet: the last one removes the templates. */
  users: number;
}

/** On the global object, because Vitest may load this module once per project. */
const shared: Shared = ((globalThis as { airlockTestTemplates?: Shared }).airlockTestTemplates ??= { users: 0 });

async function makeTemplates(): Promise<Templates> {
  const dir = await mkdtemp(path.join(tmpdir(), "airlock-test-"));
  // Inside the repository, so that the packages left out of the bundle resolve from it; one per run,
  // so that runs side by side in one checkout keep their own.
  const cliDir = path.join(REPO_ROOT, ".test-cli", path.basename(dir));
  const cliBundled = bundleCli({ entry: path.join(REPO_ROOT, "src/cli/main.ts"), ownDir: path.join(REPO_ROOT, "src"), outDir: cliDir });
  // Made beside the other, in a process of its own.
  const workflowsArchive = path.join(dir, "workflows-template.tar");
  const workflowsMade = execFileAsync(process.execPath, ["--import", "tsx", fileURLToPath(new URL("workflows-template.ts", import.meta.url)), workflowsArchive]);
  const database = await openDatabase({});
  const pgliteArchive = path.join(dir, "pglite-template.tar");
  await writeFile(pgliteArchive, Buffer.from(await (await database.dump!()).arrayBuffer()));
  await database.close();
  await Promise.all([workflowsMade, cliBundled]);
  return { dir, pgliteArchive, workflowsArchive, cliDir };
}
