import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
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
function replayState(thread: PgliteThread): Promise<{ redo: string; replay: number }> {
  return query(thread, "select redo_lsn::text as redo, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), redo_lsn)::float8 as replay from pg_control_checkpoint()");
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
});
