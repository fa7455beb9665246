import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { archive, freshStore } from "../../test/support/stores.js";
import { openDatabase } from "./database.js";
import { lockDataDir } from "./data-dir-lock.js";
import { MIGRATIONS_FOLDER, PgliteThread, PgliteThreadError, startPglite, TEMPLATES_DIR } from "./pglite-client.js";

describe("the PGlite thread", () => {
  it("keeps Postgres's SQLSTATE on errors, and answers after one", async () => {
    const store = await freshStore("pglite");
    try {
      // drizzle wraps driver errors; the thread's error, with its code, is the cause.
      const failed = (await store.database.db.execute(sql`select * from no_such_table`).catch((err: unknown) => err)) as Error;
      expect(failed.cause).toBeInstanceOf(PgliteThreadError);
      expect((failed.cause as PgliteThreadError).code).toBe("42P01");
      expect((failed.cause as PgliteThreadError).message).toContain("no_such_table");
      const rows = await store.database.db.execute(sql`select 41 + 1 as answer`);
      expect(rows).toEqual([{ answer: 42 }]);
    } finally {
      await store.cleanup();
    }
  });

  it("starts at once, and touches nothing of its store until the directory is locked", async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), "airlock-thread-"));
    const dir = path.join(parent, "pgdata");
    await mkdir(dir);
    try {
      let lockNow!: () => void;
      const locking = new Promise<void>((resolve) => (lockNow = resolve)).then(() => lockDataDir(dir));
      const starting = PgliteThread.start({ dataDir: dir, templatesDir: TEMPLATES_DIR, migrationsFolder: MIGRATIONS_FOLDER }, locking);
      // Time enough for the thread to load its code and open a store, were it not waiting.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await readdir(dir)).toEqual([]);
      lockNow();
      const thread = await starting;
      try {
        expect(await readdir(dir)).toContain("PG_VERSION");
        expect((await thread.send({ op: "query", sql: "select count(*)::int as n from api_keys", params: [], method: "all" })).rows).toEqual([[0]]); // rows as arrays, as drizzle asks
      } finally {
        await thread.close();
      }
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("names its operating-system thread, for top -H, perf and the bench", async () => {
    const store = await freshStore("pglite");
    try {
      const tasks = await readdir("/proc/self/task");
      const names = await Promise.all(tasks.map((task) => readFile(`/proc/self/task/${task}/comm`, "utf8").catch(() => "")));
      expect(names.map((name) => name.trim())).toContain("airlock-pglite");
    } finally {
      await store.cleanup();
    }
  });

  it("opens an in-memory copy of an archive given as bytes, shared or not, each copy its own and the bytes untouched", async () => {
    const source = await openDatabase({});
    let archive: Uint8Array;
    try {
      await source.execute("create table notes (body text); insert into notes values ('from the archive')");
      archive = new Uint8Array(await (await source.dump!()).arrayBuffer());
    } finally {
      await source.close();
    }
    const shared = new Uint8Array(new SharedArrayBuffer(archive.byteLength));
    shared.set(archive);
    // A view into a larger buffer, as a slice of a file read whole would be.
    const padded = new Uint8Array(archive.byteLength + 8);
    padded.set(archive, 4);
    const notes = (database: Awaited<ReturnType<typeof openDatabase>>) => database.db.execute(sql`select body from notes`);
    for (const bytes of [shared, shared, padded.subarray(4, 4 + archive.byteLength)]) {
      const copy = await openDatabase({ pgliteDump: bytes, migrate: false });
      try {
        expect(await notes(copy)).toEqual([{ body: "from the archive" }]);
        await copy.execute("insert into notes values ('this copy only')");
        expect(await notes(copy)).toHaveLength(2);
      } finally {
        await copy.close();
      }
    }
    expect(Buffer.from(shared).equals(archive)).toBe(true);
  });

  it("gives a store that serves 32 MB of shared buffers, and a brief one (a CLI command's) 4 MB", async () => {
    for (const [brief, expected] of [[false, "32MB"], [true, "4MB"]] as const) {
      const database = await openDatabase({ pglite: startPglite({ brief }) });
      try {
        expect(await database.db.execute(sql`show shared_buffers`)).toEqual([{ shared_buffers: expected }]);
      } finally {
        await database.close();
      }
    }
  });

  it("refuses queries once closed", async () => {
    // A store of its own: a test's store is lent from a pool, and its thread outlives the test.
    const database = await openDatabase({ pgliteDump: await archive("pgliteTemplate") });
    await database.close();
    const failed = (await database.db.execute(sql`select 1`).catch((err: unknown) => err)) as Error;
    expect((failed.cause as Error).message).toBe("the store is closed");
  });

  it("keeps its files to the user that runs it: the data directory is 0700, a new one or one made before", async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), "airlock-pgdata-"));
    try {
      const fresh = path.join(parent, "new", "pgdata");
      const earlier = path.join(parent, "old", "pgdata");
      await mkdir(earlier, { recursive: true, mode: 0o755 });
      for (const dataDir of [fresh, earlier]) {
        const database = await openDatabase({ dataDir });
        try {
          // Nobody else may read the ledger and the audit log, nor traverse to the files that hold them.
          expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
        } finally {
          await database.close();
        }
      }
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
