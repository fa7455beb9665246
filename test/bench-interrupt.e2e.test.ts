import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { creatorOf, dropStaleScratchDatabases, isRunning, scratchDatabaseName, scratchPostgres } from "../bench/support/scratch-postgres.js";
import { ROOT } from "../bench/support/root.js";
import { withConnection } from "./support/admin-sql.js";
import { STORE_KINDS } from "./support/stores.js";

const postgresUrl = process.env.AIRLOCK_TEST_DATABASE_URL || undefined;
const tmp = await mkdtemp(path.join(os.tmpdir(), "airlock-interrupt-test-"));
afterAll(() => rm(tmp, { recursive: true, force: true }));

const withClient = <T>(work: (client: pg.Client) => Promise<T>) => withConnection(postgresUrl!, work);

const scratchDatabasesOf = (pid: number) => withClient(async (client) => (await client.query<{ datname: string }>("select datname from pg_database where datname like 'airlock_bench_%'")).rows.map((row) => row.datname).filter((name) => creatorOf(name) === pid));

/** Pids of processes whose command line names `text`: what a run started, found by the data directory it was given. */
async function processesNaming(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}

describe("a bench stopped by a signal", () => {
  it("stops the gateways it started, drops its scratch databases, removes its data directories and exits 143", { timeout: 120_000 }, async () => {
    const runTmp = await mkdtemp(path.join(tmp, "run-"));
    const targets = postgresUrl ? "airlock-pglite,airlock-postgres" : "airlock-pglite";
    const lastTarget = postgresUrl ? "airlock (PostgreSQL)" : "airlock (PGlite)";
    const bench = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bench/run.ts"), "--smoke", "--targets", targets, "--out", path.join(runTmp, "out")], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: runTmp, DATABASE_URL: postgresUrl ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    bench.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const exited = once(bench, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    // Signalled once its last gateway is up and serving: the data directories and the database exist then.
    await new Promise<void>((resolve, reject) => {
      bench.stdout.on("data", (chunk: Buffer) => {
        output += chunk;
        if (output.includes(`${lastTarget}: started in`)) resolve();
      });
      void exited.then(() => reject(new Error(`the bench ended before its last target started:\n${output}`)));
    });
    // mkdtemp's directories (wrk's script, airlock-bench-<pid>.lua, lies beside them while a cell runs).
    const dataDirsIn = async (dir: string) => (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory() && entry.name.startsWith("airlock-bench-")).map((entry) => entry.name);
    const dataDirs = await dataDirsIn(runTmp);
    expect(dataDirs.length).toBeGreaterThan(0);
    // The gateway of the last target: the one process whose command names its data directory and Airlock's entry point.
    const gateways: number[] = [];
    for (const dir of dataDirs) gateways.push(...(await processesNaming(path.join(runTmp, dir))));
    expect(gateways.length).toBeGreaterThan(0);
    for (const pid of gateways) expect(await readFile(`/proc/${pid}/cmdline`, "utf8")).toContain("bin/airlock.js");
    if (postgresUrl) expect(await scratchDatabasesOf(bench.pid!)).toHaveLength(1);

    // To the bench alone, as a supervisor or `kill` sends it: its children hear nothing but what the bench does.
    bench.kill("SIGTERM");
    const [code] = await exited;
    // 128 + the signal's number, as a shell reports a process a signal ended.
    expect(code, output).toBe(143);
    expect(output).toContain("bench: stopped by SIGTERM; what it started is stopped and removed");
    expect(await dataDirsIn(runTmp)).toEqual([]);
    expect(gateways.filter(isRunning)).toEqual([]);
    if (postgresUrl) expect(await scratchDatabasesOf(bench.pid!)).toEqual([]);
  });
});

describe("a bench whose output is closed (npm run bench | head)", () => {
  it("stops the gateway it started and removes its data directory, as a signal does, and exits 141", { timeout: 120_000 }, async () => {
    const runTmp = await mkdtemp(path.join(tmp, "pipe-"));
    const bench = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bench/run.ts"), "--smoke", "--targets", "airlock-pglite", "--out", path.join(runTmp, "out")], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: runTmp },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let errors = "";
    bench.stderr.on("data", (chunk: Buffer) => (errors += chunk));
    const exited = once(bench, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      bench.stdout.on("data", (chunk: Buffer) => {
        output += chunk;
        if (output.includes("airlock (PGlite): started in")) resolve();
      });
      void exited.then(() => reject(new Error(`the bench ended before its target started:\n${output}${errors}`)));
    });
    const gateways = (await processesNaming(runTmp)).filter((pid) => pid !== bench.pid);
    expect(gateways.length).toBeGreaterThan(0);
    // The reader goes away, as `head` does once it has its lines: the bench's next line finds the pipe closed.
    bench.stdout.destroy();
    const [code] = await exited;
    expect(code, errors).toBe(141);
    expect(errors).toContain("bench: stopped: its output was closed; what it started is stopped and removed");
    expect((await readdir(runTmp, { withFileTypes: true })).filter((entry) => entry.isDirectory() && entry.name.startsWith("airlock-bench-"))).toEqual([]);
    expect(gateways.filter(isRunning)).toEqual([]);
  });
});

describe.runIf(STORE_KINDS.includes("postgres"))("scratch databases left by a killed bench", () => {
  it("are dropped by the next run when their bench no longer runs, and kept while it does", async () => {
    const gone = spawn(process.execPath, ["-e", ""]);
    await once(gone, "exit");
    const alive = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
    const stale = scratchDatabaseName(gone.pid!);
    const inUse = scratchDatabaseName(alive.pid!);
    try {
      await withClient(async (client) => {
        await client.query(`CREATE DATABASE ${stale}`);
        await client.query(`CREATE DATABASE ${inUse}`);
      });
      expect(await dropStaleScratchDatabases(postgresUrl!)).toContain(stale);
      const left = await withClient(async (client) => (await client.query<{ datname: string }>("select datname from pg_database where datname = any($1)", [[stale, inUse]])).rows.map((row) => row.datname));
      expect(left).toEqual([inUse]);
    } finally {
      alive.kill("SIGKILL");
      await withClient((client) => client.query(`DROP DATABASE IF EXISTS ${stale} WITH (FORCE)`).then(() => client.query(`DROP DATABASE IF EXISTS ${inUse} WITH (FORCE)`)));
    }
  });

  it("leave a database kept to look at (bench:ledger --keep) out of the sweep", async () => {
    const scratch = await scratchPostgres(postgresUrl!);
    const keptUrl = await scratch.keep();
    const kept = new URL(keptUrl).pathname.slice(1);
    try {
      expect(kept).toMatch(/^airlock_bench_kept_[0-9a-f]{8}$/);
      expect(creatorOf(kept)).toBeUndefined();
      expect(await dropStaleScratchDatabases(postgresUrl!)).not.toContain(kept);
      expect(await withClient(async (client) => (await client.query("select 1 from pg_database where datname = $1", [kept])).rowCount)).toBe(1);
    } finally {
      await withClient((client) => client.query(`DROP DATABASE IF EXISTS ${kept} WITH (FORCE)`));
    }
  });
});
