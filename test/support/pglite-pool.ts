import { startPglite, type PgliteThread, type StoreThread } from "../../src/store/pglite-client.js";
import type { StoreArchive } from "../../src/store/pglite-protocol.js";
import { SCHEMA, TABLES, tablesWithRows, truncate } from "./store-catalog.js";

/**
 * In-memory PGlite stores for tests, each opened once per test process and lent to one test at a time.
 * Opening one from the migrated archive costs about 1.1 s of CPU on a slow host, and the suite used to
 * open about five hundred; emptying one takes a few milliseconds. A store comes back emptied to the
 * state it opened in: every table truncated and the session's settings and locks reset. One whose
 * schema a test changed (a table made, a column altered) is closed instead of being lent again.
 */

/** How many emptied stores a test process keeps for the next tests; beyond that they are closed. */
const KEPT = 3;

interface Kept {
  thread: PgliteThread;
  /** The store's schema as it opened, which it must still have to be lent again. */
  schema: string;
  /** Its tables, quoted for SQL. */
  tables: string[];
}

const idle: Kept[] = [];

/** A store of the archive's schema and no rows, lent to the caller until its handle is closed, then given back. */
export async function lendPglite(archive: () => Promise<StoreArchive>): Promise<StoreThread> {
  const kept = idle.pop() ?? (await openKept(archive));
  return new LentThread(kept);
}

async function openKept(archive: () => Promise<StoreArchive>): Promise<Kept> {
  const thread = await startPglite({ dump: await archive() });
  const schema = await scalar(thread, SCHEMA, "schema");
  const tables = (await rows(thread, TABLES)).map((row) => String(row.name));
  // A template with rows in it would be lent back without them: say so rather than differ.
  const withRows = (await rows(thread, tablesWithRows(tables))).map((row) => String(row.name));
  if (withRows.length) throw new Error(`the store's archive has rows in ${withRows.join(", ")}: the test pool empties stores to no rows`);
  return { thread, schema, tables };
}

async function rows(thread: StoreThread, sql: string): Promise<Array<Record<string, unknown>>> {
  return (await thread.send({ op: "query", sql, params: [], method: "execute" })).rows as Array<Record<string, unknown>>;
}

/** The first row's `column`, as text: one value a query on the store's thread answers. */
export async function scalar(thread: StoreThread, sql: string, column: string): Promise<string> {
  return String((await rows(thread, sql))[0]?.[column] ?? "");
}

/** Empties a store a test has finished with and keeps it for the next test, or closes it when it cannot be lent again. */
async function giveBack(kept: Kept): Promise<void> {
  try {
    // A test may have ended inside a transaction its store's handle was closed in.
    await kept.thread.send({ op: "exec", sql: "rollback" });
    if (idle.length < KEPT && (await scalar(kept.thread, SCHEMA, "schema")) === kept.schema) {
      await kept.thread.send({ op: "exec", sql: `${truncate(kept.tables)}reset all; select pg_advisory_unlock_all();` });
      idle.push(kept);
      return;
    }
  } catch {
    // A store that cannot be emptied is closed like one that is not kept.
  }
  await kept.thread.close().catch(() => undefined);
}

/**
 * One test's handle on a kept store. Once closed it refuses every request, as a closed thread does,
 * so that a gateway or timer a test left running can never write into the next test's store.
 */
class LentThread implements StoreThread {
  #sent = 0;
  readonly #pending = new Set<Promise<unknown>>();
  /** Set once the handle is closed: the store being given back. */
  #given: Promise<void> | undefined;

  constructor(private readonly kept: Kept) {}

  get sent(): number {
    return this.#sent;
  }

  send: PgliteThread["send"] = (request) => {
    if (this.#given) return Promise.reject(new Error("the store is closed"));
    this.#sent++;
    const reply = this.kept.thread.send(request);
    const settled: Promise<unknown> = reply.then(
      () => this.#pending.delete(settled),
      () => this.#pending.delete(settled),
    );
    this.#pending.add(settled);
    return reply;
  };

  /** Closes this handle (the store's own close waits for the requests sent before it), then gives the store back. */
  close(): Promise<void> {
    this.#given ??= Promise.allSettled([...this.#pending]).then(() => giveBack(this.kept));
    return this.#given;
  }
}
