import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A database of its own for each gateway a bench starts on PostgreSQL, dropped when the bench is done
 * with it. Its name carries the bench's process id, so that a later run can tell a database that a
 * killed run left behind (SIGKILL allows no clean-up) from one that a running bench still uses.
 */

const PREFIX = "airlock_bench_";

/** The server the benches that need one make their scratch databases on: DATABASE_URL, else the local one. */
export function benchServerUrl(): string {
  return process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
}

/** `airlock_bench_<pid>_<random>`: the pid of the bench that made it. */
export function scratchDatabaseName(pid = process.pid): string {
  return `${PREFIX}${pid}_${randomBytes(4).toString("hex")}`;
}

/** The pid in a scratch database's name, if it has one of this form. */
export function creatorOf(name: string): number | undefined {
  const match = new RegExp(`^${PREFIX}(\\d+)_[0-9a-f]+$`).exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Whether a process of that id runs on this machine. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Only a server on this machine shares its process ids with the bench; elsewhere nothing is swept. */
function onThisMachine(baseUrl: string): boolean {
  const url = new URL(baseUrl);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const socket = url.searchParams.get("host");
  return host === "" || host === "localhost" || host === "::1" || host.startsWith("127.") || (socket?.startsWith("/") ?? false);
}

/**
 * Drops the scratch databases whose bench no longer runs; answers their names. A database named by an
 * earlier version (no pid), or kept (`keep`), is left alone: nothing tells whether it is in use. On a
 * server elsewhere nothing is swept, and in containers that share a host's network but not its process
 * ids, a running bench in another one would look dead: run benches there against a server of their own.
 */
export async function dropStaleScratchDatabases(baseUrl: string): Promise<string[]> {
  if (!onThisMachine(baseUrl)) return [];
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where starts_with(datname, '${PREFIX}')`);
    const stale = rows.map((row) => row.datname).filter((name) => {
      const pid = creatorOf(name);
      return pid !== undefined && pid !== process.pid && !isRunning(pid);
    });
    for (const name of stale) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    return stale;
  } finally {
    await client.end();
  }
}

async function onServer(baseUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
  /** Renames it out of the sweep's reach (`airlock_bench_kept_…`) and answers its URL: for a database kept to look at after the bench. */
  keep(): Promise<string>;
}

/** Servers swept by this process: once each is enough. */
const swept = new Set<string>();

/** A new, empty database on the server of `baseUrl`, after sweeping away (once) those that killed benches left. */
export async function scratchPostgres(baseUrl: string): Promise<ScratchDatabase> {
  if (!swept.has(baseUrl)) {
    swept.add(baseUrl);
    const left = await dropStaleScratchDatabases(baseUrl);
    if (left.length > 0) console.error(`dropped ${left.length} scratch database(s) that an interrupted bench left: ${left.join(", ")}`);
  }
  const name = scratchDatabaseName();
  await onServer(baseUrl, `CREATE DATABASE ${name}`);
  const urlOf = (database: string) => {
    const url = new URL(baseUrl);
    url.pathname = `/${database}`;
    return url.href;
  };
  return {
    url: urlOf(name),
    drop: () => onServer(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    keep: async () => {
      const kept = `${PREFIX}kept_${randomBytes(4).toString("hex")}`;
      await onServer(baseUrl, `ALTER DATABASE ${name} RENAME TO ${kept}`);
      return urlOf(kept);
    },
  };
}
