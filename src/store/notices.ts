import { EventEmitter } from "node:events";
import pg from "pg";

/** One channel for every change other instances must hear of; the payload says what changed (`routes`, `keys`). */
export const CHANGES_CHANNEL = "airlock_changes";

/** Stops listening. */
export type Unlisten = () => Promise<void>;

export interface NoticeHandlers {
  /** A notice on the channel, from any instance, this one included. */
  notice(payload: string): void;
  /** The listening connection came back after a break: notices may have been missed, so reload. */
  reconnected(): void;
}

/**
 * PostgreSQL LISTEN on its own connection, which comes back by itself after a break (with a growing
 * pause, up to 5 s), so every instance hears configuration changes as they are made.
 */
export async function listenPostgres(url: string, channel: string, handlers: NoticeHandlers): Promise<Unlisten> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retryMs = 250;
  let timer: NodeJS.Timeout | undefined;

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
  };

  const reconnectLater = (broken: pg.Client): void => {
    if (stopped || client !== broken) return;
    client = undefined;
    broken.end().catch(() => undefined);
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
    await client?.end().catch(() => undefined);
  };
}

export async function notifyPostgres(pool: pg.Pool, channel: string, payload: string): Promise<void> {
  await pool.query("select pg_notify($1, $2)", [channel, payload]);
}

/** The embedded store has one process, so its notices never leave it. */
export class LocalNotices {
  private readonly emitter = new EventEmitter();

  async listen(channel: string, handlers: NoticeHandlers): Promise<Unlisten> {
    const onNotice = (payload: string) => handlers.notice(payload);
    this.emitter.on(channel, onNotice);
    return async () => void this.emitter.off(channel, onNotice);
  }

  async notify(channel: string, payload: string): Promise<void> {
    // Delivered asynchronously, as a server's notice would be.
    setImmediate(() => this.emitter.emit(channel, payload));
  }
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
