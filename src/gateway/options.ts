import cluster from "node:cluster";
import path from "node:path";
import type { Logger } from "../core/logger.js";
import type { LoadedConfig } from "../config/load.js";
import type { PgliteThread } from "../store/pglite-client.js";
import { adminKeyFromEnv } from "./data-dir.js";

/**
 * How `airlock start` is asked to run. Kept free of heavy imports: the CLI reads it before it loads
 * the rest, so that the embedded store can start booting in parallel.
 */
export interface StartOptions {
  port?: number;
  host?: string;
  configPath?: string;
  dataDir?: string;
  databaseUrl?: string;
  adminKey?: string;
  logger?: Logger;
  config?: LoadedConfig;
  /** The embedded store's thread, already starting for this data directory (the CLI starts it first). */
  pglite?: Promise<PgliteThread>;
  /** A cluster worker: the primary migrated the store, owns gateway.json and sums /metrics. */
  worker?: { metricsText(): Promise<string> };
}

/** Resolves every runtime option from flags, then the environment, then defaults. */
export function resolveStartOptions(flags: StartOptions, env: NodeJS.ProcessEnv = process.env): Required<Pick<StartOptions, "dataDir">> & StartOptions {
  return {
    ...flags,
    port: flags.port ?? (env.PORT ? portFromEnv(env.PORT) : undefined),
    dataDir: path.resolve(flags.dataDir ?? env.AIRLOCK_DATA_DIR ?? ".airlock"),
    databaseUrl: flags.databaseUrl ?? (env.DATABASE_URL || undefined),
    adminKey: flags.adminKey ?? adminKeyFromEnv(env),
  };
}

/**
 * `PORT`, held to what `--port` accepts. Unchecked, `PORT=abc` reached `listen` as NaN, once the store
 * was open, and stopped the start with Node's own message about `options.port`.
 */
function portFromEnv(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) throw new Error(`PORT is a whole number from 0 to 65535 (got "${value}")`);
  return port;
}

export const WORKER_OPTIONS_ENV = "AIRLOCK_WORKER_OPTIONS";

/**
 * Which of the N places a cluster worker fills, 1 to N. A worker that replaces one that died takes its
 * place, so that names made from it (the directive worker's executor id) survive the restart: the
 * cluster's own worker ids only ever grow.
 */
export const WORKER_SLOT_ENV = "AIRLOCK_WORKER_SLOT";

/**
 * A restarted worker recovers the runs it had started under its name, so the name must be stable across
 * restarts and distinct between workers: `AIRLOCK_EXECUTOR_ID`, else host:port; a cluster worker adds its
 * place (`#1` to `#N`), which its replacement takes over. The configuration's
 * `governance.execution.executorId` replaces the first part only: every worker reads the same file.
 */
export function executorIdentity(env: NodeJS.ProcessEnv, hostname: string, port: number, slot: string | undefined): { executorId: string; executorSuffix: string | undefined } {
  return { executorId: env.AIRLOCK_EXECUTOR_ID || `${hostname}:${port}`, executorSuffix: slot ? `#${slot}` : undefined };
}

/** True inside a process that `airlock start --workers N` forked. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_OPTIONS_ENV] !== undefined;
}

/** The ready line, the same from one process or a cluster's primary: a demo is named as one wherever it runs. */
export function listeningMessage(demo: boolean): string {
  return demo ? "Airlock gateway listening (DEMO configuration on the mock provider: no real model is called)" : "Airlock gateway listening";
}
