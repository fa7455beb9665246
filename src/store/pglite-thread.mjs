// @ts-check
/**
 * PGlite on its own thread. The embedded Postgres is WebAssembly: a ledger batch keeps it busy for
 * milliseconds, and on the gateway's thread that would be milliseconds of requests waiting. Here it
 * works beside the event loop, and the main thread only sends SQL and receives rows.
 *
 * Plain JavaScript on purpose: a worker thread cannot load TypeScript through a development loader,
 * and this file must run the same way from src/ (tests) and dist/ (the build). Its messages are typed
 * in pglite-protocol.ts.
 */
import { writeFileSync } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { PGlite, types } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { serialize } from "pg-protocol";
import { PgliteStatements } from "./pglite-statements.mjs";
import { readTemplate } from "./pglite-template.mjs";
import { ServedSession } from "./served-session.mjs";

/** @typedef {import("./pglite-protocol.js").ThreadStart} ThreadStart */
/** @typedef {import("./pglite-protocol.js").ThreadRequest} ThreadRequest */
/** @typedef {import("./pglite-protocol.js").ThreadReply} ThreadReply */
/** @typedef {import("./pglite-protocol.js").OpenMessage} OpenMessage */

// The same raw-text parsers as drizzle's own PGlite driver, so drizzle maps values exactly as it would in process.
/** @param {string} value */
const RAW = (value) => value;
const PARSERS = { [types.TIMESTAMP]: RAW, [types.TIMESTAMPTZ]: RAW, [types.INTERVAL]: RAW, [types.DATE]: RAW, 1231: RAW, 1115: RAW, 1185: RAW, 1187: RAW, 1182: RAW };

// The operating system's name for this thread (at most 15 bytes), which `top -H`, `perf` and the bench
// (bench/support/proc.ts) see. Written by this thread itself, so that /proc/thread-self is this thread
// and not one of libuv's. Linux only; elsewhere, or with /proc read-only, it keeps the name "node".
try {
  writeFileSync("/proc/thread-self/comm", "airlock-pglite");
} catch {
  // only a name
}

const start = /** @type {ThreadStart} */ (workerData);
const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort);

/** @type {(wasmModule: import("./pglite-wasm.js").CompiledWasm | undefined) => void} */
let openWith;
/**
 * PGlite's compiled module, once the store may be opened: the thread starts before its data directory
 * is locked and the module compiled, and the OpenMessage says both are done (pglite-client.ts).
 * @type {Promise<import("./pglite-wasm.js").CompiledWasm | undefined>}
 */
const openable = new Promise((resolve) => (openWith = resolve));

/**
 * - Postgres's default 128 MB of shared buffers is touched at startup and sits in the process's memory
 *   for good. The ledger appends and reads back in ranges; 32 MB keeps its working set, and the
 *   operating system's page cache holds the rest of the files. Measured: about 110 MB less RSS.
 *   A brief store (one CLI command) takes 4 MB: PGlite zeroes the pool as it opens, in WebAssembly's
 *   baseline code, and 32 MB took about 0.14 s of each command's second and 35 MB of its memory.
 *   A large scan reads through a small ring of buffers whatever the pool's size.
 * - A new WAL segment is filled with 16 MB of zeros by default, so that an fsync later finds its space
 *   allocated. PGlite never fsyncs (`fsync` is off), so the zeros were pure work: with them off, a JSON
 *   call under load cost about 6% less CPU (docs/performance-findings.md#the-embedded-stores-wal).
 * - After a checkpoint, Postgres keeps old segments for reuse up to `max_wal_size`, 1 GB by default;
 *   128 MB is twice what the checkpoints below leave between them.
 */
const POSTGRESQL_CONF = [`shared_buffers = ${start.brief ? "4MB" : "32MB"}`, "wal_init_zero = off", "min_wal_size = 32MB", "max_wal_size = 128MB"];

/**
 * PGlite is Postgres in single-user mode: there is no checkpointer process, and nothing checkpoints
 * between open and close. Left so, the WAL grows by every statement for as long as the process runs
 * (1.2 KB per call: 1.2 GB after a million calls), and a restart after a crash replays all of it
 * (7.3 s after that million). The thread does the checkpointer's part: at most every `checkEveryMs`
 * while requests come, it asks how much WAL recovery would replay, and checkpoints once that passes
 * `walBytes` (one small statement). Under the heaviest load measured the WAL grows about 7 MB a second,
 * so a crash leaves at most about 78 MB to replay, which takes about 0.4 s. A store served to the
 * workflow engine is checked the same way after the engine's messages, when its session is idle.
 */
const CHECKPOINTS = { checkEveryMs: 2_000, walBytes: 64 * 1024 * 1024, ...start.checkpoints };

/** One statement: a checkpoint when recovery would replay at least `walBytes` of WAL, otherwise nothing. */
const CHECKPOINT_WHEN_DUE = `do $$ begin
  if (select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), redo_lsn) from pg_control_checkpoint()) >= ${Number(CHECKPOINTS.walBytes)} then checkpoint; end if;
end $$`;

/** @type {{ server: import("@electric-sql/pglite-socket").PGLiteSocketServer; url: string } | undefined} */
let served;

/**
 * The durable workflow engine (DBOS) speaks to Postgres over TCP. Its store is a PGlite thread of its
 * own, served here to ONE connection: PGlite is a single session, so a second connection (or sharing
 * Airlock's store) would interleave transactions and corrupt the protocol.
 * @param {PGlite} client
 */
async function serve(client) {
  if (!served) {
    const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
    const server = new PGLiteSocketServer({ db: watched(client, new ServedSession()), port: 0, host: "127.0.0.1", maxConnections: 1 });
    await server.start();
    served = { server, url: `postgres://postgres:postgres@${server.getServerConn()}/postgres` };
  }
  return served.url;
}

/**
 * How statements from the main thread run on the store (pglite-statements.mjs); made once it is open.
 * @type {PgliteStatements}
 */
let statements;

async function open() {
  const wasmModule = await openable;
  const options = { postgresqlconf: POSTGRESQL_CONF };
  // A dump or the template only ever fills a new store: PGlite refuses to load one over an existing store.
  const loadDataDir = (await isNewStore()) ? (archiveOf(start.dump) ?? (await readTemplate(start.templatesDir))) : undefined;
  const client = new PGlite({ ...options, dataDir: start.dataDir, loadDataDir, pgliteWasmModule: wasmModule });
  await client.waitReady;
  if (start.migrationsFolder) await migrate(drizzle({ client }), { migrationsFolder: start.migrationsFolder });
  statements = new PgliteStatements(client, PARSERS);
  return client;
}

/**
 * PGlite reads `loadDataDir` through `arrayBuffer()`, which for a Blob in Node 20 reads it in chunks and
 * joins them: for a 40 MB store, two fresh copies of it. Bytes already in memory are handed over as
 * they are, or copied once.
 * @param {Blob | Uint8Array | undefined} dump
 * @returns {Blob | undefined}
 */
function archiveOf(dump) {
  if (!dump || dump instanceof Blob) return dump;
  // PGlite's untar takes a view of an ArrayBuffer as it is, and copies anything else byte by byte
  // (a SharedArrayBuffer's too): one copy here, made at once, is its own.
  const whole = dump.buffer instanceof ArrayBuffer && dump.byteOffset === 0 && dump.byteLength === dump.buffer.byteLength ? dump.buffer : dump.slice().buffer;
  return /** @type {Blob} */ (/** @type {unknown} */ ({ type: "application/x-tar", size: whole.byteLength, arrayBuffer: async () => whole }));
}

/** True for a store in memory, or a data directory Postgres has not been created in yet. */
async function isNewStore() {
  if (!start.dataDir) return true;
  try {
    await access(path.join(start.dataDir, "PG_VERSION"));
    return false;
  } catch {
    return true;
  }
}

let lastCheck = performance.now();

/** True at most once every `checkEveryMs`, whichever traffic asks: the main thread's requests or the engine's messages. */
function checkIsDue() {
  const now = performance.now();
  if (now - lastCheck < CHECKPOINTS.checkEveryMs) return false;
  lastCheck = now;
  return true;
}

/**
 * Checkpoints when recovery would replay more than `walBytes` of WAL; a failure is left for the next check.
 * @param {PGlite} client
 */
async function checkpointWhenDue(client) {
  // A store served to the workflow engine is checked after the engine's own messages (watched).
  if (served) return;
  await client.exec(CHECKPOINT_WHEN_DUE);
}

/**
 * The PGlite that the socket server is given: the same one, with each answer to the engine read by
 * `session` on its way out, and a checkpoint check queued after it at most every `checkEveryMs`.
 * @param {PGlite} client
 * @param {ServedSession} session
 * @returns {PGlite}
 */
function watched(client, session) {
  const afterAnswer = () => {
    if (!session.idle || !checkIsDue()) return;
    // Once the socket server has let go of the store's lock: the check then takes it in turn.
    setImmediate(() => void checkpointServedWhenDue(client, session).catch(() => undefined));
  };
  /** @type {PGlite["execProtocolRawStream"]} */
  const execProtocolRawStream = async (message, options) => {
    try {
      return await client.execProtocolRawStream(message, {
        ...options,
        onRawData: (data) => {
          session.read(data);
          options.onRawData(data);
        },
      });
    } finally {
      afterAnswer();
    }
  };
  return new Proxy(client, {
    get(target, property) {
      if (property === "execProtocolRawStream") return execProtocolRawStream;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * @param {PGlite} client
 * @param {ServedSession} session
 */
async function checkpointServedWhenDue(client, session) {
  await client.runExclusive(async () => {
    // Asked again under the lock: the engine may have sent a message since the check was queued.
    if (!session.idle || client.isInTransaction()) return;
    // Not exec, which would wait for the lock held here, nor execProtocol, whose answer would go where
    // the engine's last one went (PGlite keeps the last raw-data callback given): to the engine's socket.
    await client.execProtocolRawStream(serialize.query(CHECKPOINT_WHEN_DUE), { onRawData: () => undefined });
  });
}

/**
 * @param {PGlite} client
 * @param {ThreadRequest} request
 * @returns {Promise<ThreadReply>}
 */
async function answer(client, request) {
  switch (request.op) {
    case "query":
      return { id: request.id, ok: true, rows: await statements.query(request.sql, request.params, request.method === "all" ? "array" : "object") };
    case "exec":
      await client.exec(request.sql);
      return { id: request.id, ok: true };
    case "prepared":
      await statements.runPrepared(request.name, request.sql, request.params);
      return { id: request.id, ok: true };
    case "dump":
      return { id: request.id, ok: true, dump: /** @type {Blob} */ (await client.dumpDataDir("none")) };
    case "serve":
      return { id: request.id, ok: true, url: await serve(client) };
    case "close":
      await served?.server.stop();
      served = undefined;
      await client.close();
      return { id: request.id, ok: true };
  }
}

/** PGlite's file system throws Emscripten's errno objects, which have no message. */
const ERRNO_REASONS = { 2: "EACCES: permission denied", 29: "EIO: input/output error", 31: "EISDIR: is a directory", 44: "ENOENT: no such file or directory", 51: "ENOSPC: no space left on device", 54: "ENOTDIR: not a directory", 63: "EPERM: operation not permitted", 69: "EROFS: read-only file system" };

/** @param {unknown} err */
function errorFields(err) {
  const e = /** @type {{ message?: unknown; code?: unknown; detail?: unknown; errno?: unknown }} */ (err);
  const errno = typeof e?.errno === "number" ? e.errno : undefined;
  return {
    message: typeof e?.message === "string" ? e.message : errno !== undefined ? (/** @type {Record<number, string>} */ (ERRNO_REASONS)[errno] ?? `file system error (errno ${errno})`) : String(err),
    code: typeof e?.code === "string" ? e.code : undefined,
    detail: typeof e?.detail === "string" ? e.detail : undefined,
  };
}

// The listener goes on at once, before the store opens. A message listener keeps this thread's event
// loop alive; without one, opening the store (a WebAssembly compile, then synchronous file reads)
// runs from V8's task queue while Node's loop has nothing to wait for. Node then drains V8's
// background tasks before it looks at the loop again, and those include optimizing compiles of
// PGlite's functions: the first message after "ready" waited 50-90 ms for them (docs/performance-findings.md#startup).
const opened = open();
// PGlite runs one statement at a time anyway; a queue keeps replies in order and errors apart.
/** @type {Promise<unknown>} */
let queue = opened.catch(() => undefined);
port.on("message", (/** @type {ThreadRequest | OpenMessage} */ request) => {
  if (request.op === "open") return openWith(request.wasmModule);
  queue = queue.then(() =>
    opened.then((client) => answer(client, request)).then(
      (reply) => port.postMessage(reply),
      (err) => port.postMessage({ id: request.id, ok: false, error: errorFields(err) }),
    ),
  );
  // Checked after a request, behind its reply, so that an idle store is never woken for it.
  if (request.op === "close" || !checkIsDue()) return;
  queue = queue.then(() => opened.then(checkpointWhenDue)).catch(() => undefined);
});
opened.then(
  () => port.postMessage({ ready: true }),
  (err) => port.postMessage({ ready: false, error: errorFields(err) }),
);
