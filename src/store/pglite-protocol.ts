/** Messages between the main thread and the PGlite thread (see pglite-thread.ts). */

import type { StatementParam } from "./database.js";
import type { CompiledWasm } from "./pglite-wasm.js";

/**
 * An archive from `dumpDataDir()` to start an in-memory copy from (tests). Bytes on a
 * SharedArrayBuffer reach every thread without a copy; each thread then makes one of its own.
 */
export type StoreArchive = Blob | Uint8Array;

export interface ThreadStart {
  /** Where PGlite keeps its files; neither this nor `dump` means in memory. */
  dataDir?: string;
  /** An archive to start an in-memory copy from (tests). */
  dump?: StoreArchive;
  /** Where the build left its initdb template (pglite-template.mjs): a new store starts from it. */
  templatesDir?: string;
  /** Run the migrations in this folder before answering. */
  migrationsFolder?: string;
  /** When the thread checks the WAL, and how much of it makes a checkpoint (see pglite-thread.mjs); tests make both small. */
  checkpoints?: { checkEveryMs?: number; walBytes?: number };
  /** Opened for one command's few statements (the CLI), not to serve: a small buffer pool (see pglite-thread.mjs). */
  brief?: boolean;
}

/**
 * A thread's first message, which lets it open its store: it loads its code first, and waits for this
 * before it touches the store, since the data directory's lock and PGlite's module may still be on their
 * way as it starts. The module is PGlite's WebAssembly, compiled once for the process (pglite-wasm.ts);
 * without it, the thread's PGlite compiles its own.
 */
export interface OpenMessage {
  op: "open";
  wasmModule: CompiledWasm | undefined;
}

export type ThreadRequest =
  | { id: number; op: "query"; sql: string; params: unknown[]; method: "all" | "execute" }
  | { id: number; op: "exec"; sql: string }
  /** Runs a named statement, parsed and planned the first time this session sees its name (see Database.runPrepared). */
  | { id: number; op: "prepared"; name: string; sql: string; params: readonly StatementParam[] }
  | { id: number; op: "dump" }
  /** Serves this PGlite on loopback to ONE connection (the workflow engine's); replies with its URL. */
  | { id: number; op: "serve" }
  | { id: number; op: "close" };

export interface ThreadError {
  message: string;
  /** The Postgres SQLSTATE, e.g. 23505 for a unique violation. */
  code?: string;
  detail?: string;
}

export type ThreadReply = { id: number; ok: true; rows?: unknown[]; dump?: Blob; url?: string } | { id: number; ok: false; error: ThreadError };

export type ThreadReady = { ready: true } | { ready: false; error: ThreadError };
