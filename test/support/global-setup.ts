import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { bundleCli } from "../../scripts/cli-bundle.mjs";
import { openDatabase } from "../../src/store/database.js";
import { withConnection } from "./admin-sql.js";
import { databaseUrl } from "./postgres-pool.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const execFileAsync = promisify(execFile);

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    workflowsTemplate: string;
    /** The CLI bundled from src/, which "source" entries start (test/support/process.ts). */
    cliBundle: string;
    /** The library (src/index.ts) bundled beside it, for scripts run as applications. */
    libraryBundle: string;
    /** A migrated PostgreSQL database that scratch databases are copied from (test/support/stores.ts); "" without a server. */
    postgresTemplate: string;
    /** The start of every scratch database's name in this run, so that its teardown finds those left (test/support/postgres-pool.ts). */
    postgresScratchPrefix: string;
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
 * hundreds of them. The library's entry is bundled with it, for the scripts that tests run as an
 * application would. With a PostgreSQL server, a migrated database is made once too: a scratch database
 * copied from it takes about 0.15 s, where an empty one and Airlock's migrations took about 0.4 s, and
 * each test process lends its copies to one test after another (postgres-pool.ts). The teardown drops
 * the copies the processes kept, found by this run's prefix.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Vitest runs this once per project (see vitest.config.ts); the projects share one set of templates.
  shared.users++;
  shared.made ??= makeTemplates();
  const { dir, pgliteArchive, workflowsArchive, cliDir, postgresTemplate } = await shared.made;
  project.provide("pgliteTemplate", pgliteArchive);
  project.provide("workflowsTemplate", workflowsArchive);
  project.provide("cliBundle", path.join(cliDir, "airlock.js"));
  project.provide("libraryBundle", path.join(cliDir, "library.js"));
  project.provide("postgresTemplate", postgresTemplate ?? "");
  project.provide("postgresScratchPrefix", shared.scratchPrefix);
  return async () => {
    if (--shared.users > 0) return;
    await Promise.all([rm(dir, { recursive: true, force: true }), rm(cliDir, { recursive: true, force: true }), postgresTemplate && dropPostgresDatabases(postgresTemplate)]);
  };
}

interface Templates {
  dir: string;
  pgliteArchive: string;
  workflowsArchive: string;
  cliDir: string;
  postgresTemplate: string | undefined;
}

interface Shared {
  made?: Promise<Templates>;
  /** Projects whose teardown has not run yet: the last one removes the templates. */
  users: number;
  /** The start of this run's scratch databases' names: runs side by side on one server keep their own. */
  scratchPrefix: string;
}

/** On the global object, because Vitest may load this module once per project. */
const shared: Shared = ((globalThis as { airlockTestTemplates?: Shared }).airlockTestTemplates ??= { users: 0, scratchPrefix: `airlock_t_${randomBytes(4).toString("hex")}_` });

async function makeTemplates(): Promise<Templates> {
  const dir = await mkdtemp(path.join(tmpdir(), "airlock-test-"));
  // Inside the repository, so that the packages left out of the bundle resolve from it; one per run,
  // so that runs side by side in one checkout keep their own.
  const cliDir = path.join(REPO_ROOT, ".test-cli", path.basename(dir));
  const cliBundled = bundleCli({ entry: path.join(REPO_ROOT, "src/cli/main.ts"), library: path.join(REPO_ROOT, "src/index.ts"), ownDir: path.join(REPO_ROOT, "src"), outDir: cliDir });
  // Made beside the other, in a process of its own.
  const workflowsArchive = path.join(dir, "workflows-template.tar");
  const workflowsMade = execFileAsync(process.execPath, ["--import", "tsx", fileURLToPath(new URL("workflows-template.ts", import.meta.url)), workflowsArchive]);
  const postgresMade = process.env.AIRLOCK_TEST_DATABASE_URL ? makePostgresTemplate(process.env.AIRLOCK_TEST_DATABASE_URL) : undefined;
  const database = await openDatabase({});
  const pgliteArchive = path.join(dir, "pglite-template.tar");
  await writeFile(pgliteArchive, Buffer.from(await (await database.dump!()).arrayBuffer()));
  await database.close();
  await Promise.all([workflowsMade, cliBundled]);
  return { dir, pgliteArchive, workflowsArchive, cliDir, postgresTemplate: await postgresMade };
}

/** A database on the test server with Airlock's migrations applied, and no connection left open to it (a template may have none). */
async function makePostgresTemplate(serverUrl: string): Promise<string> {
  const name = `airlock_template_${randomBytes(6).toString("hex")}`;
  await withConnection(serverUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const database = await openDatabase({ url: databaseUrl(serverUrl, name).href, maxConnections: 1 });
  await database.close();
  return name;
}

/**
 * The template, and the scratch databases the test processes kept for their next tests (or a test
 * left): each test process's pool keeps a few emptied ones until it ends.
 */
async function dropPostgresDatabases(template: string): Promise<void> {
  await withConnection(process.env.AIRLOCK_TEST_DATABASE_URL!, async (admin) => {
    const { rows } = await admin.query<{ name: string }>("select datname as name from pg_database where starts_with(datname, $1)", [shared.scratchPrefix]);
    for (const { name } of rows) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  });
}
