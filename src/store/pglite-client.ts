import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { lockDataDir, type DataDirLock } from "./data-dir-lock.js";
import { pgliteReason, StoreOpenError } from "./open-error.js";
import type { StoreArchive, ThreadError, ThreadReady, ThreadReply, ThreadRequest, ThreadStart, OpenMessage } from "./pglite-protocol.js";
import { compiledPglite } from "./pglite-wasm.js";

type Request = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** The package root, above src/ and dist/ alike. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The committed migrations, at the package root beside src/ and dist/. */
export const MIGRATIONS_FOLDER = path.join(PACKAGE_ROOT, "drizzle");

/** The build's initdb templates for new stores (pglite-template.mjs), in dist/. */
export const TEMPLATES_DIR = path.join(PACKAGE_ROOT, "dist/templates");

/**
 * Starts the embedded store's thread (files under `dataDir`, or in memory) and, unless told not to,
 * brings its schema up to date before it answers. Light to import, so the CLI can call it first.
 * A data directory is locked for this process first (data-dir-lock.ts): a store another process has
 * open is refused with a `StoreInUseError`, before anything touches its files.
 */
export async function startPglite(options: { dataDir?: string; dump?: StoreArchive; migrate?: boolean; checkpoints?: ThreadStart["checkpoints"]; brief?: boolean }): Promise<PgliteThread> {
  const start: ThreadStart = { dataDir: options.dataDir, dump: options.dump, templatesDir: TEMPLATES_DIR, migrationsFolder: options.migrate === false ? undefined : MIGRATIONS_FOLDER, checkpoints: options.checkpoints, brief: options.brief };
  const { dataDir } = options;
  if (!dataDir) return PgliteThread.start(start);
  const locking = privateDirectory(dataDir).then(() => lockDataDir(dataDir));
  try {
    return await PgliteThread.start(start, locking);
  } catch (err) {
    const lock = await locking.catch(() => undefined);
    // Refused before the store was opened (the directory, or another process holding it): said as it is.
    if (!lock) throw err;
    await lock.release();
    throw new StoreOpenError(`the embedded store in ${dataDir}`, pgliteReason(err), { cause: err });
  }
}

/**
 * Starts the store's thread ahead of loading the code that will use it, which takes less time than the
 * store takes to open. Resolves once PGlite's module has compiled: the compile's end is a task of this
 * thread's, and the message that lets the thread open the store leaves then, not after a long
 * synchronous load (0.5 s on a slow host). The thread comes back wrapped, its failure reported where
 * it is awaited.
 */
export async function startPgliteAhead(options: Parameters<typeof startPglite>[0]): Promise<{ thread: Promise<PgliteThread> }> {
  const thread = startPglite(options);
  thread.catch(() => undefined);
  await compiledPglite();
  return { thread };
}

/**
 * The store's directory, readable by its owner only, as PostgreSQL keeps its own (it refuses to start
 * otherwise). PGlite writes its files with the process's umask, 0644 by default: every other user of
 * the machine could read the ledger, the audit log and, with body logging on, prompts. A directory made
 * by an earlier version is tightened too; one the process does not own is left as it is.
 */
async function privateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EPERM") throw err;
  });
}

/** What the store needs of its thread: a PgliteThread, or something that stands in for one and passes requests to it. */
export type StoreThread = Pick<PgliteThread, "send" | "close" | "sent">;

/** A Postgres error from the PGlite thread, with its SQLSTATE kept. */
export class PgliteThreadError extends Error {
  readonly code: string | undefined;
  readonly detail: string | undefined;
  constructor(error: ThreadError) {
    super(error.message);
    this.name = "PgliteThreadError";
    this.code = error.code;
    this.detail = error.detail;
  }
}

/**
 * The main thread's end of the PGlite thread: sends SQL, matches replies to requests. The thread
 * keeps the process alive only while a request is pending, as an in-process PGlite would.
 */
export class PgliteThread {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(reply: Extract<ThreadReply, { ok: true }>): void; reject(err: Error): void }>();
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly lock: DataDirLock | undefined,
  ) {
    worker.on("message", (reply: ThreadReply) => this.settle(reply));
    worker.on("error", (err) => this.fail(err));
    worker.on("exit", (code) => {
      this.fail(new Error(`the PGlite thread exited (code ${code})`));
      // The store is shut with its thread, however that ended: another process may open it now.
      void this.lock?.release();
    });
  }

  /**
   * Starts the thread at once, so that it loads its code (0.3 s on a slow host) while the data
   * directory is locked (`locking`) and PGlite's module compiles, and opens the store once both are
   * done. At a gateway's start both wait for turns of the main thread, which is busy loading the
   * gateway until about then. A lock refused ends the thread before it touches the store.
   */
  static async start(options: ThreadStart, locking?: Promise<DataDirLock>): Promise<PgliteThread> {
    const compiling = compiledPglite(); // beside the lock, not after it
    const worker = new Worker(new URL("./pglite-thread.mjs", import.meta.url), { workerData: options });
    let onMessage!: (message: ThreadReady) => void;
    let onError!: (err: Error) => void;
    let onExit!: (code: number) => void;
    const readying = new Promise<ThreadReady>((resolve, reject) => {
      onMessage = resolve;
      onError = reject;
      onExit = (code) => reject(new Error(`the PGlite thread exited during startup (code ${code})`));
      worker.once("message", onMessage).once("error", onError).once("exit", onExit);
    }).finally(() => worker.off("message", onMessage).off("error", onError).off("exit", onExit));
    readying.catch(() => undefined); // awaited below, unless the lock is refused first
    let lock: DataDirLock | undefined;
    try {
      lock = await locking;
      worker.postMessage({ op: "open", wasmModule: await compiling } satisfies OpenMessage);
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    const ready = await readying;
    if (!ready.ready) {
      await worker.terminate();
      throw new PgliteThreadError(ready.error);
    }
    worker.unref();
    return new PgliteThread(worker, lock);
  }

  /** Requests sent to the thread so far: each is one statement, or one open, dump or close. */
  get sent(): number {
    return this.nextId;
  }

  send(request: Request): Promise<Extract<ThreadReply, { ok: true }>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id } as ThreadRequest);
    });
  }

  async close(): Promise<void> {
    if (!this.failure) await this.send({ op: "close" });
    this.failure ??= new Error("the store is closed");
    await this.worker.terminate();
    await this.lock?.release();
  }

  private settle(reply: ThreadReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) waiting.resolve(reply);
    else waiting.reject(new PgliteThreadError(reply.error));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }
}
