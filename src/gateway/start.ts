import cluster from "node:cluster";
import os from "node:os";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ControlPlane } from "../control-plane.js";
import { createLogger, type Logger } from "../core/logger.js";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import { openDatabase, type Database } from "../store/database.js";
import { startTracing, type TracingHandle } from "../telemetry/tracing.js";
import { resolveStartOptions, type StartOptions } from "./options.js";

export type { StartOptions } from "./options.js";
import { createGateway, type Gateway } from "./server.js";

export interface RunningGateway {
  url: string;
  port: number;
  plane: ControlPlane;
  gateway: Gateway;
  /** Graceful: stop accepting, finish in-flight calls, flush the ledger, close the store. */
  stop(): Promise<void>;
}

export const ADMIN_KEY_FILE = "admin-key";
/** Written while a gateway holds the data directory, so the CLI goes through it instead of opening the store. */
export const GATEWAY_FILE = "gateway.json";

export async function startGateway(flags: StartOptions = {}): Promise<RunningGateway> {
  const options = resolveStartOptions(flags);
  const logger = options.logger ?? createLogger();
  const loaded = options.config ?? (await loadConfig({ path: options.configPath }));
  await mkdir(options.dataDir, { recursive: true });
  const adminKey = options.adminKey ?? (await generatedAdminKey(options.dataDir, logger));
  const tracing = await startTracing();
  let database: Database | undefined;
  let plane: ControlPlane | undefined;
  try {
    const migrate = !options.worker;
    database = await openDatabase(options.databaseUrl ? { url: options.databaseUrl, migrate } : { dataDir: path.join(options.dataDir, "pgdata"), migrate, pglite: options.pglite });
    const port = options.port ?? loaded.config.server.port;
    plane = await ControlPlane.create({ config: loaded, database, logger, adminKey, dataDir: options.dataDir, processMetrics: true, executorId: executorIdOf(port) });
    const gateway = createGateway({ plane, logger, metricsText: options.worker?.metricsText });
    const { url, port: bound } = await gateway.listen(port, options.host ?? loaded.config.server.host);
    const gatewayFile = path.join(options.dataDir, GATEWAY_FILE);
    if (!options.worker) await writeFile(gatewayFile, JSON.stringify({ pid: process.pid, url }) + "\n");
    logger[options.worker ? "debug" : "info"](
      { url, store: database.kind, config: loaded.source, configHash: loaded.hash, demo: loaded.config.demo },
      loaded.config.demo ? "Airlock gateway listening (DEMO configuration on the mock provider: no real model is called)" : "Airlock gateway listening",
    );
    const ready = { database, plane };
    let stopping: Promise<void> | undefined;
    return {
      url,
      port: bound,
      plane,
      gateway,
      stop: () =>
        (stopping ??= (async () => {
          await gateway.close(loaded.config.server.shutdownGraceMs);
          if (!options.worker) await rm(gatewayFile, { force: true });
          await ready.plane.close();
          await ready.database.close();
          await tracing?.shutdown();
          logger.info({ ledger: ready.plane.ledgerStats }, "Airlock gateway stopped");
        })()),
    };
  } catch (err) {
    await plane?.close();
    await database?.close();
    await tracing?.shutdown();
    throw err;
  }
}

/**
 * Without `AIRLOCK_ADMIN_KEY`, a local admin key is made once and kept in the data directory (mode 0600),
 * so a first run works without setup and the key never appears in logs.
 */
export async function generatedAdminKey(dataDir: string, logger: Logger): Promise<string> {
  const file = path.join(dataDir, ADMIN_KEY_FILE);
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const key = "sk-al-admin-" + randomBytes(24).toString("base64url");
    await writeFile(file, key + "\n", { mode: 0o600 });
    logger.warn({ file }, "AIRLOCK_ADMIN_KEY is not set: generated an admin key and saved it to this file");
    return key;
  }
}

export async function readAdminKeyFile(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(path.join(dataDir, ADMIN_KEY_FILE), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}


/** The gateway that holds this data directory, if one is running. */
export async function runningGateway(dataDir: string): Promise<{ pid: number; url: string } | undefined> {
  try {
    const info = JSON.parse(await readFile(path.join(dataDir, GATEWAY_FILE), "utf8")) as { pid: number; url: string };
    process.kill(info.pid, 0); // throws when no such process
    return info;
  } catch {
    return undefined;
  }
}

/**
 * A restarted worker recovers the runs it had started under this name, so it must be stable across
 * restarts and distinct between workers: `AIRLOCK_EXECUTOR_ID`, else host:port (and the cluster worker's number).
 */
function executorIdOf(port: number): string {
  if (process.env.AIRLOCK_EXECUTOR_ID) return process.env.AIRLOCK_EXECUTOR_ID;
  const worker = cluster.isWorker ? `#${cluster.worker?.id ?? 0}` : "";
  return `${os.hostname()}:${port}${worker}`;
}
