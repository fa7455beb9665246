import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { lockDataDir, lockFileOf, StoreInUseError } from "./data-dir-lock.js";
import { openDatabase } from "./database.js";

const LOCK_MODULE = pathToFileURL(fileURLToPath(new URL("./data-dir-lock.ts", import.meta.url))).href;
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "airlock-lock-"));
  dirs.push(dir);
  return path.join(dir, "pgdata");
}

/**
 * Another process that tries the lock on `dir`: it prints "locked" and holds it until killed, or
 * prints "refused <pid>" and exits.
 */
function lockingProcess(dir: string): { child: ChildProcess; said: Promise<string> } {
  const script = [
    `const { lockDataDir } = await import(${JSON.stringify(LOCK_MODULE)});`,
    `try { await lockDataDir(${JSON.stringify(dir)}); console.log("locked"); setInterval(() => {}, 60_000); }`,
    `catch (err) { console.log(err.name === "StoreInUseError" ? "refused " + err.holderPid : "failed " + err.message); }`,
  ].join("\n");
  const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const said = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").once("data", (text: string) => resolve(text.trim()));
    child.once("exit", (code) => reject(new Error(`the process exited (code ${code}) without a word`)));
  });
  return { child, said };
}

async function holderProcess(dir: string): Promise<ChildProcess> {
  const { child, said } = lockingProcess(dir);
  expect(await said).toBe("locked");
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

const lockOf = async (dir: string) => JSON.parse(await readFile(await lockFileOf(dir), "utf8")) as { pid: number; startTicks?: number; token: string };

/** A lock file left by a process that is gone. */
async function staleLock(dir: string): Promise<number> {
  const holder = await holderProcess(dir);
  await killed(holder); // as by a crash or `kill -9`: its lock file stays
  return holder.pid!;
}

/** The refusal of a lock on `dir`, which must come, naming `holderPid`. */
async function refusal(dir: string, holderPid: number | undefined): Promise<StoreInUseError> {
  const refused = await lockDataDir(dir).catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(StoreInUseError);
  expect((refused as StoreInUseError).holderPid).toBe(holderPid);
  return refused as StoreInUseError;
}

describe("the embedded store's data-directory lock", () => {
  it("refuses a second lock in the same process until the first is released, and leaves no file behind", async () => {
    const dir = await dataDir();
    const first = await lockDataDir(dir);
    const refused = await refusal(dir, process.pid);
    // Its holder is alive in this very process: deleting the lock file is not advice to give.
    expect(refused.message).toContain(`is already open in this process (pid ${process.pid})`);
    expect(refused.message).not.toContain(await lockFileOf(dir));
    await first.release();
    await expect(stat(await lockFileOf(dir))).rejects.toMatchObject({ code: "ENOENT" });
    const second = await lockDataDir(dir);
    await second.release();
  });

  it("refuses a lock another live process holds, and takes it over once that process is killed", async () => {
    const dir = await dataDir();
    const holder = await holderProcess(dir);
    const refused = await refusal(dir, holder.pid);
    expect(refused.message).toContain(`(pid ${holder.pid})`);

    await killed(holder);
    expect(await lockOf(dir)).toMatchObject({ pid: holder.pid });
    const taken = await lockDataDir(dir);
    expect(await lockOf(dir)).toMatchObject({ pid: process.pid });
    await taken.release();
  });

  it("keeps a child process off the lock its parent holds", async () => {
    const dir = await dataDir();
    const held = await lockDataDir(dir);
    expect(await lockingProcess(dir).said).toBe(`refused ${process.pid}`);
    await held.release();
  });

  it("lets exactly one of several openers take over a stale lock at once, in one process or in several", async () => {
    const deadPid = await staleLock(await dataDir());
    // Racing openers interleave differently each time: 20 rounds of 8 at once.
    for (let round = 0; round < 20; round++) {
      const dir = await dataDir();
      await writeFile(await lockFileOf(dir), JSON.stringify({ pid: deadPid, token: "dead", since: new Date().toISOString() }));
      const tries = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)));
      const won = tries.flatMap((t) => (t.status === "fulfilled" ? [t.value] : []));
      for (const lock of won) await lock.release();
      expect(won).toHaveLength(1);
      expect(tries.filter((t) => t.status === "rejected").every((t) => t.reason instanceof StoreInUseError)).toBe(true);
    }

    const dir = await dataDir();
    await staleLock(dir);
    const said = await Promise.all(Array.from({ length: 4 }, () => lockingProcess(dir).said));
    expect(said.filter((word) => word === "locked")).toHaveLength(1);
    expect(said.filter((word) => word.startsWith("refused "))).toHaveLength(3);
  });

  it("takes over a lock whose pid now belongs to a process that started at another time, this one's included", async () => {
    const dir = await dataDir();
    const holder = await holderProcess(dir);
    const left = await lockOf(dir);
    expect(left.startTicks).toEqual(expect.any(Number)); // Linux: the start time is recorded
    // The same live pid, as if it had been given to a new process after the holder's death.
    await writeFile(await lockFileOf(dir), JSON.stringify({ ...left, startTicks: left.startTicks! - 1 }));
    const taken = await lockDataDir(dir);
    expect(holder.exitCode).toBeNull(); // the live process was never touched
    const mine = await lockOf(dir);
    await taken.release();

    // This process's own pid, left by an earlier process (a container restarted): taken over. With
    // this process's start time too, another thread of this process holds it: refused.
    await writeFile(await lockFileOf(dir), JSON.stringify({ ...mine, token: "earlier", startTicks: mine.startTicks! - 1 }));
    await (await lockDataDir(dir)).release();
    await writeFile(await lockFileOf(dir), JSON.stringify({ ...mine, token: "another-thread" }));
    await expect(lockDataDir(dir)).rejects.toBeInstanceOf(StoreInUseError);
  });

  it("is one lock for a directory reached through a symlinked folder, and stays beside a data directory that is itself a link", async () => {
    const dir = await dataDir();
    await mkdir(dir);
    const project = path.dirname(dir);
    const linkedProject = `${project}-link`;
    await symlink(project, linkedProject);
    dirs.push(linkedProject);
    const held = await lockDataDir(dir);
    await expect(lockDataDir(path.join(linkedProject, "pgdata"))).rejects.toBeInstanceOf(StoreInUseError);
    await held.release();

    const volume = await mkdtemp(path.join(os.tmpdir(), "airlock-volume-"));
    dirs.push(volume);
    const linked = path.join(project, "linked-pgdata");
    await symlink(volume, linked);
    const beside = await lockDataDir(linked);
    expect(beside.file).toBe(`${linked}.lock`);
    await beside.release();
  });

  it("takes over a lock file that stays empty (its writer died between creating and writing it)", async () => {
    const dir = await dataDir();
    await writeFile(await lockFileOf(dir), "");
    const taken = await lockDataDir(dir);
    expect(await lockOf(dir)).toMatchObject({ pid: process.pid });
    await taken.release();
  });

  it("keeps a second store off a data directory that is open, which goes on answering; once it closes, the directory opens again", async () => {
    const dir = await dataDir();
    const first = await openDatabase({ dataDir: dir });
    try {
      const refused = await openDatabase({ dataDir: dir }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(StoreInUseError);
      expect(await first.db.execute(sql`select count(*)::int as n from api_keys`)).toEqual([{ n: 0 }]);
    } finally {
      await first.close();
    }
    await expect(stat(await lockFileOf(dir))).rejects.toMatchObject({ code: "ENOENT" });
    const again = await openDatabase({ dataDir: dir });
    await again.close();
  });

  it("refuses a store another process holds before its thread touches a file of it, and opens it once that process is gone", async () => {
    const dir = await dataDir();
    const holder = await holderProcess(dir);
    const lockFile = await lockFileOf(dir);
    // The store's thread starts while the lock is being taken; refused, it must end without opening.
    const refused = await openDatabase({ dataDir: dir }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StoreInUseError);
    expect((refused as StoreInUseError).holderPid).toBe(holder.pid);
    expect(await readdir(dir)).toEqual([]); // made private for the store, and left empty
    expect(await lockOf(dir)).toMatchObject({ pid: holder.pid });
    await killed(holder);
    const database = await openDatabase({ dataDir: dir });
    try {
      expect(await database.db.execute(sql`select count(*)::int as n from api_keys`)).toEqual([{ n: 0 }]);
      expect(await readdir(dir)).toContain("PG_VERSION");
      expect(await lockOf(dir)).toMatchObject({ pid: process.pid });
    } finally {
      await database.close();
    }
    await expect(stat(lockFile)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("lets the workflow engine's store be opened again after its lock refused it once", async () => {
    const dir = await dataDir();
    const database = await openDatabase({ dataDir: dir });
    try {
      const other = await lockDataDir(path.join(path.dirname(dir), "workflows")); // as a process still closing
      await expect(database.workflowsUrl()).rejects.toBeInstanceOf(StoreInUseError);
      await other.release();
      expect(await database.workflowsUrl()).toMatch(/^postgres:\/\/.+@127\.0\.0\.1:\d+\/postgres$/);
    } finally {
      await database.close();
    }
  });
});
