import { execFileSync, spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { interrupted } from "./interrupt.js";

/**
 * Load from wrk (Debian's package), in its own process on one thread. wrk is C: it spends a small
 * fraction of what a Node load generator would, which leaves the cores to the target. A Lua script
 * counts every request it writes, so the ledger can be checked against requests sent, including the
 * ones still in flight when wrk stops.
 */

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  /** Requests written to the target, answered or not when the run stopped. */
  sent: number;
  /** Requests answered (any status). */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connect, read, write and timeout errors, and answers with a status of 400 or more. */
  errors: number;
}

function luaString(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function script(spec: LoadSpec): string {
  const headers = Object.entries(spec.headers)
    .map(([name, value]) => `wrk.headers[${luaString(name)}] = ${luaString(value)}`)
    .join("\n");
  return `
wrk.method = "POST"
wrk.body = ${luaString(spec.body)}
${headers}
local threads = {}
function setup(thread) table.insert(threads, thread) end
sent = 0
function request()
  sent = sent + 1
  return wrk.format()
end
function done(summary, latency, requests)
  local total = 0
  -- wrk asks the first thread's script for one request at startup that it never writes: right for -t1, the only way the bench runs it.
  for _, t in ipairs(threads) do total = total + t:get("sent") - 1 end
  local e = summary.errors
  io.write(string.format('{"sent":%d,"requests":%d,"micros":%d,"p50":%d,"p99":%d,"errors":%d}\\n',
    total, summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
`;
}

/** Runs wrk once; an abort (by default Ctrl-C or SIGTERM, see interrupt.ts) stops it and throws its reason. */
export async function runLoad(spec: LoadSpec, signal: AbortSignal = interrupted): Promise<LoadResult> {
  signal.throwIfAborted();
  const file = path.join(os.tmpdir(), `airlock-bench-${process.pid}.lua`);
  await writeFile(file, script(spec));
  const args = ["-t1", `-c${spec.connections}`, `-d${spec.seconds}s`, "--timeout", "30s", "-s", file, spec.url];
  const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (err += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), (spec.seconds + 60) * 1000);
  const stop = () => child.kill("SIGKILL");
  signal.addEventListener("abort", stop);
  // A signal that came while the script was written found no listener yet.
  if (signal.aborted) stop();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", resolve);
  }).finally(() => {
    clearTimeout(timer);
    signal.removeEventListener("abort", stop);
    return rm(file, { force: true });
  });
  // wrk ends a run cut short by Ctrl-C with its usual summary, which must not pass for a measurement.
  signal.throwIfAborted();
  const line = out.split("\n").find((l) => l.startsWith("{"));
  if (code !== 0 || !line) throw new Error(`wrk exited with ${code}: ${(err || out).slice(-500)}`);
  const r = JSON.parse(line) as { sent: number; requests: number; micros: number; p50: number; p99: number; errors: number };
  const seconds = r.micros / 1e6;
  return { sent: r.sent, requests: r.requests, seconds, requestsPerSecond: r.requests / seconds, p50Ms: r.p50 / 1000, p99Ms: r.p99 / 1000, errors: r.errors };
}

/** Exits with a clear message when wrk, the load generator, is not installed. */
export function requireWrk(): void {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (err) {
    // wrk prints its version and exits 1; only a missing binary throws ENOENT.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      console.error("The bench needs wrk as its load generator: apt-get install -y wrk");
      process.exit(2);
    }
  }
}
