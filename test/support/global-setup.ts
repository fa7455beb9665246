import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../src/store/database.js";

const execFileAsync = promisify(execFile);

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    workflowsTemplate: string;
  }
}

/**
 * PGlite runs initdb on every in-memory start (about 2.5 s here). One migrated database is made here,
 * once per run, and every test starts its own copy from the archive in about 0.5 s. The workflow
 * engine's embedded store gets the same (workflows-template.ts): a second PGlite, with the engine's own
 * tables made by one launch of it, which otherwise cost each test that runs directives an initdb and
 * the engine's migrations (about 3.5 s together).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), "airlock-test-"));
  // Made beside the other, in a process of its own.
  const workflowsArchive = path.join(dir, "workflows-template.tar");
  const workflowsMade = execFileAsync(process.execPath, ["--import", "tsx", fileURLToPath(new URL("workflows-template.ts", import.meta.url)), workflowsArchive]);
  const database = await openDatabase({});
  const archive = path.join(dir, "pglite-template.tar");
  await writeFile(archive, Buffer.from(await (await database.dump!()).arrayBuffer()));
  await database.close();
  project.provide("pgliteTemplate", archive);

  await workflowsMade;
  project.provide("workflowsTemplate", workflowsArchive);
  return () => rm(dir, { recursive: true, force: true });
}
