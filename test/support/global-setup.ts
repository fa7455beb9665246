import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../src/store/database.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

/**
 * PGlite runs initdb on every in-memory start (about 2.5 s here). One migrated database is made here,
 * once per run, and every test starts its own copy from the archive in about 0.5 s.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), "airlock-test-"));
  const database = await openDatabase({});
  const archive = path.join(dir, "pglite-template.tar");
  await writeFile(archive, Buffer.from(await (await database.dump!()).arrayBuffer()));
  await database.close();
  project.provide("pgliteTemplate", archive);
  return () => rm(dir, { recursive: true, force: true });
}
