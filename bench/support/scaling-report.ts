import type { Verdict } from "./report.js";
import { median, ratiosOf } from "./stats.js";

/**
 * What `npm run bench:scaling` measured and how it reads: calls a second for one gateway process and
 * for N workers, each serving process held to the same share of the CPU, round by round.
 */

/** One gateway under the scaling load, one value per round. */
export interface ScalingSide {
  /** Processes that serve calls: 1 for one process without a primary, N for `--workers N`. */
  processes: number;
  callsPerSecond: number[];
  /** CPU µs per call of the serving processes (the primary's is apart). */
  cpuMicros: number[];
  /** CPU µs per call of the cluster's primary, which serves no calls and is not held to a share. */
  primaryCpuMicros: number[];
  /** The share of CFS periods in which the quota stopped the serving processes, averaged over them. */
  throttled: number[];
  /** The share of the machine's cores that was busy during the round. */
  machineBusy: number[];
  errors: number;
  /** Requests sent to it, startup probe and warm-up included: its ledger must hold this many rows. */
  sent: number;
  ledgerRows?: number;
}

export interface ScalingRun {
  /** Airlock over PostgreSQL, or the bare proxy: the floor, measured the same way. */
  target: "airlock" | "proxy";
  date: string;
  machine: string;
  command: string;
  /** Cores each serving process may use (its CFS quota over its period). */
  coresPerProcess: number;
  connections: number;
  stream: boolean;
  rounds: number;
  seconds: number;
  sides: ScalingSide[];
}

/** N processes should give at least this share of N times one process's calls a second. */
export const SCALING_EFFICIENCY = 0.8;
/** Below this, the serving processes were not held at their share, so the round measured something else (the upstream, the load generator). */
const HELD_AT_SHARE = 0.5;
/** Above this the machine itself, not the shares, may have set the pace. */
const MACHINE_BUSY_LIMIT = 0.9;

/** Each round's calls a second against the one-process side's in the same round, then their median. */
export function scalingOf(side: ScalingSide, single: ScalingSide): number {
  return median(ratiosOf(side.callsPerSecond, single.callsPerSecond));
}

/** How the bench names a gateway of so many serving processes. */
export function processesName(processes: number): string {
  return processes === 1 ? "one process" : `${processes} workers`;
}

function sideName(side: ScalingSide): string {
  return processesName(side.processes);
}

const percent = (share: number) => `${Math.round(share * 100)}%`;

export function scalingChecks(run: ScalingRun): Verdict[] {
  const single = run.sides.find((side) => side.processes === 1);
  const checks: Verdict[] = [];
  for (const side of run.sides) {
    const name = sideName(side);
    checks.push({ name: `errors: ${name}`, value: String(side.errors), limit: "0", pass: side.errors === 0, failsRun: true });
    if (side.ledgerRows !== undefined) checks.push({ name: `ledger rows equal the requests sent: ${name}`, value: `${side.ledgerRows} rows, ${side.sent} sent`, limit: "equal", pass: side.ledgerRows === side.sent, failsRun: true });
    checks.push({ name: `held at its share: ${name}, periods throttled (median)`, value: percent(median(side.throttled)), limit: `≥ ${percent(HELD_AT_SHARE)}`, pass: median(side.throttled) >= HELD_AT_SHARE });
    checks.push({ name: `machine not the limit: ${name}, cores busy (median)`, value: percent(median(side.machineBusy)), limit: `≤ ${percent(MACHINE_BUSY_LIMIT)}`, pass: median(side.machineBusy) <= MACHINE_BUSY_LIMIT });
    if (single && side !== single) {
      const scaling = scalingOf(side, single);
      const limit = SCALING_EFFICIENCY * side.processes;
      checks.push({ name: `throughput scales with cores: ${name} against one process (median of the rounds' ratios)`, value: `${scaling.toFixed(2)}×`, limit: `≥ ${limit.toFixed(1)}×`, pass: scaling >= limit });
    }
  }
  return checks;
}

export function scalingMarkdown(run: ScalingRun, checks: Verdict[]): string {
  const single = run.sides.find((side) => side.processes === 1);
  const rows = run.sides.map((side) => {
    const scaling = single && side !== single ? `${scalingOf(side, single).toFixed(2)}×` : "1.00×";
    const primary = side.processes === 1 ? "–" : median(side.primaryCpuMicros).toFixed(0);
    return `| ${sideName(side)} | ${run.coresPerProcess} each | ${median(side.callsPerSecond).toFixed(0)} | ${scaling} | ${median(side.cpuMicros).toFixed(0)} | ${primary} | ${percent(median(side.throttled))} | ${percent(median(side.machineBusy))} |`;
  });
  const roundRows = run.sides.map((side) => `| ${sideName(side)} | ${side.callsPerSecond.map((rate) => rate.toFixed(0)).join(" · ")} |`);
  return [
    run.target === "proxy" ? `# The bare proxy's throughput with workers, each process held to ${run.coresPerProcess} of a core` : `# Throughput with --workers, each process held to ${run.coresPerProcess} of a core`,
    "",
    `Run ${run.date} on ${run.machine}: \`${run.command}\`.`,
    "",
    `${run.stream ? "Streamed" : "JSON"} chat completions at ${run.connections} connections, 0 ms upstream, ${run.target === "proxy" ? "through the bare proxy (bench/targets/proxy.ts), its workers under node:cluster" : "PostgreSQL store"}. The ${run.target === "proxy" ? "proxies" : "gateways"} take turns, ${run.rounds} rounds of ${run.seconds} s, each round starting with the next one. Each serving process runs in a cgroup of its own whose CFS quota lets it use ${run.coresPerProcess} of a core, as a core of its own would on a larger host; the cluster's primary, the upstream, wrk and PostgreSQL are not held.`,
    "",
    `| ${run.target === "proxy" ? "proxy" : "gateway"} | CPU per serving process | calls/s (median) | against one process | CPU µs per call | primary's CPU µs per call | periods throttled | machine's cores busy |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    "Calls a second, round by round:",
    "",
    `| ${run.target === "proxy" ? "proxy" : "gateway"} | rounds |`,
    "|---|---|",
    ...roundRows,
    "",
    "## Checks",
    "",
    "| check | value | target | |",
    "|---|---:|---:|---|",
    ...checks.map((check) => `| ${check.name} | ${check.value} | ${check.limit} | ${check.pass ? "pass" : "MISS"} |`),
    "",
  ].join("\n");
}
