import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { inject } from "vitest";
import { archive, type TemplateName } from "./stores.js";

/**
 * Runs Airlock the way an operator does: `node <the CLI> …` as a child process with its own
 * working directory and an explicit environment. Every child is tracked, so `killAll()` in an
 * afterEach/afterAll leaves nothing running even when a test fails half way.
 */

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** What `npm start` and the `airlock` bin run: the bundle that `npm run build` writes. */
const BUILT_BIN = path.join(REPO_ROOT, "bin/airlock.js");
const BUILT_BUNDLE = path.join(REPO_ROOT, "dist/bundle/airlock.js");

/**
 * `source` runs src/ as it is now, bundled once per test run (global-setup.ts); `build` runs the built
 * bin, as users do.
 */
export type CliEntry = "source" | "build";

const live = new Set<ChildProcess>();

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningProcess {
  proc: ChildProcess;
  /** Settles when the process exits, with its code (or the signal that ended it). */
  exited: Promise<ExitStatus>;
  stdout(): string;
  stderr(): string;
}

/** `nodeArgs` go to Node itself, before the entry (V8's flags, say). */
function launch(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; entry?: CliEntry; nodeArgs?: string[] }): RunningProcess {
  if (options.entry === "build" && !existsSync(BUILT_BUNDLE)) throw new Error(`${BUILT_BUNDLE} is missing: run \`npm run build\` first (npm ci runs it)`);
  const entry = options.entry === "build" ? [BUILT_BIN] : [inject("cliBundle")];
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(proc);
  let out = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<ExitStatus>((resolve) => {
    proc.once("error", (error) => {
      err += `\n[spawn error] ${error.message}`;
      live.delete(proc);
      resolve({ code: null, signal: null });
    });
    // "close", not "exit": by then stdout and stderr are fully read.
    proc.once("close", (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });
  return { proc, exited, stdout: () => out, stderr: () => err };
}

/**
 * An environment built from nothing: only what Node needs to run, plus what the test passes. Nothing
 * from the parent leaks in (DATABASE_URL, OTEL_*, AIRLOCK_*, PORT), so a test states every input.
 */
export function isolatedEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG", "SystemRoot"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env.NO_COLOR = "1";
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

export function randomAdminKey(): string {
  return "sk-al-admin-test-" + randomBytes(18).toString("base64url");
}

export interface GatewayProcess extends RunningProcess {
  url: string;
  port: number;
  /** Everything the gateway wrote to stdout and stderr so far. */
  logs(): string;
  /** The stdout lines that are JSON (pino), parsed. */
  logLines(): Array<Record<string, unknown>>;
  /** Sends the signal and waits for the exit; SIGKILLs after `timeoutMs`. Resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface SpawnGatewayOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Arguments after `start`. */
  args?: string[];
  /** How long to wait for the "listening" line. */
  startTimeoutMs?: number;
  entry?: CliEntry;
}

/** Starts `airlock start …` and resolves once the gateway has logged its URL. */
export async function spawnGateway(options: SpawnGatewayOptions): Promise<GatewayProcess> {
  const running = launch(["start", ...(options.args ?? [])], options);
  const timeoutMs = options.startTimeoutMs ?? 25_000;
  const describe = () => `\n--- stdout ---\n${running.stdout()}\n--- stderr ---\n${running.stderr()}`;

  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let partial = "";
    const onData = (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const parsed = parseJsonLine(line);
        if (parsed && typeof parsed.msg === "string" && parsed.msg.startsWith("Airlock gateway listening") && typeof parsed.url === "string") {
          done();
          resolve(parsed);
          return;
        }
      }
    };
    const timer = setTimeout(() => {
      done();
      running.proc.kill("SIGKILL");
      reject(new Error(`gateway did not log "listening" within ${timeoutMs} ms${describe()}`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      // Let the last output arrive before reporting it.
      void running.exited.then(() => reject(new Error(`gateway exited (code ${code}, signal ${signal}) before listening${describe()}`)));
    };
    function done() {
      clearTimeout(timer);
      running.proc.stdout!.off("data", onData);
      running.proc.off("exit", onExit);
    }
    running.proc.stdout!.on("data", onData);
    running.proc.once("exit", onExit);
  });

  const url = String(listening.url);
  return {
    ...running,
    url,
    port: Number(new URL(url).port),
    logs: () => running.stdout() + running.stderr(),
    logLines: () => running.stdout().split("\n").map(parseJsonLine).filter((l): l is Record<string, unknown> => l !== undefined),
    stop: async (signal = "SIGTERM", timeoutMs = 20_000) => {
      if (running.proc.exitCode === null && running.proc.signalCode === null) running.proc.kill(signal);
      const timer = setTimeout(() => running.proc.kill("SIGKILL"), timeoutMs);
      try {
        return (await running.exited).code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `airlock <args>` to completion. */
export async function runCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; entry?: CliEntry; nodeArgs?: string[] }): Promise<CliResult> {
  const running = launch(args, options);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    running.proc.kill("SIGKILL");
  }, timeoutMs);
  const { code } = await running.exited.finally(() => clearTimeout(timer));
  if (timedOut) throw new Error(`airlock ${args.join(" ")} did not finish within ${timeoutMs} ms\n${running.stdout()}\n${running.stderr()}`);
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

/** SIGKILLs every child still running; waits until they are gone. */
export async function killAll(): Promise<void> {
  const waits: Array<Promise<unknown>> = [];
  for (const proc of live) {
    waits.push(new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve(undefined) : proc.once("close", resolve))));
    proc.kill("SIGKILL");
  }
  await Promise.all(waits);
}

// Last resort if a worker exits without its hooks running.
process.once("exit", () => {
  for (const proc of live) proc.kill("SIGKILL");
});

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Temp directories that `removeTempDirs()` deletes. */
const tempDirs: string[] = [];
/** The PGlite directories that `seedDataDir` copies, made once each from the run's templates. */
const seeded = new Map<TemplateName, Promise<string>>();

export async function tempDir(prefix = "airlock-e2e-"): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  const dirs = tempDirs.splice(0);
  seeded.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/** A port that was free a moment ago, on every address, and that the system does not hand out by itself. */
export async function freePort(): Promise<number> {
  // Below the range the system hands out for listen(0) and for outgoing connections: a port from that
  // range was taken by another test's connection between this check and the gateway's own listen.
  const ephemeralFrom = Number((await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => "")).split(/\s+/)[0]) || 32_768;
  const from = Math.max(1_024, ephemeralFrom - 12_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * (ephemeralFrom - from));
    if (await listensOn(port)) return port;
  }
  throw new Error(`no free port found below ${ephemeralFrom}`);
}

/**
 * An http:// URL on loopback where nothing listens: a free port, as `freePort` picks them. Not a fixed
 * low port such as 1 or 9: `fetch` refuses those (the Fetch standard's "bad ports") before it connects.
 */
export async function urlWhereNothingListens(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/** True when `port` could be listened on, on every address (a gateway's default host), and is free again. */
function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

/**
 * Gives `<dataDir>/pgdata` an already migrated PGlite store, copied from the run's template: a fresh
 * data directory costs the build's initdb template and every migration (about 2 s here), a copy a fraction of a second. The
 * gateway still opens and migrates it exactly as it would its own. With `workflows`, the workflow
 * engine's store beside it (`<dataDir>/workflows`) is seeded the same way, for a gateway that runs directives.
 */
export async function seedDataDir(dataDir: string, options: { workflows?: boolean } = {}): Promise<void> {
  await cp(await seedOf("pgliteTemplate"), path.join(dataDir, "pgdata"), { recursive: true });
  if (options.workflows) await cp(await seedOf("workflowsTemplate"), path.join(dataDir, "workflows"), { recursive: true });
}

function seedOf(template: TemplateName): Promise<string> {
  let dir = seeded.get(template);
  if (!dir) {
    dir = (async () => {
      const made = path.join(await tempDir("airlock-e2e-seed-"), "pgdata");
      const pg = new PGlite(made, { loadDataDir: new Blob([(await archive(template)).slice()]) });
      await pg.waitReady;
      await pg.close();
      return made;
    })();
    seeded.set(template, dir);
  }
  return dir;
}

/** A fresh working directory (no config unless the test writes one) and its data directory. */
export async function workspace(): Promise<{ cwd: string; dataDir: string }> {
  const cwd = await tempDir();
  return { cwd, dataDir: path.join(cwd, "data") };
}
