import { readFile, readdir } from "node:fs/promises";
import { interrupted } from "./interrupt.js";

/**
 * CPU and memory of a process tree, read from /proc. Reading the kernel's own accounting means the
 * number covers every thread (PGlite, libuv, GC) and every cluster worker, not just the JS we wrote.
 */

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface Usage {
  cpuMicros: number;
  rssBytes: number;
}

/** The pid and every descendant (cluster workers, a wrapper's child). */
export async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const tasks = await readdir(`/proc/${out[i]}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const children = await readFile(`/proc/${out[i]}/task/${task}/children`, "utf8").catch(() => "");
      for (const child of children.split(" ").filter(Boolean)) out.push(Number(child));
    }
  }
  return out;
}

/**
 * A process's CPU time, summed over its threads from the scheduler's own clock (schedstat, in
 * nanoseconds). /proc/<pid>/stat counts in 10 ms ticks: a low-rate cell (about 76 calls in 4 s, some
 * 50 ms of CPU) would be off by up to a fifth. Threads that exit lose their time here, which is why
 * the ticks stay as the fallback only: the targets' threads (libuv, V8, PGlite) live as long as they do.
 * Undefined once the process is gone.
 */
async function cpuMicrosOf(pid: number): Promise<number | undefined> {
  const { nanos, read } = await threadsOnCpu(pid);
  if (read > 0) return nanos / 1000;
  const fields = await statFields(pid);
  if (!fields) return undefined;
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0); // utime + stime
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** The on-CPU nanoseconds of a process's threads (those named `onlyNamed`, if given), and how many were read. */
async function threadsOnCpu(pid: number, onlyNamed?: string): Promise<{ nanos: number; read: number }> {
  let nanos = 0;
  let read = 0;
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    if (onlyNamed !== undefined && (await readFile(`/proc/${pid}/task/${task}/comm`, "utf8").catch(() => "")).trim() !== onlyNamed) continue;
    const schedstat = await readFile(`/proc/${pid}/task/${task}/schedstat`, "utf8").catch(() => "");
    const onCpu = Number(schedstat.split(" ")[0]);
    if (schedstat && Number.isFinite(onCpu)) {
      nanos += onCpu;
      read++;
    }
  }
  return { nanos, read };
}

/** The fields of /proc/<pid>/stat after the command name (the third field is index 0); undefined once the process is gone. */
async function statFields(pid: number): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (stat === "") return undefined;
  // The command name may hold spaces; the fields after its closing parenthesis are fixed.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * Page faults of each process so far (minor and major; /proc/<pid>/stat counts every thread's).
 * On the virtual machines the bench runs on, one costs about 15 µs, so a path that touches fresh
 * memory each call shows here before it shows in CPU (docs/performance-findings.md#page-faults-on-a-ledger-batch).
 */
async function faultsByPid(pids: number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const fields = await statFields(pid);
    if (fields) out.set(pid, Number(fields[7] ?? 0) + Number(fields[9] ?? 0)); // minflt + majflt
  }
  return out;
}

/** A process's resident memory, split as /proc/<pid>/status splits it (all zero once it is gone). */
async function residentOf(pid: number): Promise<{ anon: number; file: number; shmem: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { anon: kb("RssAnon"), file: kb("RssFile"), shmem: kb("RssShmem") };
}

/**
 * The tree's resident memory with the pages its processes share counted once. For one process this
 * is its RSS. Cluster workers are separate Node processes that map the same files (the node binary,
 * its libraries, the bundle): summing their RSS counted those pages once per process, about 40 MB
 * each. Their anonymous memory (heaps, buffers) is their own, so it is summed; of the file-backed
 * pages, the largest process's set is counted, once.
 */
function treeResidentBytes(parts: Array<{ anon: number; file: number; shmem: number }>): number {
  let own = 0;
  let files = 0;
  for (const part of parts) {
    own += part.anon + part.shmem;
    files = Math.max(files, part.file);
  }
  return own + files;
}

export async function usageOf(pids: number[]): Promise<Usage> {
  let cpuMicros = 0;
  const resident = [];
  for (const pid of pids) {
    cpuMicros += (await cpuMicrosOf(pid)) ?? 0;
    resident.push(await residentOf(pid));
  }
  return { cpuMicros, rssBytes: treeResidentBytes(resident) };
}

/** CPU time per process, to subtract per process: see `growthBetween`. */
export async function cpuByPid(pids: number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const micros = await cpuMicrosOf(pid);
    if (micros !== undefined) out.set(pid, micros);
  }
  return out;
}

/** Each process's CPU time and page faults, read together so that a window measures both over the same span. */
export interface Counters {
  cpu: Map<number, number>;
  faults: Map<number, number>;
}

export async function countersByPid(pids: number[]): Promise<Counters> {
  return { cpu: await cpuByPid(pids), faults: await faultsByPid(pids) };
}

/** CPU µs and page faults spent between two readings, each per process as `growthBetween` counts it. */
export function countersBetween(before: Counters, after: Counters): { cpuMicros: number; faults: number } {
  return { cpuMicros: growthBetween(before.cpu, after.cpu), faults: growthBetween(before.faults, after.faults) };
}

/**
 * How much a per-process counter (CPU time, page faults) grew between two readings, summed over the
 * processes. A process that exited in between is left out (its last interval is lost with it), and
 * one that started in between counts whole. Subtracting plain sums instead read a PostgreSQL backend
 * that closed during a cell as negative CPU.
 */
export function growthBetween(before: Map<number, number>, after: Map<number, number>): number {
  let micros = 0;
  for (const [pid, end] of after) micros += end - (before.get(pid) ?? 0);
  return micros;
}

/** The name the embedded store's threads give themselves (src/store/pglite-thread.mjs). */
const PGLITE_THREAD = "airlock-pglite";

/**
 * CPU time of the embedded store's threads in each process, in µs: a part of the process's own, which
 * the bench shows apart as it shows the PostgreSQL server's.
 */
export async function pgliteCpuByPid(pids: number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const pid of pids) out.set(pid, (await threadsOnCpu(pid, PGLITE_THREAD)).nanos / 1000);
  return out;
}

/** Every PostgreSQL server process: with the external store, its CPU is part of what a call costs. */
export async function postgresPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, "utf8").catch(() => "");
    if (comm.trim() === "postgres") pids.push(Number(entry));
  }
  return pids;
}

/** Samples the peak RSS of a process tree while `work` runs. */
export async function peakRssDuring<T>(pids: () => Promise<number[]>, work: Promise<T>): Promise<{ result: T; peakRssBytes: number }> {
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, (await usageOf(await pids())).rssBytes);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const result = await work;
    return { result, peakRssBytes: peak };
  } finally {
    running = false;
    await sampler;
  }
}

/** The machine's CPU ticks, all cores together, from the kernel's counters in /proc/stat. */
export interface MachineTicks {
  idle: number;
  total: number;
}

export async function machineTicks(): Promise<MachineTicks> {
  const fields = (await readFile("/proc/stat", "utf8")).split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3]! + (fields[4] ?? 0); // idle + iowait
  return { idle, total: fields.reduce((a, b) => a + b, 0) };
}

/** The share of all cores that was busy between two readings. */
export function machineBusyBetween(before: MachineTicks, after: MachineTicks): number {
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

async function machineBusyOver(ms: number): Promise<number> {
  const before = await machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  return machineBusyBetween(before, await machineTicks());
}

/**
 * Waits until the machine is quiet (at most a tenth of its cores busy over half a second), so that a
 * measurement does not share the cores with what the previous one left running: PostgreSQL's
 * autovacuum after the ledger's inserts, a target that is still shutting down.
 */
export async function machineQuiet(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await machineBusyOver(500)) > 0.1) interrupted.throwIfAborted();
}

