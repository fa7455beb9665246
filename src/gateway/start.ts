import cluster from "node:cluster";
import os from "node:os";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { ControlPlane } from "../control-plane.js";
import { createLogger } from "../core/logger.js";
import { loadConfig } from "../config/load.js";
import { watchConfigFile } from "../config/file-watch.js";
import { openDatabase, type Database } from "../store/database.js";
import { startTracing } from "../telemetry/tracing.js";
import { generatedAdminKey, removeGatewayFile, writeGatewayFile } from "./data-dir.js";
import { executorIdentity, listeningMessage, resolveStartOptions, WORKER_SLOT_ENV, type StartOptions } from "./options.js";
import { checkCanListen, warnIfFetchRefusesPort } from "./port-check.js";

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

export async function startGateway(flags: StartOptions = {}): Promise<RunningGateway> {
  const options = resolveStartOptions(flags);
  const logger = options.logger ?? createLogger();
  const loaded = options.config ?? (await loadConfig({ path: options.configPath }));
  await mkdir(options.dataDir, { recursive: true });
  const adminKey = options.adminKey ?? (await generatedAdminKey(options.dataDir, logger));
  const port = options.port ?? loaded.config.server.port;
  const host = options.host ?? loaded.config.server.host;
  // A worker's port is its primary's, which checked it before starting any worker.
  if (!options.worker) await checkCanListen(port, host);
  const tracing = await startTracing();
  let database: Database | undefined;
  let plane: ControlPlane | undefined;
  try {
    const migrate = !options.worker;
    database = await openDatabase(options.databaseUrl ? { url: options.databaseUrl, migrate } : { dataDir: path.join(options.dataDir, "pgdata"), migrate, pglite: options.pglite });
    plane = await ControlPlane.create({ config: loaded, database, logger, adminKey, dataDir: options.dataDir, processMetrics: true, ...executorIdentity(process.env, os.hostname(), port, cluster.isWorker ? process.env[WORKER_SLOT_ENV] : undefined) });
    const gateway = createGateway({ plane, logger, metricsText: options.worker?.metricsText });
    const { url, port: bound } = await gateway.listen(port, host);
    if (!options.worker) await writeGatewayFile(options.dataDir, url);
    logger[options.worker ? "debug" : "info"](
      { url, store: database.kind, config: loaded.source, configHash: loaded.hash, demo: loaded.config.demo },
      listeningMessage(loaded.config.demo),
    );
    if (!options.worker) warnIfFetchRefusesPort(logger, bound);
    // Only a file this process read itself; a cluster's primary watches for all its workers.
    const fileWatch = !options.config && !options.worker && loaded.source !== "demo" ? watchConfigFile(loaded.source, loaded.hash, logger) : undefined;
    const ready = { database, plane };
    let stopping: Promise<void> | undefined;
    return {
      url,
      port: bound,
      plane,
      gateway,
      stop: () =>
        (stopping ??= (async () => {
          fileWatch?.close();
          await gateway.close(loaded.config.server.shutdownGraceMs);
          if (!options.worker) await removeGatewayFile(options.dataDir);
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

