import { mkdir, mkdtemp, rm, truncate, unlink } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "../../test/support/stores.js";
import { openDatabase } from "./database.js";
import { AirlockError } from "../core/errors.js";
import { StoreOpenError } from "./open-error.js";
import { startPglite } from "./pglite-client.js";

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const failure = (opening: Promise<unknown>) => opening.then(() => expect.fail("the store opened"), (err: unknown) => err as Error);

describe("a store that cannot be opened", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("names the PostgreSQL store, without its password, when the server does not answer", async () => {
    const port = await closedPort();
    const err = await failure(openDatabase({ url: `postgres://app:pa55-w0rd@127.0.0.1:${port}/airlock?sslpassword=pa55-w0rd` }));
    expect(err).toBeInstanceOf(StoreOpenError);
    expect(err.message).toBe(`cannot open the PostgreSQL store at postgres://app:***@127.0.0.1:${port}/airlock: connect ECONNREFUSED 127.0.0.1:${port}`);
    // An AirlockError worth another try: the server may be restarting. Its OpenAI shape holds no password either.
    expect(err).toBeInstanceOf(AirlockError);
    expect(err).toMatchObject({ code: "unavailable", status: 503, isRetryable: true });
    expect(JSON.stringify((err as AirlockError).toJSON())).not.toContain("pa55-w0rd");
  });

  it("refuses a URL the driver would misread, without repeating it", async () => {
    for (const url of ["app:pa55-w0rd@127.0.0.1:5432/airlock", "mysql://app:pa55-w0rd@127.0.0.1/airlock"]) {
      const err = await failure(openDatabase({ url }));
      expect(err.message).toBe("cannot open the PostgreSQL store: its URL (DATABASE_URL) does not start with postgres:// or postgresql:// (expected postgres://user:password@host:5432/database)");
      expect(err).toMatchObject({ name: "StoreOpenError", code: "unavailable", isRetryable: false });
    }
  });

  it("is not worth another try when the URL itself is wrong, and does not repeat its password", async () => {
    const err = await failure(openDatabase({ url: "postgres://app:pa55-w0rd@127.0.0.1:notaport/airlock" }));
    expect(err).toMatchObject({ name: "StoreOpenError", code: "unavailable", isRetryable: false, message: "cannot open the PostgreSQL store at postgres://app:***@127.0.0.1:notaport/airlock: Invalid URL" });
  });

  if (STORE_KINDS.includes("postgres")) {
    it("names the PostgreSQL store when the server refuses it", async () => {
      const url = new URL(process.env.AIRLOCK_TEST_DATABASE_URL!);
      url.pathname = "/airlock_missing_database";
      const err = await failure(openDatabase({ url: url.href }));
      expect(err.message).toMatch(/^cannot open the PostgreSQL store at postgres:\/\/.*\/airlock_missing_database: database "airlock_missing_database" does not exist$/);
      // The server answered no: no wait creates the database.
      expect(err).toMatchObject({ name: "StoreOpenError", code: "unavailable", isRetryable: false });
    });
  }

  it("names the embedded store's directory when its files are damaged or cannot be written", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "airlock-open-error-"));
    dirs.push(root);
    const dataDir = path.join(root, "data dir ✓", "pgdata");
    await (await startPglite({ dataDir, migrate: false })).close();

    // A file PGlite writes as it opens is a directory: its file system fails without a message.
    await unlink(path.join(dataDir, "postgresql.conf"));
    await mkdir(path.join(dataDir, "postgresql.conf"));
    expect((await failure(startPglite({ dataDir, migrate: false }))).message).toBe(`cannot open the embedded store in ${dataDir}: EISDIR: is a directory`);

    await rm(path.join(dataDir, "postgresql.conf"), { recursive: true });
    await truncate(path.join(dataDir, "global", "pg_control"), 0);
    const damaged = await failure(startPglite({ dataDir, migrate: false }));
    expect(damaged).toBeInstanceOf(StoreOpenError);
    expect(damaged.message).toBe(`cannot open the embedded store in ${dataDir}: PGlite stopped while reading its files, which are damaged or incomplete (restore the directory from a backup)`);
    expect(damaged).toMatchObject({ code: "unavailable", isRetryable: false });
  });
});
