import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { measureCell, requestBody, TARGET_WARMUP_SECONDS, warmTarget, type Cell, type CellPlan, type CellResult, type Target } from "./support/cells.js";
import { runBench } from "./support/interrupt.js";
import { requireWrk } from "./support/loadgen.js";
import { commandOf, machineWithPostgres, runDate } from "./support/machine.js";
import { machineQuiet, processTree } from "./support/proc.js";
import { airlockTargetName, cellName, cpuAgainst, heldRatio, markdown, proxyOfWorkers, ratioText, sanityProblems, svgChart, verdictLine, verdicts, type BenchRun, type HeldCell, type RunInfo } from "./support/report.js";
import { resultsDir, ROOT } from "./support/root.js";
import { alternateRounds, warmSide, type Side } from "./support/side-by-side.js";
import { firstJsonLine, freePort, spawnTs, type Service } from "./support/spawn.js";
import { median } from "./support/stats.js";
import { airlockPlace, createUserKey, ledgerTally, startAirlock, type AirlockPlace, type AirlockSetup, type AirlockTarget } from "./targets/airlock.js";
import { installPortkey, startPortkey } from "./targets/portkey.js";
import { startProxy } from "./targets/start-proxy.js";
import { startUpstream } from "./targets/start-upstream.js";

/**
 * `npm run bench`: every target side by side in one run, on loopback, each under the same cells of
 * load from wrk, with CPU and memory read from /proc. `--smoke` is the short CI run: it checks that
 * everything works and that the numbers are sane, not that they are fast.
 */

const { values: flags } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    seconds: { type: "string" },
    targets: { type: "string" },
    out: { type: "string" },
    strict: { type: "boolean", default: false },
    modes: { type: "string" },
    delays: { type: "string" },
    connections: { type: "string" },
  },
});
const smoke = flags.smoke === true;
const ALL_TARGETS = ["direct", "proxy", "airlock-pglite", "airlock-postgres", "airlock-postgres-workers", "portkey"];
const wanted = new Set((flags.targets ?? ALL_TARGETS.join(",")).split(",").filter(Boolean));
const databaseUrl = process.env.DATABASE_URL || undefined;
/** A flag's values that it does not know: a typo would otherwise run nothing, or the wrong cells, without a word. */
function refuseUnknown(flag: string, values: Iterable<string>, known: readonly string[]): void {
  const unknown = [...values].filter((value) => !known.includes(value));
  if (unknown.length > 0) {
    console.error(`bench: --${flag} does not know ${unknown.map((u) => `"${u}"`).join(", ")}; it takes ${known.join(", ")}`);
    process.exit(2);
  }
}
refuseUnknown("targets", wanted, ALL_TARGETS);
if (!databaseUrl) {
  const named = ["airlock-postgres", "airlock-postgres-workers"].filter((target) => wanted.delete(target));
  if (named.length > 0 && flags.targets) console.error(`bench: DATABASE_URL is not set, so ${named.join(" and ")} ${named.length > 1 ? "are" : "is"} left out`);
}
if (wanted.size === 0) {
  console.error("bench: no target to run");
  process.exit(2);
}
/** The PostgreSQL server the run uses, which its report names: none when no PostgreSQL target runs. */
const postgresUsed = wanted.has("airlock-postgres") || wanted.has("airlock-postgres-workers") ? databaseUrl : undefined;
const WORKERS = 2;

const plan: CellPlan = smoke
  ? { targetWarmupSeconds: 0, warmupSeconds: 0, seconds: Number(flags.seconds ?? 1), ttfbRequests: 20, quiesce: false }
  : { targetWarmupSeconds: TARGET_WARMUP_SECONDS, warmupSeconds: 1, seconds: Number(flags.seconds ?? 4), ttfbRequests: 200, quiesce: true };
const list = (text: string | undefined, fallback: string) => (text ?? fallback).split(",").filter(Boolean);
refuseUnknown("modes", list(flags.modes, "json,stream"), ["json", "stream"]);
// The Airlock targets' configuration prices the upstream's models for these two delays only (targets/airlock.ts).
refuseUnknown("delays", list(flags.delays, "0"), ["0", "50"]);
const badConnections = list(flags.connections, "1").filter((value) => !(Number.isInteger(Number(value)) && Number(value) >= 1));
if (badConnections.length > 0) {
  console.error(`bench: --connections takes whole numbers from 1, not ${badConnections.join(", ")}`);
  process.exit(2);
}
const cells: Cell[] = [];
for (const mode of list(flags.modes, "json,stream"))
  for (const delayMs of list(flags.delays, smoke ? "0" : "0,50").map(Number))
    for (const connections of list(flags.connections, smoke ? "1,16" : "1,16,64").map(Number)) cells.push({ stream: mode === "stream", delayMs, connections });
// The smoke run's two cells still cover both modes and both concurrencies (unless the flags name cells):
// streams one at a time, which the TTFB check reads, and JSON calls sixteen at a time.
if (smoke && !flags.modes && !flags.connections) cells.splice(0, cells.length, ...cells.filter((cell) => cell.stream === (cell.connections === 1)));


async function runCells(target: Target): Promise<CellResult[]> {
  const out: CellResult[] = [];
  const warm = await warmTarget(target, plan, cells);
  for (const cell of cells) {
    const r = await measureCell(target, cell, plan);
    if (out.length === 0) {
      // The target's warm-up counts with its first cell: its rows are in the ledger, and its errors are errors.
      r.sent += warm.sent;
      r.errors += warm.errors;
    }
    console.log(`  ${target.name.padEnd(22)} ${cell.stream ? "stream" : "json  "} ${String(cell.delayMs).padStart(2)} ms c${String(cell.connections).padEnd(2)}  ${r.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ${r.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs CPU/req${r.storeCpuMicrosPerRequest !== undefined ? ` (store ${r.storeCpuMicrosPerRequest.toFixed(0)})` : ""}  ${r.faultsPerRequest.toFixed(2)} faults/req  ${r.peakRssMb.toFixed(0)} MB${r.ttfbP50Ms !== undefined ? `  TTFB p50 ${r.ttfbP50Ms.toFixed(2)} ms` : ""}${r.errors ? `  ERRORS ${r.errors}` : ""}`);
    out.push(r);
  }
  return out;
}

/**
 * The proxy, left running after its cells so that each Airlock target's worst cell can be held side by
 * side with it; and for the gateway of workers, a proxy of as many workers, which runs no cells.
 */
interface Floor {
  target: Target;
  results: CellResult[];
  /** Starts the proxy of `workers` workers, when the run has a gateway of workers to hold against it. */
  ofWorkers?: (workers: number) => Promise<Target>;
}

/** Rounds of the held cell: turns of 3 s are about 60 calls at one connection and 50 ms upstream. */
const HOLD = smoke ? { rounds: 2, seconds: 1, warmSeconds: 0 } : { rounds: 6, seconds: 3, warmSeconds: 3 };

/**
 * Measures the target's worst cell against the proxy again, the two taking turns under that cell's load
 * (bench/support/side-by-side.ts), while the target is still up after its cells, and a gateway of
 * workers against the proxy of as many workers too. Answers what it sent the target, for its ledger count.
 */
async function holdWorstCell(target: Target, floor: Floor, results: CellResult[], info: RunInfo, workers: number | undefined): Promise<number> {
  const worst = cpuAgainst([...floor.results, ...results], target.name, "proxy");
  if (!worst) return 0;
  const holdAgainst = async (against: Target): Promise<number> => {
    const { held, sentToTarget } = await holdCell(target, against, worst.worstShape);
    (info.held ??= []).push(held);
    console.log(`  ${target.name}: ${held.cell} held side by side with the ${against.name}, ${heldRatio(held).toFixed(2)}× (${ratioText(worst.worstRatio)} against the proxy in its cell)`);
    return sentToTarget;
  };
  let sent = await holdAgainst(floor.target);
  if (workers && floor.ofWorkers) sent += await holdAgainst(await floor.ofWorkers(workers));
  return sent;
}

async function holdCell(target: Target, floor: Target, cell: Cell): Promise<{ held: HeldCell; sentToTarget: number }> {
  const sideOf = (t: Target): Side => ({ pids: t.pids, load: { url: t.url, headers: t.headers, body: requestBody(cell), connections: cell.connections } });
  const sides: [Side, Side] = [sideOf(floor), sideOf(target)];
  let sent = 0;
  let errors = 0;
  if (HOLD.warmSeconds > 0) {
    for (const [i, side] of sides.entries()) {
      const warm = await warmSide(side.load, cell, HOLD.warmSeconds, 2);
      if (i === 1) sent += warm.sent;
      errors += warm.errors;
    }
  }
  const rounds = await alternateRounds(sides, HOLD.rounds, HOLD.seconds);
  const held: HeldCell = { target: target.name, cell: cellName(cell), proxyMicros: rounds.cpu[0], targetMicros: rounds.cpu[1], errors: errors + rounds.errors[0] + rounds.errors[1] };
  if (floor.name !== "proxy") held.floor = floor.name;
  return { held, sentToTarget: sent + rounds.sent[1] };
}

async function benchAirlock(store: "pglite" | "postgres", upstreamBaseUrl: string, info: RunInfo, floor: Floor | undefined, workers?: number): Promise<CellResult[]> {
  const name = airlockTargetName(store, workers);
  let place: AirlockPlace | undefined;
  let sent = 0;
  let running: AirlockTarget | undefined;
  try {
    place = await airlockPlace(store, "airlock-bench-", databaseUrl);
    const setup: AirlockSetup = { dataDir: place.dataDir, store, databaseUrl: place.databaseUrl, adminKey: "sk-al-admin-" + randomBytes(16).toString("hex"), upstreamBaseUrl, workers };
    // The first start makes the data directory; the next ones measure startup on an existing one.
    const port = await freePort();
    running = await startAirlock(setup, port, undefined);
    sent += running.callsDuringStartup;
    const firstStartMs = running.startupMs;
    if (store === "pglite") info.firstStartMs = firstStartMs;
    const apiKey = await createUserKey(running, setup.adminKey);
    const startups: number[] = [];
    for (let i = 0; i < (store === "pglite" && !smoke ? 3 : 1); i++) {
      await running.stop();
      running = await startAirlock(setup, port, apiKey);
      sent += running.callsDuringStartup;
      startups.push(running.startupMs);
    }
    if (store === "pglite") info.startupMs = startups;
    console.log(`${name}: started in ${startups.map((s) => s.toFixed(0)).join(", ")} ms${store === "pglite" ? ` (${firstStartMs.toFixed(0)} ms on a new data directory)` : ""}`);
    const live = running;
    const target: Target = { name, url: `${live.baseUrl}/chat/completions`, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, pids: () => processTree(live.pid), storeCpu: store };
    const results = await runCells(target);
    if (floor) sent += await holdWorstCell(target, floor, results, info, workers);
    await live.stop();
    running = undefined;
    sent += results.reduce((n, r) => n + r.sent, 0);
    info.ledger.push({ target: name, sent, ...(await ledgerTally(setup)) });
    return results;
  } finally {
    // Its place is removed whatever became of the gateway: a scratch database left behind outlives the run.
    await running?.stop().catch((err: Error) => console.error(`stopping ${name} failed: ${err.message}`));
    await place?.remove();
  }
}

/** Where the bench installs Portkey, and reuses the install while its lockfile is the same. */
const PORTKEY_DIR = path.join(os.tmpdir(), "airlock-bench-portkey");

async function main(): Promise<void> {
  requireWrk();
  // Before any target: a registry that cannot be reached fails the run at once, not after its other targets.
  if (wanted.has("portkey")) await installPortkey(PORTKEY_DIR);
  const started = Date.now();
  const info: RunInfo = { date: runDate(), machine: await machineWithPostgres(postgresUsed), command: commandOf("npm run bench", process.argv.slice(2), postgresUsed), ledger: [] };
  const services: Service[] = [];
  const results: CellResult[] = [];
  try {
    const upstream = await startUpstream();
    services.push(upstream);
    const upstreamBaseUrl = upstream.baseUrl;
    const json = { "content-type": "application/json" };
    console.log(`bench: ${cells.length} cells per target, ${plan.seconds} s each${plan.warmupSeconds ? ` after ${plan.warmupSeconds} s of warm-up` : ""}${plan.targetWarmupSeconds ? `, ${plan.targetWarmupSeconds} s of warm-up in the first shape and a spell of each other shape per target` : ""}; targets: ${[...wanted].join(", ")}`);

    if (wanted.has("direct")) results.push(...(await runCells({ name: "direct", url: `${upstreamBaseUrl}/chat/completions`, headers: json, pids: async () => [upstream.pid] })));
    let floor: Floor | undefined;
    let proxy: Service | undefined;
    const workersProxies: Service[] = [];
    if (wanted.has("proxy")) {
      const started = await startProxy(upstreamBaseUrl);
      proxy = started;
      services.push(started);
      const target: Target = { name: "proxy", url: started.url, headers: started.headers, pids: async () => [started.pid] };
      floor = { target, results: await runCells(target) };
      results.push(...floor.results);
    }
    if (wanted.has("airlock-pglite")) results.push(...(await benchAirlock("pglite", upstreamBaseUrl, info, floor)));
    if (wanted.has("airlock-postgres")) results.push(...(await benchAirlock("postgres", upstreamBaseUrl, info, floor)));
    if (floor) {
      // Started when the gateway of workers has run its cells, so that it is not idle beside any target's.
      floor.ofWorkers = async (workers) => {
        const started = await startProxy(upstreamBaseUrl, { workers });
        workersProxies.push(started);
        services.push(started);
        return { name: proxyOfWorkers(workers), url: started.url, headers: started.headers, pids: () => processTree(started.pid) };
      };
    }
    if (wanted.has("airlock-postgres-workers")) results.push(...(await benchAirlock("postgres", upstreamBaseUrl, info, floor, WORKERS)));
    // Idle while the Airlock targets ran, and needed only to hold their worst cells.
    await proxy?.stop();
    for (const service of workersProxies) await service.stop();
    if (wanted.has("portkey")) {
      const portkey = await startPortkey({ dir: PORTKEY_DIR, port: await freePort(), upstreamBaseUrl, apiKey: "sk-bench-upstream" });
      services.push({ child: undefined as never, pid: portkey.pid, stop: portkey.stop });
      results.push(...(await runCells({ name: "portkey", url: `${portkey.baseUrl}/chat/completions`, headers: { ...json, ...portkey.headers }, pids: () => processTree(portkey.pid) })));
      await portkey.stop();
    }
  } finally {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
  }

  const library = await libraryOverhead(info);
  const checks = verdicts(results, info);
  if (library) checks.push({ name: "library: airlock.chat() overhead per call, excluding the provider (mean)", value: `${library.toFixed(1)} µs`, limit: "≤ 50 µs", pass: library <= 50 });
  const outDir = resultsDir(flags.out, smoke);
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, "latest.md"), markdown(results, checks, info));
  await writeFile(path.join(outDir, "latest.svg"), svgChart(results));
  const run: BenchRun = { info, checks, results };
  await writeFile(path.join(outDir, "latest.json"), JSON.stringify(run, null, 2) + "\n");
  console.log(`\n${checks.map(verdictLine).join("\n")}`);
  console.log(`\nresults: ${outDir}/latest.md, latest.svg, latest.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);

  const insane = sanityProblems(results, info);
  for (const problem of insane) console.error(`insane numbers: ${problem}`);
  const broken = checks.filter((c) => !c.pass && c.failsRun);
  if (insane.length || broken.length || (flags.strict && checks.some((c) => !c.pass))) process.exitCode = 1;
}

/**
 * The in-process microbenchmark, each run in its own process so the heap and JIT start clean. Its
 * mean moves by a third between runs on a two-core machine, where the store's thread, the garbage
 * collector's helpers and the benchmark share the cores: the median of three runs is reported.
 */
async function libraryOverhead(info: RunInfo): Promise<number | undefined> {
  const overheads: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < (smoke ? 1 : 3); run++) {
    await machineQuiet();
    const child = spawnTs(path.join(ROOT, "bench/library.ts"), smoke ? ["--smoke"] : []);
    const exited = once(child, "exit");
    const result = await firstJsonLine<{ overheadMicros: number; cpuMicros: number }>(child, 300_000);
    await exited;
    overheads.push(result.overheadMicros);
    cpu.push(result.cpuMicros);
  }
  console.log(`library: overhead per call ${overheads.map((o) => o.toFixed(1)).join(", ")} µs; CPU per call on all threads ${cpu.map((c) => c.toFixed(1)).join(", ")} µs`);
  info.libraryMicros = overheads;
  info.libraryCpuMicros = cpu;
  return median(overheads);
}

await runBench("bench", main);
