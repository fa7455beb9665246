import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { systemIdentifier } from "../../test/support/stores.js";
import { PgliteThread, startPglite } from "./pglite-client.js";

describe("a new embedded store", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function dir(): Promise<string> {
    const made = await mkdtemp(path.join(os.tmpdir(), "airlock-template-"));
    cleanups.push(() => rm(made, { recursive: true, force: true }));
    return path.join(made, "pgdata");
  }

  function opened(thread: PgliteThread): PgliteThread {
    cleanups.push(() => thread.close());
    return thread;
  }

  it("starts as a copy of the build's initdb template, on disk and in memory", async () => {
    const onDisk = opened(await startPglite({ dataDir: await dir(), migrate: false }));
    const inMemory = opened(await startPglite({ migrate: false }));
    expect(await systemIdentifier(onDisk)).toBe(await systemIdentifier(inMemory));
    await onDisk.send({ op: "exec", sql: "create table notes (body text); insert into notes values ('kept')" });
    expect((await onDisk.send({ op: "query", sql: "select body from notes", params: [], method: "execute" })).rows).toEqual([{ body: "kept" }]);
  });

  it("opens a data directory that already holds a store as it is, never from the template", async () => {
    const dataDir = await dir();
    const first = await startPglite({ dataDir, migrate: false });
    const identifier = await systemIdentifier(first);
    await first.send({ op: "exec", sql: "create table notes (body text); insert into notes values ('kept')" });
    await first.close();
    const again = opened(await startPglite({ dataDir, migrate: false }));
    expect(await systemIdentifier(again)).toBe(identifier);
    expect((await again.send({ op: "query", sql: "select body from notes", params: [], method: "execute" })).rows).toEqual([{ body: "kept" }]);
  });

  it("runs initdb when there is no template for its PGlite", async () => {
    const copied = opened(await startPglite({ migrate: false }));
    const noTemplates = await dir();
    const initialized = opened(await PgliteThread.start({ dataDir: await dir(), templatesDir: noTemplates }));
    expect(await systemIdentifier(initialized)).not.toBe(await systemIdentifier(copied));
    expect((await initialized.send({ op: "query", sql: "select 41 + 1 as answer", params: [], method: "execute" })).rows).toEqual([{ answer: 42 }]);
  });
});
