import { randomBytes } from "node:crypto";
import pg from "pg";
import { withConnection } from "./admin-sql.js";
import { SCHEMA, TABLES, tablesWithRows, truncate } from "./store-catalog.js";

/**
 * Scratch databases on the test server, each lent to one test at a time and emptied for the next. A
 * database copied from the migrated template cost the server about 0.1 s of CPU, and the two admin
 * connections that made and dropped it about 0.03 s each (a new backend is a fork, whose fresh pages
 * fault at about 15 µs each on these machines); some five hundred tests each made one.
 *
 * A database is given back under a new name: its connections are ended, new ones refused while it is
 * renamed, and its tables emptied. A process or pool that a test left behind then finds its database
 * gone, as it did when the database was dropped, and never writes into the next test's. One whose
 * schema a test changed is dropped instead.
 */

/** How many emptied databases a test process keeps for the next tests; beyond that they are dropped. */
const KEPT = 3;

/** How long the server may take to end a database's connections before it is dropped instead. */
const TERMINATE_WAIT_MS = 5_000;

interface Kept {
  name: string;
  /** Its schema as it was first lent, which it must still have to be lent again. */
  schema: string;
  /** Its tables, quoted for SQL. */
  tables: string[];
}

const idle: Kept[] = [];
/** Databases out on loan, by name. */
const lent = new Map<string, Kept>();

/** A database of the template's schema and no rows, named `<prefix><random>`, lent until `giveBack`. */
export async function lendDatabase(serverUrl: string, template: string, prefix: string): Promise<string> {
  let kept = idle.pop();
  if (!kept) {
    const name = scratchName(prefix);
    await (await adminClient(serverUrl)).query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    kept = await withConnection(databaseUrl(serverUrl, name).href, async (client) => {
      const tables = (await client.query<{ name: string }>(TABLES)).rows.map((row) => row.name);
      return { name, schema: await scalar(client, SCHEMA, "schema"), tables };
    });
  }
  lent.set(kept.name, kept);
  return kept.name;
}

/** Whether `name` is a database this process lent and has not been given back. */
export function isLent(name: string): boolean {
  return lent.has(name);
}

/**
 * Empties a lent database under a new name and keeps it for the next test, or drops it when it cannot
 * be lent again. Every connection to it is ended first, as `DROP DATABASE … WITH (FORCE)` ends them.
 */
export async function giveBack(serverUrl: string, name: string, prefix: string): Promise<void> {
  const kept = lent.get(name);
  if (!kept) throw new Error(`${name} was not lent by this process`);
  lent.delete(name);
  const admin = await adminClient(serverUrl);
  let current = name;
  try {
    if (idle.length >= KEPT) throw new Error("enough kept");
    await admin.query(`ALTER DATABASE ${current} WITH ALLOW_CONNECTIONS false`);
    const { rows } = await admin.query<{ ended: boolean }>("select pg_terminate_backend(pid, $2) as ended from pg_stat_activity where datname = $1", [current, TERMINATE_WAIT_MS]);
    if (rows.some((row) => !row.ended)) throw new Error("a connection outlived its end");
    const renamed = scratchName(prefix);
    await admin.query(`ALTER DATABASE ${current} RENAME TO ${renamed}`);
    current = renamed;
    await admin.query(`ALTER DATABASE ${current} RESET ALL; ALTER DATABASE ${current} WITH ALLOW_CONNECTIONS true`);
    const prepared = await admin.query("select 1 from pg_prepared_xacts where database = $1", [current]);
    if (prepared.rowCount) throw new Error("a prepared transaction holds it");
    const emptied = await withConnection(databaseUrl(serverUrl, current).href, async (client) => {
      if ((await scalar(client, SCHEMA, "schema")) !== kept.schema) return false;
      const withRows = (await client.query<{ name: string }>(tablesWithRows(kept.tables))).rows.map((row) => row.name);
      if (withRows.length) await client.query(truncate(withRows));
      return true;
    });
    if (emptied) {
      idle.push({ ...kept, name: current });
      return;
    }
  } catch {
    // A database that cannot be emptied is dropped like one that is not kept.
  }
  await admin.query(`DROP DATABASE IF EXISTS ${current} WITH (FORCE)`);
}

/** A new scratch database's name: the run's prefix and a random part. */
export function scratchName(prefix: string): string {
  return `${prefix}${randomBytes(6).toString("hex")}`;
}

/** The URL of `database` on the server at `serverUrl`. */
export function databaseUrl(serverUrl: string, database: string): URL {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url;
}

let admin: Promise<pg.Client> | undefined;

/**
 * One connection to the server's admin database per test process, kept open: it makes, renames and
 * drops the scratch databases. It never holds the process open, and a lost one is opened again.
 */
export function adminClient(serverUrl: string): Promise<pg.Client> {
  admin ??= (async () => {
    const client = new pg.Client({ connectionString: serverUrl, application_name: "airlock-test-admin" });
    const forget = () => {
      admin = undefined;
    };
    client.on("error", forget);
    client.on("end", forget);
    try {
      await client.connect();
    } catch (err) {
      forget();
      throw err;
    }
    (client as unknown as { connection: { stream: { unref(): void } } }).connection.stream.unref();
    return client;
  })();
  return admin;
}

async function scalar(client: pg.Client, sql: string, column: string): Promise<string> {
  const { rows } = await client.query<Record<string, unknown>>(sql);
  return String(rows[0]?.[column] ?? "");
}
