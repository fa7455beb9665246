import { spawn } from "node:child_process";
import { watch } from "node:fs";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sql } from "drizzle-orm";
import { GATEWAY_FILE } from "../../src/gateway/data-dir.js";
import { ROOT } from "../support/root.js";
import { benchServerUrl, scratchPostgres, type ScratchDatabase } from "../support/scratch-postgres.js";
import { interrupted } from "../support/interrupt.js";
import { killOnInterrupt, stopProcess, type Service } from "../support/spawn.js";

/**
 * The Airlock gateway as users run it: `node bin/airlock.js start` from the build, with a config that
 * points at the bench upstream, a real API key, the default logger, and the ledger on.
 */

const BIN = path.join(ROOT, "bin/airlock.js");
/** The same CLI as tsc wrote it, one file per module. */
const UNBUNDLED_MAIN = path.join(ROOT, "dist/cli/main.js");

export type StoreKind = "pglite" | "postgres";

export interface AirlockSetup {
  dataDir: string;
  store: StoreKind;
  /** The scratch PostgreSQL database for the `postgres` store. */
  databaseUrl?: string;
  adminKey: string;
  upstreamBaseUrl: string;
  workers?: number;
  /** Extra Node flags, e.g. `--cpu-prof` for bench/profile.ts. */
  nodeArgs?: string[];
  /** Runs the unbundled build, so that a profile names each package and file instead of the bundle's chunks. */
  unbundled?: boolean;
  /** Another checkout's built `bin/airlock.js` (bench/compare.ts runs two builds side by side). */
  bin?: string;
  /** Upstream models beyond `delay-0` and `delay-50`, say `paced-200` (bench/upstream.ts). */
  extraModels?: string[];
}

/** Where a gateway the bench starts keeps its state: a data directory, and for PostgreSQL a scratch database of its own. */
export interface AirlockPlace {
  dataDir: string;
  /** The scratch database's URL, for the `postgres` store. */
  databaseUrl: string | undefined;
  /** Takes both away, the directory whatever became of the database: a scratch database left behind outlives the run. */
  remove(): Promise<void>;
}

/** Makes a place for one gateway: a new directory named `<prefix>…`, and a scratch database on `serverUrl` for the `postgres` store. */
export async function airlockPlace(store: StoreKind, prefix: string, serverUrl = benchServerUrl()): Promise<AirlockPlace> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), prefix));
  let scratch: ScratchDatabase | undefined;
  const remove = async () => {
    await scratch?.drop().catch((err: Error) => console.error(`a scratch database was left behind: ${err.message}`));
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    if (store === "postgres") scratch = await scratchPostgres(serverUrl);
  } catch (err) {
    await remove();
    throw err;
  }
  return { dataDir, databaseUrl: scratch?.url, remove };
}

export interface AirlockTarget extends Service {
  baseUrl: string;
  /** Milliseconds from spawn to the first 200 on a real chat completion. */
  startupMs: number;
  /** Requests this process answered before the caller took over (the startup probe's one call). */
  callsDuringStartup: number;
}

export async function writeAirlockConfig(setup: AirlockSetup): Promise<string> {
  const file = path.join(setup.dataDir, "airlock.config.yaml");
  const price = `{ input: "0.15", cachedInput: "0.075", output: "0.60", per: "1M" }`;
  await writeFile(
    file,
    [
      "server:",
      '  host: "127.0.0.1"',
      "providers:",
      "  upstream:",
      "    type: openai-compatible",
      `    baseUrl: "${setup.upstreamBaseUrl}"`,
      '    apiKey: "env:BENCH_UPSTREAM_KEY"',
      "models:",
      `  - { id: "upstream/delay-0", price: ${price} }`,
      `  - { id: "upstream/delay-50", price: ${price} }`,
      ...(setup.extraModels ?? []).map((model) => `  - { id: "upstream/${model}", price: ${price} }`),
      // Guards on, as in production: a budget every call reserves from and settles to, and a rate
      // limit every call takes a permit from. Both far above what the bench spends.
      "budgets:",
      '  - { name: bench-daily, scope: global, limit: "1000000" }',
      "rateLimits:",
      "  - { name: per-key, scope: key, requestsPerMinute: 100000000 }",
      "",
    ].join("\n"),
  );
  return file;
}

/** Starts the gateway and times it until a real chat call (with `apiKey`) first returns 200. */
export async function startAirlock(setup: AirlockSetup, port: number, apiKey: string | undefined): Promise<AirlockTarget> {
  const config = await writeAirlockConfig(setup);
  const args = [...(setup.nodeArgs ?? []), setup.bin ?? (setup.unbundled ? UNBUNDLED_MAIN : BIN), "start", "--config", config, "--data-dir", setup.dataDir, "--port", String(port)];
  if (setup.workers) args.push("--workers", String(setup.workers));
  const gatewayFile = path.join(setup.dataDir, GATEWAY_FILE);
  await rm(gatewayFile, { force: true });
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: setup.dataDir,
    env: {
      ...process.env,
      AIRLOCK_ADMIN_KEY: setup.adminKey,
      BENCH_UPSTREAM_KEY: "sk-bench-upstream",
      DATABASE_URL: setup.databaseUrl ?? "",
      NODE_ENV: "production",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  // Watched from the same tick as the spawn: the child cannot have listened yet.
  const listening = fileAppears(gatewayFile);
  let deadline: NodeJS.Timeout | undefined;
  // A stopped bench stops the gateway it is starting: its exit ends the wait below, rather than up to 30 s of it.
  const release = killOnInterrupt(child);
  const failed = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(`airlock exited with ${signal ?? `code ${code}`} during startup`));
    child.once("error", (err) => resolve(`airlock could not be started: ${err.message}`));
    deadline = setTimeout(() => resolve("airlock did not start within 30 s"), 30_000);
  });
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  const probe = {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey ?? setup.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "delay-0", messages: [{ role: "user", content: "ready?" }] }),
  };
  try {
    for (;;) {
      // Failure first: once settled, it wins over a listening file found earlier.
      const failure = await Promise.race([failed, listening.found.then(() => undefined)]);
      interrupted.throwIfAborted();
      if (failure !== undefined) throw new Error(failure);
      try {
        const res = await fetch(`${baseUrl}/chat/completions`, probe);
        await res.arrayBuffer();
        if (res.status === 200) {
          return { child, pid: child.pid!, baseUrl, startupMs: performance.now() - spawnedAt, callsDuringStartup: 1, stop: () => stopProcess(child, 15_000) };
        }
        throw new Error(`airlock answered ${res.status} to the startup probe`);
      } catch (err) {
        if (err instanceof Error && err.message.startsWith("airlock answered")) throw err;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    throw err;
  } finally {
    clearTimeout(deadline);
    release();
    listening.close();
  }
}

/**
 * Resolves once `file` exists. The gateway writes `gateway.json` as soon as it listens, and waiting
 * for it costs no CPU, where asking for a chat completion every 2 ms cost the bench's own process
 * half a core (400 failed fetches in 1.5 s took 0.75 s of CPU), taken from the start it measured on
 * a 2-core machine. A file watch hears it at once; a look every 100 ms covers a file system that
 * does not report it.
 */
function fileAppears(file: string): { found: Promise<void>; close(): void } {
  const watcher = watch(path.dirname(file));
  let look: NodeJS.Timeout | undefined;
  const found = new Promise<void>((resolve) => {
    watcher.on("change", (_event, name) => {
      if (name === path.basename(file)) resolve();
    });
    watcher.on("error", () => undefined); // the look below still finds it
    look = setInterval(() => void access(file).then(resolve, () => undefined), 100);
  });
  return {
    found,
    close: () => {
      watcher.close();
      clearInterval(look);
    },
  };
}

export async function createUserKey(target: AirlockTarget, adminKey: string): Promise<string> {
  const res = await fetch(target.baseUrl.replace(/\/v1$/, "/admin/keys"), {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench", kind: "service", team: "bench" }),
  });
  if (res.status !== 201) throw new Error(`creating the bench key answered ${res.status}`);
  return ((await res.json()) as { key: string }).key;
}

/**
 * What the gateway's ledger holds after a run, read from the store once the gateway stopped and
 * flushed: every row, and those that are not what the bench's calls should be. wrk counts only HTTP statuses, and a stream that answers 200 can still end in an error
 * event: a row that failed, or whose cost was not priced or its usage estimated, shows it. A call whose
 * client went away (`client_closed`) is counted in neither: wrk leaves the calls in flight when a run's
 * time is up, and a stream cut so is billed for what it delivered, its usage estimated.
 */
export async function ledgerTally(setup: AirlockSetup): Promise<LedgerTally> {
  const { openDatabase } = (await import(path.join(ROOT, "dist/store/database.js"))) as typeof import("../../src/store/database.js");
  const { rowsOf } = (await import(path.join(ROOT, "dist/store/queries/rows.js"))) as typeof import("../../src/store/queries/rows.js");
  const database = await openDatabase(setup.databaseUrl ? { url: setup.databaseUrl } : { dataDir: path.join(setup.dataDir, "pgdata") });
  try {
    const result = await database.db.execute(sql`select count(*)::int as rows,
      (count(*) filter (where outcome <> 'success' and error_code is distinct from 'client_closed'))::int as failed,
      (count(*) filter (where (price_missing or usage_estimated) and error_code is distinct from 'client_closed'))::int as unpriced
      from ledger`);
    return rowsOf<LedgerTally>(result)[0]!;
  } finally {
    await database.close();
  }
}

export interface LedgerTally {
  rows: number;
  /** Rows whose call failed or was refused, its client still there. */
  failed: number;
  /** Rows whose price was missing or whose usage was estimated. */
  unpriced: number;
}
