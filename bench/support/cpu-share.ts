import { spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * A fixed share of the CPU for the processes put in it, from the kernel's CFS bandwidth control: a
 * cgroup whose quota is `cores` × its period, so that its processes together run at most that long per
 * period, however many cores are idle. The bench uses one per gateway process to give each what a core
 * of its own gives it on a larger host, on a machine whose two cores also run the upstream, the load
 * generator and PostgreSQL. Works with cgroup v1's `cpu` hierarchy and with cgroup v2; needs root.
 */
export interface CpuShare {
  readonly cores: number;
  /** Moves a process, with all its threads, into the share. */
  add(pid: number): Promise<void>;
  /** The kernel's own counts so far: periods in which its processes ran, and in how many of them the quota stopped them. */
  throttling(): Promise<Throttling>;
  /** Removes the cgroup; its processes must have exited. */
  remove(): Promise<void>;
}

export interface Throttling {
  periods: number;
  throttled: number;
}

const PERIOD_MICROS = 100_000;
/** Every share's cgroup is named so, which is how removeStaleShares finds those of earlier runs. */
const PREFIX = "airlock-bench-";
const V1_ROOT = "/sys/fs/cgroup/cpu";
const V2_ROOT = "/sys/fs/cgroup";

type Flavour = { version: 1; root: string } | { version: 2; root: string };

/** Which cgroup hierarchy limits CPU here, or why none can be used. */
async function flavour(): Promise<Flavour | string> {
  if (await exists(path.join(V1_ROOT, "cpu.cfs_quota_us"))) return { version: 1, root: V1_ROOT };
  const controllers = await readFile(path.join(V2_ROOT, "cgroup.controllers"), "utf8").catch(() => "");
  if (controllers.split(/\s+/).includes("cpu")) return { version: 2, root: V2_ROOT };
  return "this machine has no cgroup CPU controller (neither /sys/fs/cgroup/cpu nor cgroup v2 with `cpu`)";
}

/**
 * Undefined when shares can be used here, else why not (no CPU controller, not root, a read-only
 * /sys/fs/cgroup, a container that refuses to move a process), found by making one, moving a process
 * that only waits into it, and removing both.
 */
export async function cpuSharesUnavailable(): Promise<string | undefined> {
  const found = await flavour();
  if (typeof found === "string") return found;
  let probe: CpuShare | undefined;
  const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30_000)"], { stdio: "ignore" });
  try {
    probe = await createCpuShare(`probe-${process.pid}`, 1);
    await probe.add(sleeper.pid!);
    return undefined;
  } catch (err) {
    return `a process cannot be given a cgroup of its own under ${found.root} (${(err as Error).message}); the bench needs root and a writable /sys/fs/cgroup`;
  } finally {
    if (sleeper.exitCode === null && sleeper.signalCode === null) {
      const exited = once(sleeper, "exit");
      sleeper.kill("SIGKILL");
      await exited;
    }
    // A probe that cannot be removed is left for removeStaleShares; it must not turn "unavailable" into a failure.
    await probe?.remove().catch(() => undefined);
  }
}

/**
 * Removes the shares that earlier runs left (a run killed with SIGKILL cannot clean up). Only an empty
 * cgroup can be removed, so one that another run is using stays.
 */
export async function removeStaleShares(): Promise<void> {
  const found = await flavour();
  if (typeof found === "string") return;
  for (const entry of await readdir(found.root).catch(() => [] as string[])) {
    if (entry.startsWith(PREFIX)) await rmdir(path.join(found.root, entry)).catch(() => undefined);
  }
}

export async function createCpuShare(name: string, cores: number): Promise<CpuShare> {
  if (!(cores > 0)) throw new Error(`a CPU share must be above 0 cores, not ${cores}`);
  const found = await flavour();
  if (typeof found === "string") throw new Error(found);
  const dir = path.join(found.root, `${PREFIX}${name}`);
  await mkdir(dir);
  const quota = Math.round(cores * PERIOD_MICROS);
  try {
    if (found.version === 1) {
      await writeFile(path.join(dir, "cpu.cfs_period_us"), String(PERIOD_MICROS));
      await writeFile(path.join(dir, "cpu.cfs_quota_us"), String(quota));
    } else {
      // A v2 child only gets the cpu files once its parent hands the controller down. This is left on: it
      // limits nothing by itself, and turning it off could take it from cgroups that others made since.
      await writeFile(path.join(found.root, "cgroup.subtree_control"), "+cpu").catch(() => undefined);
      await writeFile(path.join(dir, "cpu.max"), `${quota} ${PERIOD_MICROS}`);
    }
  } catch (err) {
    await rmdir(dir).catch(() => undefined);
    throw err;
  }
  return {
    cores,
    add: (pid) => writeFile(path.join(dir, "cgroup.procs"), String(pid)),
    throttling: async () => {
      const stat = await readFile(path.join(dir, "cpu.stat"), "utf8");
      return { periods: statValue(stat, "nr_periods"), throttled: statValue(stat, "nr_throttled") };
    },
    remove: () => removeWhenEmpty(dir),
  };
}

/** The share of a window's periods in which the quota stopped the processes, between two readings. */
export function throttledShare(before: Throttling, after: Throttling): number {
  const periods = after.periods - before.periods;
  return periods > 0 ? (after.throttled - before.throttled) / periods : 0;
}

function statValue(stat: string, key: string): number {
  const line = stat.split("\n").find((l) => l.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) : 0;
}

/** A cgroup cannot be removed while the kernel still counts an exiting process in it: a few tries. */
async function removeWhenEmpty(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
