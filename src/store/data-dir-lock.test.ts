import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
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

/** Another process that takes the lock on `dir` and holds it until it is killed. */
async function holderProcess(dir: string): Promise<ChildProcess> {
  const script = `const { lockDataDir } = await import(${JSON.stringify(LOCK_MODULE)}); await lockDataDir(${JSON.stringify(dir)}); console.log("locked"); setInterval(() => {}, 60_000);`;
  const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (text: string) => text.includes("locked") && resolve());
    child.once("exit", (code) => reject(new Error(`the holder exited (code ${code})`)));
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("the embedded store's data-directory lock", () => {
  it("refuses a second lock in the same process until the first is released, and leaves no file behind", async () => {
    const dir = await dataDir();
    const first = await lockDataDir(dir);
    const refused = await lockDataDir(dir).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StoreInUseError);
    expect((refused as StoreInUseError).holderPid).toBe(process.pid);
    expect((refused as Error).message).toContain(`delete ${lockFileOf(dir)}`);
    await first.release();
    await expect(stat(lockFileOf(dir))).rejects.toMatchObject({ code: "ENOENT" });
    const second = await lockDataDir(dir);
    await second.release();
  });

  it("refuses a lock another live process holds, and takes it over once that process is killed", async () => {
    const dir = await dataDir();
    const holder = await holderProcess(dir);
    const refused = await lockDataDir(dir).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StoreInUseError);
    expect((refused as StoreInUseError).holderPid).toBe(holder.pid);
    expect((refused as Error).message).toContain(`(pid ${holder.pid})`);

    await killed(holder); // as by a crash or `kill -9`: its lock file stays
    expect(JSON.parse(await readFile(lockFileOf(dir), "utf8"))).toMatchObject({ pid: holder.pid });
    const taken = await lockDataDir(dir);
    expect(JSON.parse(await readFile(lockFileOf(dir), "utf8"))).toMatchObject({ pid: process.pid });
    await taken.release();
  });

  it("takes over a lock whose pid now belongs to a process that started at another time", async () => {
    const dir = await dataDir();
    const holder = await holderProcess(dir);
    const left = JSON.parse(await readFile(lockFileOf(dir), "utf8")) as { startTicks?: number };
    expect(left.startTicks).toEqual(expect.any(Number)); // Linux: the start time is recorded
    // The same live pid, as if it had been given to a new process after the holder's death.
    await writeFile(lockFileOf(dir), JSON.stringify({ ...left, startTicks: left.startTicks! - 1 }));
    const taken = await lockDataDir(dir);
    await taken.release();
    expect(holder.exitCode).toBeNull(); // the live process was never touched
  });

  it("is one lock for a directory reached through a symlink", async () => {
    const dir = await dataDir();
    await mkdir(dir);
    const link = path.join(path.dirname(dir), "linked");
    await symlink(dir, link);
    const held = await lockDataDir(dir);
    await expect(lockDataDir(link)).rejects.toBeInstanceOf(StoreInUseError);
    await held.release();
  });

  it("takes over a lock file that stays empty (its writer died between creating and writing it)", async () => {
    const dir = await dataDir();
    await writeFile(lockFileOf(dir), "");
    const taken = await lockDataDir(dir);
    expect(JSON.parse(await readFile(lockFileOf(dir), "utf8"))).toMatchObject({ pid: process.pid });
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
    await expect(stat(lockFileOf(dir))).rejects.toMatchObject({ code: "ENOENT" });
    const again = await openDatabase({ dataDir: dir });
    await again.close();
  });
});
