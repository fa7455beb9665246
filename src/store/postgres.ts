import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import type { Database, Db } from "./database.js";
import type { NoticeHandlers, Unlisten } from "./notices.js";
import { MIGRATIONS_FOLDER } from "./pglite-client.js";
import * as schema from "./schema/index.js";

/**
 * How long a pooled statement may go unanswered. A connection whose far end is gone without a reset
 * (a failover, a dropped NAT entry) never answers, and TCP keep-alive takes hours by the system's
 * defaults to say so: each statement sent on it would hold its pool slot as long, and once every slot
 * is held the instance could read nothing, its kill switch unconfirmed, refusing every call while the
 * database answers on new connections. Past this deadline the statement fails and its connection
 * leaves the pool. Far above what any of the store's statements takes; migrations have no deadline.
 */
export const STATEMENT_DEADLINE_MS = 30_000;

/** The store on PostgreSQL: a pool for queries, and a connection of its own for LISTEN. */
export function openPostgres(url: string, max: number, statementDeadlineMs = STATEMENT_DEADLINE_MS): Database & { migrate(): Promise<void> } {
  // JIT off for our sessions only: every query here is short, and LLVM compiling one costs more
  // (100–200 ms, measured on the 30-day spend report) than running it.
  const session = { connectionString: url, keepAlive: true, options: "-c jit=off" };
  // allowExitOnIdle: an idle connection does not hold the process open, so a script that made its calls
  // ends without close(), as one using the openai package does; a statement under way still holds it.
  const pool = new pg.Pool({ ...session, max, connectionTimeoutMillis: 2_000, query_timeout: statementDeadlineMs, allowExitOnIdle: true });
  // An idle client that loses its server emits here; without a listener the process would crash.
  pool.on("error", () => undefined);
  const clients = poolClients(pool);
  const db = drizzle({ client: pool, schema });
  return {
    kind: "postgres",
    db: db as unknown as Db,
    listen: (channel, handlers) => listenPostgres(url, channel, handlers, () => dropClients(clients)),
    notify: (channel, payload) => notifyPostgres(pool, channel, payload),
    execute: async (sql) => {
      await pool.query(sql);
    },
    runPrepared: async (statement, params) => {
      await pool.query(statement.text, params.map((param) => (typeof param === "string" ? param : param.join(","))));
    },
    // A session of its own, without the pool's statement deadline: a migration may rightly take long.
    migrate: () => migrateAlone(new pg.Client({ ...session, connectionTimeoutMillis: 2_000 })),
    workflowsUrl: async () => url,
    close: () => pool.end(),
  };
}

/** The pool's clients, kept from the pool's public events. */
function poolClients(pool: pg.Pool): Set<pg.Client> {
  const clients = new Set<pg.Client>();
  pool.on("connect", (client) => clients.add(client as pg.Client));
  pool.on("remove", (client) => clients.delete(client as pg.Client));
  return clients;
}

/**
 * Closes the sockets of clients whose connections are presumed dead. Their statements fail at once, as
 * when the server ends a session (the ledger's insert and the leases are safe to send again), instead of
 * at the deadline, and the pool drops them and opens new ones. The periodic reads (the kill switch's
 * every 450 ms) would otherwise have taken every client of the pool within two seconds, each waiting out
 * its deadline, and nothing else could be read meanwhile, the reload after the silence included.
 */
function dropClients(clients: Set<pg.Client>): void {
  for (const client of [...clients]) socketOf(client)?.destroy();
}

function socketOf(client: pg.Client): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
}

/** The advisory lock key that migrations hold: any fixed number will do ("Airl" in ASCII). */
const MIGRATION_LOCK = 0x4169726c;

/**
 * Migrates while holding a database-wide advisory lock, on one session. drizzle's migrator reads
 * what was applied before it opens its transaction, so instances that start together (replicas
 * after a deploy) would all apply the same migration, and all but one fail. Under the lock, the
 * others wait, then find nothing left to do. The lock is the session's: a connection that breaks
 * mid-migration gives it up by itself.
 */
async function migrateAlone(client: pg.Client): Promise<void> {
  await client.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await migrate(drizzle({ client, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    // Closing the session lets go of the lock whatever happened above.
    await client.end().catch(() => undefined);
  }
}

/** How long the listening connection has to answer; it is asked every half of this, once its last answer came. */
export const LISTEN_HEARTBEAT_MS = 2_000;

/**
 * PostgreSQL LISTEN on its own connection, which comes back by itself after a break (with a growing
 * pause, up to 5 s), so every instance hears configuration changes as they are made. A connection
 * whose far end is gone without a reset (a failover, a dropped NAT entry) neither fails nor delivers:
 * TCP keep-alive would take minutes to notice it, or never behind a proxy that answers for the server.
 * So the connection is asked to answer every second, and one whose answer is LISTEN_HEARTBEAT_MS late
 * is dropped and replaced, with the pool's connections (onSilence), and everything is read again,
 * as after any break.
 */
async function listenPostgres(url: string, channel: string, handlers: NoticeHandlers, onSilence: () => void): Promise<Unlisten> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retryMs = 250;
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const watch = (listening: pg.Client): void => {
    let askedAt: number | undefined;
    clearInterval(heartbeat);
    heartbeat = setInterval(() => {
      if (client !== listening) return;
      if (askedAt !== undefined) {
        const asked = askedAt;
        if (performance.now() - asked < LISTEN_HEARTBEAT_MS) return;
        // Judged after this turn's network reads: after an event loop held up for seconds, timers
        // run before the answer that came meanwhile is read, and the connection is not silent.
        setImmediate(() => {
          if (askedAt === asked) reconnectLater(listening, true);
        });
        return;
      }
      askedAt = performance.now();
      listening.query("select 1").then(
        () => (askedAt = undefined),
        () => reconnectLater(listening),
      );
    }, LISTEN_HEARTBEAT_MS / 2);
    heartbeat.unref();
  };

  const connect = async (): Promise<void> => {
    // Keep-alive makes a connection that silently died (a NAT timeout, a failover without a reset)
    // fail and reconnect, instead of listening to nothing for ever.
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    next.on("notification", (message) => {
      if (message.channel === channel) safely(() => handlers.notice(message.payload ?? ""));
    });
    next.on("error", () => reconnectLater(next));
    next.on("end", () => reconnectLater(next));
    try {
      await next.connect();
      await next.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      await next.end().catch(() => undefined);
      throw err;
    }
    if (stopped) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    retryMs = 250;
    // Listening is no work of the application's: it must not keep a process open that has nothing left to do.
    // (pg.Client has unref() since 8.x, as the pool's allowExitOnIdle uses it; its types do not say so.)
    (next as unknown as { unref(): void }).unref();
    watch(next);
  };

  const reconnectLater = (broken: pg.Client, silent = false): void => {
    if (stopped || client !== broken) return;
    client = undefined;
    clearInterval(heartbeat);
    broken.end().catch(() => undefined);
    // A silent connection would never finish closing: its socket goes now. The pool's connections went
    // the same way, most likely (a failover, a host gone): were they kept, the reload below would wait
    // on them until the statement deadline, some 30 s, instead of about a second.
    if (silent) {
      socketOf(broken)?.destroy();
      onSilence();
    }
    const retry = () => {
      if (stopped) return;
      timer = setTimeout(() => {
        connect().then(
          () => {
            if (!stopped) safely(() => handlers.reconnected());
          },
          () => {
            retryMs = Math.min(retryMs * 2, 5_000);
            retry();
          },
        );
      }, retryMs);
      timer.unref();
    };
    retry();
  };

  await connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(heartbeat);
    // Held open while it closes: unref'd, its close would not keep the process alive, and a process with
    // nothing else left (a start that failed to listen) would end mid-close, exiting 0 with its error untold.
    (client as unknown as { ref(): void } | undefined)?.ref();
    await client?.end().catch(() => undefined);
  };
}

async function notifyPostgres(pool: pg.Pool, channel: string, payload: string): Promise<void> {
  await pool.query("select pg_notify($1, $2)", [channel, payload]);
}


/** A handler's failure is its own to report; it must not take the listening connection down. */
function safely(run: () => void): void {
  try {
    run();
  } catch {
    // handlers log their own failures
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
