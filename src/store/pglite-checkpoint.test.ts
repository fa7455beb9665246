import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import pg from "pg";
import { serialize } from "pg-protocol";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../test/support/wait.js";
import { startPglite, type PgliteThread } from "./pglite-client.js";

/** About 21 MB of WAL: 20,000 rows of 1 KB each. */
const FILL = "create table filler (x text); insert into filler select repeat(md5(g::text), 32) from generate_series(1, 20000) g";
const MB = 1024 * 1024;

async function query<T>(thread: PgliteThread, sql: string): Promise<T> {
  const reply = await thread.send({ op: "query", sql, params: [], method: "execute" });
  return (reply.rows as T[])[0]!;
}

/** The last checkpoint's redo point, and how much WAL a restart after a crash would replay from it. */
const REPLAY_STATE = "select redo_lsn::text as redo, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), redo_lsn)::float8 as replay from pg_control_checkpoint()";

function replayState(thread: PgliteThread): Promise<{ redo: string; replay: number }> {
  return query(thread, REPLAY_STATE);
}

describe("the embedded store's checkpoints", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(checkpoints: { checkEveryMs: number; walBytes: number }): Promise<PgliteThread> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "airlock-checkpoint-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const thread = await startPglite({ dataDir, migrate: false, checkpoints });
    cleanups.push(() => thread.close());
    return thread;
  }

  it("checkpoints once the WAL a crash would replay passes the limit", async () => {
    const thread = await open({ checkEveryMs: 50, walBytes: 2 * MB });
    const before = await replayState(thread);
    await thread.send({ op: "exec", sql: FILL });
    // Single-user Postgres has no checkpointer: without the thread's, the redo point would stay where
    // it was. The thread checks after requests, and these polls are requests.
    const { value: after } = await waitFor(() => replayState(thread), (state) => state.replay < 2 * MB, 10_000);
    expect(after.redo).not.toBe(before.redo);
    expect((await query<{ rows: number }>(thread, "select count(*)::int as rows from filler")).rows).toBe(20_000);
  });

  it("leaves the WAL alone below the limit", async () => {
    const thread = await open({ checkEveryMs: 50, walBytes: 64 * MB });
    const before = await replayState(thread);
    await thread.send({ op: "exec", sql: FILL });
    // Checks follow requests: several go by, each finding less than the limit.
    for (let i = 0; i < 8; i++) {
      await replayState(thread);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    const after = await replayState(thread);
    expect(after.redo).toBe(before.redo);
    expect(after.replay).toBeGreaterThan(20 * MB);
    // And it keeps few old segments for reuse, and writes no zeros into new ones.
    const settings = await query<{ zero: string; max: string; min: string }>(
      thread,
      "select current_setting('wal_init_zero') as zero, current_setting('max_wal_size') as max, current_setting('min_wal_size') as min",
    );
    expect(settings).toEqual({ zero: "off", max: "128MB", min: "32MB" });
  });

  describe("of a store served to the workflow engine", () => {
    /** A store served on loopback, as the workflow engine is given it: its URL. */
    async function servedUrl(checkpoints: { checkEveryMs: number; walBytes: number }): Promise<string> {
      return (await (await open(checkpoints)).send({ op: "serve" })).url!;
    }

    /** The engine's side: one connection over the socket, as DBOS holds it. */
    async function served(checkpoints: { checkEveryMs: number; walBytes: number }): Promise<pg.Client> {
      const client = new pg.Client({ connectionString: await servedUrl(checkpoints) });
      await client.connect();
      cleanups.push(() => client.end());
      return client;
    }
    const redoOf = async (client: pg.Client) => (await client.query<{ redo: string; replay: number }>(REPLAY_STATE)).rows[0]!;

    it("checkpoints between the engine's statements once the limit is passed", async () => {
      const client = await served({ checkEveryMs: 50, walBytes: 2 * MB });
      const before = await redoOf(client);
      await client.query(FILL);
      // The checks follow the engine's own messages, as the engine is the store's only client.
      const { value: after } = await waitFor(() => redoOf(client), (state) => state.replay < 2 * MB, 10_000);
      expect(after.redo).not.toBe(before.redo);
      expect((await client.query<{ rows: number }>("select count(*)::int as rows from filler")).rows[0]!.rows).toBe(20_000);
    });

    it("never inside the engine's open transaction, and then loses none of its statements", async () => {
      // Any WAL at all is due, and every idle moment is checked.
      const client = await served({ checkEveryMs: 0, walBytes: 1 });
      await client.query("create table steps (n int)");
      await client.query("begin");
      const opened = await redoOf(client);
      for (let n = 0; n < 30; n++) {
        await client.query("insert into steps values ($1)", [n]); // extended protocol: Parse, Bind, Execute, Sync
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      expect((await redoOf(client)).redo).toBe(opened.redo);
      await client.query("commit");
      const { value: committed } = await waitFor(() => redoOf(client), (state) => state.redo !== opened.redo, 10_000);
      // Between statements outside a transaction, checkpoints do run, and each statement and its answer stay whole.
      for (let n = 30; n < 70; n++) await client.query("insert into steps values ($1)", [n]);
      expect((await redoOf(client)).redo).not.toBe(committed.redo);
      const { rows } = await client.query<{ rows: number; total: number }>("select count(*)::int as rows, sum(n)::int as total from steps");
      expect(rows[0]).toEqual({ rows: 70, total: (69 * 70) / 2 });
    });

    it("never halfway through an extended-protocol exchange, where its statement would end the engine's", async () => {
      const wire = await RawConnection.open(await servedUrl({ checkEveryMs: 0, walBytes: 1 }));
      cleanups.push(async () => wire.close());
      await wire.send(serialize.query("create table steps (n int)"), "Z");
      // Parse and Bind are answered on their own; the Sync that ends the exchange has not been sent.
      await wire.send(Buffer.concat([serialize.parse({ text: "insert into steps values ($1)", types: [] }), serialize.bind({ values: ["7"] })]), "2");
      await new Promise((resolve) => setTimeout(resolve, 100));
      // A statement run in between would have replaced the unnamed portal that Execute names.
      const answer = await wire.send(Buffer.concat([serialize.execute(), serialize.sync()]), "Z");
      expect(answer).toEqual(["C", "Z"]);
    });
  });
});

/** A client that speaks the wire protocol itself, to stop where a driver never would: between Bind and Sync. */
class RawConnection {
  private buffered = Buffer.alloc(0);
  private waiting: { until: string; types: string[]; resolve: (types: string[]) => void } | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (bytes: Buffer) => this.receive(bytes));
  }

  static async open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    const socket = net.connect(Number(port), hostname);
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const connection = new RawConnection(socket);
    await connection.send(serialize.startup({ user: "postgres", database: "postgres" }), "Z");
    return connection;
  }

  /** Sends `bytes` and answers the types of the messages that come back, up to one of type `until`. */
  send(bytes: Buffer, until: string): Promise<string[]> {
    return new Promise((resolve) => {
      this.waiting = { until, types: [], resolve };
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(bytes: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, bytes]);
    while (this.buffered.length >= 5 && this.buffered.length >= 1 + this.buffered.readInt32BE(1)) {
      const type = String.fromCharCode(this.buffered[0]!);
      this.buffered = this.buffered.subarray(1 + this.buffered.readInt32BE(1));
      const waiting = this.waiting;
      if (!waiting) continue;
      waiting.types.push(type);
      if (type === waiting.until) {
        this.waiting = undefined;
        waiting.resolve(waiting.types);
      }
    }
  }
}
