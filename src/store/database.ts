import path from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzleProxy } from "drizzle-orm/pg-proxy";
import { startPglite, type PgliteThread, type StoreThread } from "./pglite-client.js";
import type { StoreArchive } from "./pglite-protocol.js";
import { LocalNotices, type NoticeHandlers, type Unlisten } from "./notices.js";
import { checkPostgresUrl, postgresStore, reasonOf, serverUnreachable, StoreOpenError } from "./open-error.js";
import * as schema from "./schema/index.js";

export type Schema = typeof schema;
/** The one database type the queries see, whichever engine is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  readonly kind: "pglite" | "postgres";
  readonly db: Db;
  /** Runs raw SQL (maintenance, tests). Queries belong in store/queries. */
  execute(sql: string): Promise<void>;
  /**
   * Runs the hottest statement, the ledger insert, whose planning costs more than writing a batch of
   * rows. PGlite parses and plans it once, under its name, and keeps the plan. PostgreSQL gets it
   * unnamed, as every other statement: a named statement belongs to one server session, and a pooler
   * in transaction mode (PgBouncer, unless told to track them) hands sessions from client to client.
   */
  runPrepared(statement: PreparedStatement, params: readonly StatementParam[]): Promise<void>;
  /** Hears notices on a channel from every instance sharing the store (PostgreSQL LISTEN/NOTIFY). */
  listen(channel: string, handlers: NoticeHandlers): Promise<Unlisten>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * A connection URL for the durable workflow engine's tables: this PostgreSQL itself, or for PGlite
   * a second embedded instance served on loopback to exactly one connection.
   */
  workflowsUrl(): Promise<string>;
  /** PGlite only: the whole database as an archive, to start copies from (tests). */
  dump?(): Promise<Blob>;
  /** PGlite only: the requests sent to the store's thread so far, statements above all (tests, diagnostics). */
  requestsSent?(): number;
  close(): Promise<void>;
}

/**
 * A parameter's text, or a batch of texts that the statement receives joined by commas (the ledger's
 * rows). A batch is handed on as its items: PGlite's thread writes each one straight into the message
 * it builds anyway, and the batch never becomes one string of a few hundred KB. Memory that large is
 * fresh each time (V8's large objects, malloc's mapped chunks), and every 4 KB of it costs a page
 * fault when first touched. Joining a batch of 500 rows, cloning it to the thread and reading it
 * there cost about 3 ms in faults; its 500 items cost 0.4 ms (docs/performance-findings.md#page-faults-on-a-ledger-batch).
 */
export type StatementParam = string | readonly string[];

/** A statement whose name stands for this exact text wherever it is kept prepared. */
export interface PreparedStatement {
  name: string;
  text: string;
}

export interface DatabaseOptions {
  /** A PostgreSQL URL. When set, it wins over the embedded store. */
  url?: string;
  /** Where PGlite keeps its files. Omit both for an in-memory PGlite (tests). */
  dataDir?: string;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
  /** PostgreSQL: how long a statement may go unanswered before it is given up and its connection dropped (see openPostgres). */
  statementDeadlineMs?: number;
  /** Start an in-memory PGlite from a `dumpDataDir()` archive, already migrated, instead of the build's initdb template (tests; see ThreadStart.dump). */
  pgliteDump?: StoreArchive;
  /** The same for the workflow engine's in-memory PGlite, when it is first asked for (tests). */
  workflowsDump?: StoreArchive;
  /** False when another process has already brought the schema up to date (cluster workers). */
  migrate?: boolean;
  /** The PGlite thread for `dataDir`, already starting (see startPglite); opened here otherwise. */
  pglite?: Promise<StoreThread>;
}


/** Opens the store and brings its schema up to date. */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  // The workflow engine's embedded store sits beside the data directory, on a thread of its own, opened only when used.
  const workflowsDir = options.dataDir ? path.join(path.dirname(options.dataDir), "workflows") : undefined;
  // The PostgreSQL driver is loaded only for PostgreSQL: the embedded store never needs it, and
  // loading it (with the fetch machinery its runtime check wakes in Node) costs startup time.
  if (options.url) checkPostgresUrl(options.url);
  const database = options.url ? (await import("./postgres.js")).openPostgres(options.url, options.maxConnections ?? 10, options.statementDeadlineMs) : await openPglite(options.pglite ?? startPglite({ dataDir: options.dataDir, dump: options.pgliteDump, migrate: options.migrate }), { dataDir: workflowsDir, dump: options.workflowsDump });
  try {
    if (options.migrate !== false) await database.migrate();
  } catch (err) {
    await database.close();
    // The embedded store names its directory as it opens (startPglite).
    throw options.url ? new StoreOpenError(postgresStore(options.url), reasonOf(err), { cause: err, retryable: serverUnreachable(err) }) : err;
  }
  return database;
}

async function openPglite(starting: Promise<StoreThread>, workflowsStore: { dataDir?: string; dump?: StoreArchive }): Promise<Database & { migrate(): Promise<void> }> {
  // Migrations run on the thread as it opens, before any query can arrive.
  const thread = await starting;
  const db = drizzleProxy(
    async (sql, params, method) => ({ rows: (await thread.send({ op: "query", sql, params, method })).rows ?? [] }),
    { schema },
  );
  const notices = new LocalNotices();
  let workflows: Promise<PgliteThread> | undefined;
  return {
    kind: "pglite",
    db: db as unknown as Db,
    listen: (channel, handlers) => notices.listen(channel, handlers),
    notify: (channel, payload) => notices.notify(channel, payload),
    execute: async (sql) => {
      await thread.send({ op: "exec", sql });
    },
    runPrepared: async (statement, params) => {
      await thread.send({ op: "prepared", name: statement.name, sql: statement.text, params });
    },
    migrate: async () => undefined,
    workflowsUrl: async () => {
      if (!workflows) {
        const starting = startPglite({ ...workflowsStore, migrate: false });
        workflows = starting;
        // A failed start (its directory still locked by a process that is closing, say) is tried again by the next caller.
        starting.catch(() => {
          if (workflows === starting) workflows = undefined;
        });
      }
      return (await (await workflows).send({ op: "serve" })).url!;
    },
    close: async () => {
      await Promise.all([thread.close(), workflows?.then((t) => t.close(), () => undefined)]);
    },
    dump: async () => (await thread.send({ op: "dump" })).dump!,
    requestsSent: () => thread.sent,
  };
}
