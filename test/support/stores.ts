import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect, inject, onTestFinished } from "vitest";
import { openDatabase, type Database } from "../../src/store/database.js";
import type { PgliteThread } from "../../src/store/pglite-client.js";
import { lendPglite, scalar } from "./pglite-pool.js";
import { adminClient, databaseUrl, giveBack, isLent, lendDatabase, scratchName } from "./postgres-pool.js";

/**
 * The stores every store-touching test runs against: embedded PGlite always, and PostgreSQL when
 * AIRLOCK_TEST_DATABASE_URL points at a server (CI sets it). Each test gets its own database with no rows
 * in it, lent from the test process's pool: a store on PGlite, a database on PostgreSQL.
 */
export type StoreKind = "pglite" | "postgres";

const postgresUrl = process.env.AIRLOCK_TEST_DATABASE_URL || undefined;

export const STORE_KINDS: StoreKind[] = postgresUrl ? ["pglite", "postgres"] : ["pglite"];

export interface TestStore {
  kind: StoreKind;
  database: Database;
  /** For PostgreSQL: the URL of this test's own database, so other processes can share it. */
  url: string | undefined;
  cleanup(): Promise<void>;
}

export async function freshStore(kind: StoreKind): Promise<TestStore> {
  if (kind === "pglite") {
    // A store lent from the test process's pool (pglite-pool.ts), emptied to the migrated archive's state.
    const database = await openDatabase({ pglite: lendPglite(() => archive("pgliteTemplate")), workflowsDump: await archive("workflowsTemplate") });
    return { kind, database, url: undefined, cleanup: () => database.close() };
  }
  const url = await createScratchDatabase();
  const database = await openDatabase({ url: url.href, maxConnections: 4 });
  return {
    kind,
    database,
    url: url.href,
    cleanup: async () => {
      // A test may have closed the store itself (an outage): the database goes all the same.
      try {
        await database.close();
      } finally {
        await dropScratchDatabase(url);
      }
    },
  };
}

/**
 * A PostgreSQL database on the test server for one test, its name returned in the URL. It holds Airlock's
 * tables and no rows, as a store that has started once does: lent from the test process's pool
 * (postgres-pool.ts), which copied it from the database the global setup migrated. `empty` gives a new
 * one with nothing in it, for a test of the migrations themselves.
 */
export async function createScratchDatabase(options: { empty?: boolean } = {}): Promise<URL> {
  if (!postgresUrl) throw new Error("AIRLOCK_TEST_DATABASE_URL is not set");
  const prefix = inject("postgresScratchPrefix");
  let name: string;
  if (options.empty) {
    name = scratchName(prefix);
    await (await adminClient(postgresUrl)).query(`CREATE DATABASE ${name}`);
  } else {
    name = await lendDatabase(postgresUrl, inject("postgresTemplate"), prefix);
  }
  // Which test has it: a scratch database left behind on the server names the test that forgot it.
  const { testPath, currentTestName } = expect.getState();
  const admin = await adminClient(postgresUrl);
  await admin.query(`COMMENT ON DATABASE ${name} IS ${admin.escapeLiteral(`${path.relative(process.cwd(), testPath ?? "")} > ${currentTestName ?? ""}`)}`);
  return databaseUrl(postgresUrl, name);
}

/**
 * A scratch database for the running test, given back when it ends: after its `afterEach` hooks, which
 * stop the processes still connected to it. Only inside a test.
 */
export async function scratchDatabaseForTest(): Promise<URL> {
  const url = await createScratchDatabase();
  onTestFinished(() => dropScratchDatabase(url));
  return url;
}

/** Ends a scratch database's connections, then gives it back to the pool, or drops it when it was made empty. */
export async function dropScratchDatabase(url: URL): Promise<void> {
  const name = url.pathname.slice(1);
  if (isLent(name)) return giveBack(postgresUrl!, name, inject("postgresScratchPrefix"));
  await (await adminClient(postgresUrl!)).query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

export type TemplateName = "pgliteTemplate" | "workflowsTemplate";

const archives = new Map<TemplateName, Promise<Uint8Array>>();
/**
 * An archive that the global setup made (test/support/global-setup.ts), read once per test process
 * into shared memory, which each store's thread copies once (ThreadStart.dump). As a Blob, each thread
 * read it in chunks and joined them, and a fresh store cost about 1.20 s of CPU here instead of 1.07 s.
 */
export function archive(name: TemplateName): Promise<Uint8Array> {
  let read = archives.get(name);
  if (!read) {
    read = readFile(inject(name)).then((bytes) => {
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
      shared.set(bytes);
      return shared;
    });
    archives.set(name, read);
  }
  return read;
}

/** A PGlite store's cluster identifier: `initdb` gives each its own, and a copy of a template keeps the template's. */
export function systemIdentifier(thread: PgliteThread): Promise<string> {
  return scalar(thread, "select system_identifier::text as id from pg_control_system()", "id");
}
