import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { requestBody, TARGET_WARMUP_SECONDS } from "./support/cells.js";
import { createCpuShare, cpuSharesUnavailable, removeStaleShares, throttledShare, type CpuShare, type Throttling } from "./support/cpu-share.js";
import { interrupted, runBench } from "./support/interrupt.js";
import { requireWrk, runLoad, type LoadSpec } from "./support/loadgen.js";
import { commandOf, machineWithPostgres, runDate } from "./support/machine.js";
import { countersBetween, countersByPid, machineBusyBetween, machineTicks, processTree } from "./support/proc.js";
import { verdictLine } from "./support/report.js";
import { resultsDir } from "./support/root.js";
import { processesName, scalingChecks, scalingMarkdown, type ScalingRun, type ScalingSide } from "./support/scaling-report.js";
import { takeTurns, warmSide } from "./support/side-by-side.js";
import { freePort } from "./support/spawn.js";
import { median } from "./support/stats.js";
import { airlockPlace, createUserKey, ledgerTally, startAirlock, type AirlockSetup, type AirlockTarget } from "./targets/airlock.js";
import { startProxy } from "./targets/start-proxy.js";
import { startUpstream } from "./targets/start-upstream.js";

/**
 * `npm run bench:scaling`: does throughput grow with `--workers`? One gateway process and a gateway of
 * N workers run at once over PostgreSQL and take turns under the same load. On the bench's two cores,
 * which also run the upstream, wrk and PostgreSQL, a second worker has no core of its own, so each
 * serving process is held to the same share of the CPU (a cgroup's CFS quota), as a core of its own
 * would hold it: N processes should then serve about N times the calls. Needs root, for the cgroups.
 * `--smoke` is the short CI run: it checks that the bench works and the ledgers match, not the ratio.
 */

const { values: flags } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    // Process counts to compare; 1 is one process without a primary. The smoke run compares 1 and 2.
    workers: { type: "string" },
    // Cores each serving process may use.
    share: { type: "string", default: "0.25" },
    // `proxy`: the bare proxy, one process against its workers under node:cluster, under the same shares.
    target: { type: "string", default: "airlock" },
    connections: { type: "string", default: "32" },
    stream: { type: "boolean", default: false },
    seconds: { type: "string" },
    rounds: { type: "string" },
    out: { type: "string" },
  },
});
const smoke = flags.smoke === true;
const workersList = flags.workers ?? (smoke ? "1,2" : "1,2,3");
const counts = [...new Set(workersList.split(",").map(Number))].sort((a, b) => a - b);
const coresPerProcess = Number(flags.share);
const seconds = Number(flags.seconds ?? (smoke ? 1 : 4));
const rounds = Number(flags.rounds ?? (smoke ? 2 : 6));
const connections = Number(flags.connections);
const shape = { stream: flags.stream === true, delayMs: 0 };
const proxyTarget = flags.target === "proxy";
if (!proxyTarget && flags.target !== "airlock") throw new Error(`--target is airlock or proxy, not "${flags.target}"`);

if (!counts.includes(1) || counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers must list whole process counts and include 1, the gateway it compares against, not "${workersList}"`);
if (!(coresPerProcess > 0 && coresPerProcess <= 1)) throw new Error(`--share is the cores each process may use, above 0 and at most 1, not "${flags.share}"`);

/** A gateway under the scaling load: its processes, each serving one held to its own share. */
interface Gateway {
  side: ScalingSide;
  /** The process started: the one serving process, or the cluster's primary. */
  pid: number;
  load: Omit<LoadSpec, "seconds">;
  serving: number[];
  shares: CpuShare[];
  /** Stops its processes; once they are gone, what it served can be counted. */
  stop(): Promise<void>;
  /** The rows its ledger holds, read after `stop` (none for the proxy). */
  ledgerRows(): Promise<number | undefined>;
  drop(): Promise<void>;
}

/** A process's name as the kernel keeps it (at most 15 characters): a cluster worker runs the same Node binary as this one. */
const NODE_COMM = path.basename(process.execPath).slice(0, 15);

/** The processes that serve calls: the one started, or its cluster workers (the primary's Node descendants). */
async function servingPids(pid: number, processes: number): Promise<number[]> {
  if (processes === 1) return [pid];
  for (let attempt = 0; attempt < 100; attempt++) {
    const workers: number[] = [];
    for (const child of (await processTree(pid)).slice(1)) {
      if ((await readFile(`/proc/${child}/comm`, "utf8").catch(() => "")).trim() === NODE_COMM) workers.push(child);
    }
    if (workers.length >= processes) return workers.slice(0, processes);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the primary (pid ${pid}) did not show ${processes} workers`);
}

function emptySide(processes: number, sent: number): ScalingSide {
  return { processes, callsPerSecond: [], cpuMicros: [], primaryCpuMicros: [], throttled: [], machineBusy: [], errors: 0, sent };
}

/** A share for each serving process, named for this run and `gateway` so that no two gateways' shares meet. */
async function sharesFor(serving: number[], gateway: string): Promise<CpuShare[]> {
  const shares: CpuShare[] = [];
  try {
    for (const i of serving.keys()) shares.push(await createCpuShare(`${process.pid}-${gateway}-${i}`, coresPerProcess));
    return shares;
  } catch (err) {
    await removeShares(shares);
    throw err;
  }
}

/** Removes each share, telling of one it could not remove rather than failing: the caller is cleaning up after something else. */
async function removeShares(shares: CpuShare[]): Promise<void> {
  for (const share of shares) await share.remove().catch((err: Error) => console.error(`a CPU share was left behind: ${err.message}`));
}

/** The bare proxy, one process or workers under node:cluster (bench/targets/start-proxy.ts). */
async function startProxyGateway(processes: number, upstreamBaseUrl: string): Promise<Gateway> {
  const proxy = await startProxy(upstreamBaseUrl, { workers: processes });
  try {
    const serving = await servingPids(proxy.pid, processes);
    const shares = await sharesFor(serving, `${proxy.pid}`);
    const load = { url: proxy.url, headers: proxy.headers, body: requestBody(shape), connections };
    return { side: emptySide(processes, 0), pid: proxy.pid, load, serving, shares, stop: () => proxy.stop(), ledgerRows: async () => undefined, drop: () => removeShares(shares) };
  } catch (err) {
    await proxy.stop();
    throw err;
  }
}

async function startAirlockGateway(processes: number, upstreamBaseUrl: string, databaseUrl: string): Promise<Gateway> {
  const port = await freePort();
  const place = await airlockPlace("postgres", "airlock-scaling-", databaseUrl);
  let shares: CpuShare[] = [];
  const drop = async () => {
    await removeShares(shares);
    await place.remove();
  };
  let target: AirlockTarget | undefined;
  try {
    const setup: AirlockSetup = { dataDir: place.dataDir, store: "postgres", databaseUrl: place.databaseUrl, adminKey: `sk-al-admin-${randomBytes(16).toString("hex")}`, upstreamBaseUrl, workers: processes > 1 ? processes : undefined };
    target = await startAirlock(setup, port, undefined);
    const serving = await servingPids(target.pid, processes);
    shares = await sharesFor(serving, `${port}`);
    const apiKey = await createUserKey(target, setup.adminKey);
    const load = { url: `${target.baseUrl}/chat/completions`, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: requestBody(shape), connections };
    const started = target;
    return { side: emptySide(processes, target.callsDuringStartup), pid: target.pid, load, serving, shares, stop: () => started.stop(), ledgerRows: async () => (await ledgerTally(setup)).rows, drop };
  } catch (err) {
    await target?.stop();
    await drop();
    throw err;
  }
}

/** One turn of one gateway: calls a second, CPU per call, how often its shares stopped it, how busy the machine was. */
async function measureTurn(gateway: Gateway): Promise<void> {
  const { side, serving, shares } = gateway;
  const primary = side.processes === 1 ? [] : [gateway.pid];
  const readThrottling = () => Promise.all(shares.map((share) => share.throttling()));
  const [throttledBefore, servingBefore, primaryBefore, ticksBefore] = [await readThrottling(), await countersByPid(serving), await countersByPid(primary), await machineTicks()];
  const result = await runLoad({ ...gateway.load, seconds });
  const [ticksAfter, throttledAfter, servingAfter, primaryAfter] = [await machineTicks(), await readThrottling(), await countersByPid(serving), await countersByPid(primary)];
  const calls = Math.max(1, result.requests);
  side.sent += result.sent;
  side.errors += result.errors;
  side.callsPerSecond.push(result.requestsPerSecond);
  side.cpuMicros.push(countersBetween(servingBefore, servingAfter).cpuMicros / calls);
  side.primaryCpuMicros.push(countersBetween(primaryBefore, primaryAfter).cpuMicros / calls);
  side.throttled.push(meanThrottled(throttledBefore, throttledAfter));
  side.machineBusy.push(machineBusyBetween(ticksBefore, ticksAfter));
}

function meanThrottled(before: Throttling[], after: Throttling[]): number {
  const shares = after.map((reading, i) => throttledShare(before[i]!, reading));
  return shares.reduce((sum, share) => sum + share, 0) / Math.max(1, shares.length);
}

async function main(): Promise<void> {
  requireWrk();
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl && !proxyTarget) throw new Error("bench:scaling needs DATABASE_URL: more than one worker shares its state through PostgreSQL");
  const unavailable = await cpuSharesUnavailable();
  if (unavailable) {
    console.error(`bench:scaling: not measured: ${unavailable}.`);
    // The smoke run checks the bench where it can run; a machine without cgroups is not a failure of Airlock's.
    process.exitCode = smoke ? 0 : 2;
    return;
  }
  await removeStaleShares();
  const started = Date.now();
  const run: ScalingRun = {
    date: runDate(),
    machine: await machineWithPostgres(proxyTarget ? undefined : databaseUrl),
    target: proxyTarget ? "proxy" : "airlock",
    command: commandOf("npm run bench:scaling", process.argv.slice(2), proxyTarget ? undefined : databaseUrl),
    coresPerProcess,
    connections,
    stream: shape.stream,
    rounds,
    seconds,
    sides: [],
  };
  const upstream = await startUpstream();
  const upstreamBaseUrl = upstream.baseUrl;
  const gateways: Gateway[] = [];
  try {
    for (const processes of counts) {
      interrupted.throwIfAborted();
      gateways.push(proxyTarget ? await startProxyGateway(processes, upstreamBaseUrl) : await startAirlockGateway(processes, upstreamBaseUrl, databaseUrl!));
    }
    console.log(`bench:scaling: ${proxyTarget ? "the proxy: " : ""}${counts.map(processesName).join(", ")}, each serving process held to ${coresPerProcess} of a core; ${shape.stream ? "streams" : "JSON calls"} at ${connections} connections; ${rounds} rounds of ${seconds} s`);
    for (const gateway of gateways) {
      interrupted.throwIfAborted();
      // Warmed at full speed, then under its share for two rounds' time, not measured. V8 optimizes a
      // path after so many calls, and under a share a process makes a fraction of them in the same time:
      // warmed under a share of 0.25 alone, one process served 830 calls a second in its first round and
      // 1,311–1,445 in the next three. And a change of load throws optimized code away
      // (docs/performance-findings.md#load-changes-workers-and-the-embedded-insert): warmed at full speed,
      // then 2 s under its share, each gateway's first round still served 54–78% of its later ones.
      const warm = await warmSide(gateway.load, shape, smoke ? 1 : TARGET_WARMUP_SECONDS, smoke ? 1 : 3);
      for (const [i, pid] of gateway.serving.entries()) await gateway.shares[i]!.add(pid);
      const held = await runLoad({ ...gateway.load, seconds: smoke ? 1 : 2 * seconds });
      gateway.side.sent += warm.sent + held.sent;
      gateway.side.errors += warm.errors + held.errors;
    }
    await takeTurns(gateways.length, rounds, async (index, round) => {
      interrupted.throwIfAborted();
      await measureTurn(gateways[index]!);
      if (gateways.every((g) => g.side.callsPerSecond.length === round + 1)) console.log(`  round ${round + 1}: ${gateways.map((g) => `${g.side.callsPerSecond.at(-1)!.toFixed(0)} calls/s`).join(", ")}`);
    });
    for (const gateway of gateways) {
      await gateway.stop();
      gateway.side.ledgerRows = await gateway.ledgerRows();
      run.sides.push(gateway.side);
    }
  } finally {
    try {
      // Each gateway is cleaned up whatever became of the one before: a share left behind outlives the run.
      for (const gateway of gateways) {
        await gateway.stop().catch(() => undefined);
        await gateway.drop().catch((err: Error) => console.error(`cleaning up after a gateway failed: ${err.message}`));
      }
    } finally {
      await upstream.stop();
    }
  }

  const checks = scalingChecks(run);
  const outDir = resultsDir(flags.out, smoke);
  await mkdir(outDir, { recursive: true });
  const file = `scaling${proxyTarget ? "-proxy" : ""}${shape.stream ? "-stream" : ""}`;
  await writeFile(path.join(outDir, `${file}.md`), scalingMarkdown(run, checks));
  await writeFile(path.join(outDir, `${file}.json`), JSON.stringify({ run, checks }, null, 2) + "\n");
  for (const side of run.sides) console.log(`${processesName(side.processes)}: ${median(side.callsPerSecond).toFixed(0)} calls/s, ${median(side.cpuMicros).toFixed(0)} µs CPU per call`);
  console.log(`\n${checks.map(verdictLine).join("\n")}`);
  console.log(`\nresults: ${outDir}/${file}.md, ${file}.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  // Only what is Airlock's fault fails the run: errors and a ledger that does not match. The ratios are read, not enforced.
  const insane = run.sides.some((side) => side.callsPerSecond.some((rate) => !(rate > 0)));
  if (insane || checks.some((c) => !c.pass && c.failsRun)) process.exitCode = 1;
}

// Ctrl-C or a SIGTERM ends the run at its next step, through the clean-up: a share outlives the process that made it.
await runBench("bench:scaling", main);
