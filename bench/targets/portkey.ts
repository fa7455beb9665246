// Portkey AI Gateway (open-source, Node build) as a bench target.
// Installed on demand into a temp folder so the repo never depends on it.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { interrupted } from "../support/interrupt.js";

/**
 * What the bench installs, pinned whole: `portkey/package.json` names @portkey-ai/gateway 1.15.2 and
 * `portkey/package-lock.json` every package beneath it, so that each machine measures the same code.
 * Portkey declares @hono/node-server ^1.3.3, which now resolves to 1.19.x: its immutable Response
 * headers make every streamed chat completion a 500 "TypeError: immutable" (Portkey #1389, #1550), so
 * the package pins 1.14.1 through `overrides`, which the install checks it got.
 */
const PINNED = join(dirname(fileURLToPath(import.meta.url)), "portkey");
/** Written once `npm ci` has succeeded, with the lockfile's hash: an install cut short has none. */
const STAMP = ".airlock-bench-installed";

function installedVersion(dir: string, pkg: string): string | undefined {
  const file = join(dir, "node_modules", pkg, "package.json");
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, "utf8")) as { version?: string }).version;
}

/** Installs Portkey into `dir` from the pinned lockfile (npm ci), unless that exact install is there already. */
export async function installPortkey(dir: string): Promise<void> {
  const manifest = JSON.parse(await readFile(join(PINNED, "package.json"), "utf8")) as { dependencies: Record<string, string>; overrides: Record<string, string> };
  const lock = await readFile(join(PINNED, "package-lock.json"), "utf8");
  const stamp = createHash("sha256").update(lock).digest("hex");
  // The same install, finished, with the pinned gateway and the override in place: an install without
  // the override would be a silent streaming bug.
  const pinned = () => Object.entries({ ...manifest.dependencies, ...manifest.overrides }).every(([pkg, version]) => installedVersion(dir, pkg) === version);
  if ((await readFile(join(dir, STAMP), "utf8").catch(() => undefined)) === stamp && pinned()) return;
  await mkdir(dir, { recursive: true });
  await rm(join(dir, STAMP), { force: true });
  await copyFile(join(PINNED, "package.json"), join(dir, "package.json"));
  await writeFile(join(dir, "package-lock.json"), lock);
  // --ignore-scripts: the only script is a `patch-package` postinstall, and the published
  // tarball ships no patches/ folder, so it is a no-op (and npm 11 skips it with a warning anyway).
  // A stopped bench stops the install (the stamp is written only once it finishes).
  interrupted.throwIfAborted();
  const child = spawn("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    signal: interrupted,
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  interrupted.throwIfAborted();
  if (code !== 0) throw new Error(`npm ci of Portkey failed (exit ${code}):\n${output}`);
  if (!pinned()) throw new Error(`npm did not install the pinned versions (${JSON.stringify({ ...manifest.dependencies, ...manifest.overrides })})`);
  await writeFile(join(dir, STAMP), stamp);
}

export interface PortkeyTarget {
  pid: number;
  baseUrl: string;
  headers: Record<string, string>;
  stop(): Promise<void>;
}

export async function startPortkey(opts: {
  dir: string;
  port: number;
  upstreamBaseUrl: string;
  apiKey: string;
}): Promise<PortkeyTarget> {
  const entry = join(opts.dir, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
  if (!existsSync(entry)) throw new Error(`Portkey not installed in ${opts.dir}`);
  // The log goes to a file rather than a pipe so a chatty gateway can never block on a full pipe.
  const logFile = join(opts.dir, `portkey-${opts.port}.log`);
  const logFd = openSync(logFile, "w");
  // Only `--port=N` is parsed (a separate `--port N` is ignored and it falls back to 8787).
  // `--headless` skips the bundled web UI and its /log/stream SSE route.
  const child = spawn(process.execPath, [entry, `--port=${opts.port}`, "--headless"], {
    cwd: opts.dir,
    stdio: ["ignore", logFd, logFd],
    // production mode matches how it would be deployed (also disables the UI, like --headless).
    env: { ...process.env, NODE_ENV: "production" },
  });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error("failed to spawn Portkey");
  const pid = child.pid;
  let exited = child.exitCode !== null;
  const markExited = (): void => {
    exited = true;
  };
  const exitPromise = once(child, "exit").then(markExited, markExited);

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exitPromise;
      clearTimeout(timer);
    }
    // Kept only when Portkey exits during its start, for the error to point at.
    await rm(logFile, { force: true });
  };

  // GET / answers once the server is listening, but a 1 s startup spinner keeps burning CPU
  // after that; waiting for its "Ready" line keeps startup out of the measured CPU time.
  const origin = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
      throw new Error(`Portkey exited during startup (port ${opts.port} busy?):\n${log.slice(-2000)}`);
    }
    try {
      const res = await fetch(origin + "/", { signal: AbortSignal.timeout(1000) });
      const text = await res.text();
      if (res.ok && text.includes("AI Gateway") && readFileSync(logFile, "utf8").includes("Ready for connections")) break;
    } catch {
      // not listening yet
    }
    if (interrupted.aborted) {
      await stop();
      interrupted.throwIfAborted();
    }
    if (Date.now() > deadline) {
      const log = readFileSync(logFile, "utf8");
      await stop();
      throw new Error(`Portkey did not answer on ${origin} within 20 s:\n${log.slice(-2000)}`);
    }
    await sleep(100);
  }

  return {
    pid,
    baseUrl: `${origin}/v1`,
    // provider=openai makes Portkey pass OpenAI-shaped requests/responses through; custom-host
    // replaces https://api.openai.com/v1 (loopback hosts are on its default trusted list), and
    // the bearer token is forwarded upstream as the OpenAI API key.
    headers: {
      "x-portkey-provider": "openai",
      "x-portkey-custom-host": opts.upstreamBaseUrl,
      authorization: `Bearer ${opts.apiKey}`,
    },
    stop,
  };
}
