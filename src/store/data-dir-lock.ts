import { randomBytes } from "node:crypto";
import { mkdir, readFile, realpath, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { AirlockError } from "../core/errors.js";

/**
 * One process at a time may open an embedded store. PGlite is Postgres in single-user mode and, unlike
 * a Postgres server, takes no lock on its data directory (the `postmaster.pid` it writes holds a
 * made-up pid): a second gateway, a CLI command or a library started on the same directory would open
 * it too, and two Postgres instances writing the same files corrupt them past repair. So the process
 * that opens a store first writes a lock file beside its directory, as Postgres's postmaster does in
 * its own, and a second opener is refused with the holder's pid.
 *
 * A lock whose process is gone is stale and is taken over: a killed gateway needs no clean-up. A live
 * holder is never overridden, however old its lock, because a long pause is not a death. A process
 * id can be reused once its process is gone (a container restarted with the same volume), so the
 * lock also records when its process started, where the system tells (Linux), and a live process that
 * started at another time is not the holder. The same start time and pid as this process's is this
 * process: another of its stores or threads has the directory open. Process ids are those of one
 * machine (one pid namespace): containers sharing a data directory cannot see each other's, as with
 * Postgres's own lock.
 */

/**
 * An AirlockError (`unavailable`), not retryable: the holder keeps the store until it is closed or
 * stopped, which no retry a moment later brings about.
 */
export class StoreInUseError extends AirlockError {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
    readonly lockFile: string,
  ) {
    super(
      "unavailable",
      holderPid === process.pid
        ? // Told apart: "another process" naming this process's own pid sends the reader hunting for a process that is not there.
          `the embedded store in ${dataDir} is already open in this process (pid ${holderPid}), by another Airlock instance or store: one may open it at a time. ` +
            `Close that one first (await airlock.close()), or give this one another data directory.`
        : `the embedded store in ${dataDir} is open in another process (pid ${holderPid}): one process at a time may open it. ` +
            `Stop that process, use the gateway it runs, or give this one another data directory. ` +
            `If that process is not Airlock, delete ${lockFile}.`,
      { retryable: false },
    );
    this.name = "StoreInUseError";
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Deletes the lock file, if it is still this lock's. */
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  /** The holder process's start time in clock ticks since boot (Linux), to tell a reused pid apart. */
  startTicks?: number;
  /** Tells this process's own locks apart where there are no start times. */
  token: string;
  since: string;
}

/** Without start times, the tokens of the locks this thread holds, shared by every copy of this module loaded in it. */
const HELD: Set<string> = ((globalThis as { airlockHeldStoreLocks?: Set<string> }).airlockHeldStoreLocks ??= new Set());

/** Readers that find a lock file still empty wait this long for its writer, this many times. */
const EMPTY_LOCK_WAIT_MS = 50;
const EMPTY_LOCK_WAITS = 10;
/** An opener that finds another removing a stale lock looks again this much later. */
const TAKEOVER_WAIT_MS = 20;
/** A takeover guard is held for a few file operations; one this old was left by a process that died holding it. */
const TAKEOVER_GUARD_STALE_MS = 10_000;

/**
 * The lock file for a data directory: beside it, so that a dump or a copy of the directory never
 * carries it. Through the real path of the directory's parent, so that two processes reaching it by
 * different paths (a symlinked project folder) share one lock, while the lock stays beside the
 * directory even when the directory itself is a link (to a volume's root, say).
 */
export async function lockFileOf(dataDir: string): Promise<string> {
  const absolute = path.resolve(dataDir);
  const parent = await realpath(path.dirname(absolute)).catch(() => path.dirname(absolute));
  return `${path.join(parent, path.basename(absolute))}.lock`;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = await lockFileOf(dataDir);
  const mine: Holder = { pid: process.pid, startTicks: await startTicksOf(process.pid), token: randomBytes(12).toString("hex"), since: new Date().toISOString() };
  const text = JSON.stringify(mine) + "\n";
  for (let emptyWaits = 0; ; ) {
    try {
      // Created only if absent (O_EXCL), so two openers racing cannot both win.
      await writeFile(file, text, { flag: "wx", mode: 0o600 });
      HELD.add(mine.token);
      let released: Promise<void> | undefined;
      // Every caller waits for the same deletion: a process may exit as soon as its own call returns.
      return { file, release: () => (released ??= release(file, mine.token)) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const found = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined; // released meanwhile: try again
      throw err; // unreadable (another user's, say): it cannot be judged, and is not ours to remove
    });
    if (found === undefined) continue;
    const holder = parseHolder(found);
    if (!holder && emptyWaits++ < EMPTY_LOCK_WAITS) {
      // Created and not yet written: its writer is a moment away.
      await sleep(EMPTY_LOCK_WAIT_MS);
      continue;
    }
    if (holder && (await holds(holder, mine))) throw new StoreInUseError(path.resolve(dataDir), holder.pid, file);
    await removeStale(file, found);
  }
}

/**
 * Removes a stale lock, unless another opener has replaced it meanwhile. Openers that found it stale
 * at once take turns through a guard directory (mkdir is atomic): without it, one could remove the
 * lock another had just taken in the stale one's place, and both would open the store.
 */
async function removeStale(file: string, stale: string): Promise<void> {
  const guard = `${file}.takeover`;
  try {
    await mkdir(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const age = Date.now() - (await stat(guard).then((s) => s.mtimeMs, () => Date.now()));
    if (age > TAKEOVER_GUARD_STALE_MS) await rmdir(guard).catch(() => undefined);
    else await sleep(TAKEOVER_WAIT_MS);
    return; // the caller looks at the lock again
  }
  try {
    if ((await readFile(file, "utf8").catch(() => undefined)) !== stale) return;
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      // Gone already is as good; a file that cannot be removed would be met again on every pass.
      if (err.code !== "ENOENT") throw err;
    });
  } finally {
    await rmdir(guard).catch(() => undefined);
  }
}

async function release(file: string, token: string): Promise<void> {
  const holder = parseHolder(await readFile(file, "utf8").catch(() => ""));
  // The file first, the token after: until the file is gone, this thread still holds the lock.
  if (holder?.token === token) await unlink(file).catch(() => undefined);
  HELD.delete(token);
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    return typeof value.pid === "number" && typeof value.token === "string" ? (value as Holder) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `holder` still runs and may have the store open. */
async function holds(holder: Holder, mine: Holder): Promise<boolean> {
  if (holder.pid === mine.pid) {
    // This process, if it started at the same time (another store or thread of it holds the
    // directory); an earlier process given the same pid otherwise (a container restarted).
    if (holder.startTicks !== undefined && mine.startTicks !== undefined) return holder.startTicks === mine.startTicks;
    return HELD.has(holder.token);
  }
  try {
    process.kill(holder.pid, 0); // signal 0 only asks whether the process exists
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM: it exists, under another user.
  }
  if (holder.startTicks !== undefined) {
    const startTicks = await startTicksOf(holder.pid);
    if (startTicks !== undefined) return startTicks === holder.startTicks;
  }
  // Without start times, the pid alone. This process's parent, though, cannot have the store open for
  // it: its pid is the holder's only by reuse (a container restarted), as Postgres reasons.
  return holder.pid !== process.ppid;
}

/** When a process started, in clock ticks since boot: field 22 of /proc/<pid>/stat. Undefined without /proc. */
export async function startTicksOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count from after its last ")".
  const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
