import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { createLogger, type Logger } from "../core/logger.js";
import { loadConfig } from "../config/load.js";
import { openDatabase } from "../store/database.js";
import { listeningMessage, resolveStartOptions, WORKER_OPTIONS_ENV, WORKER_SLOT_ENV, type StartOptions } from "./options.js";
import { generatedAdminKey, removeGatewayFile, writeGatewayFile } from "./data-dir.js";
import { answerMetricsRequests, sumWorkerMetrics } from "./cluster-metrics.js";
import { checkCanListen, warnIfFetchRefusesPort } from "./port-check.js";
import { watchConfigFile } from "../config/file-watch.js";
import type { RunningGateway } from "./start.js";

/**
 * `airlock start --workers N`: N gateway processes on one port (node:cluster hands connections out
 * round-robin). The primary does the once-only work (config check, migrations, admin key), serves
 * no requests, restarts a worker that dies, sums every worker's /metrics, and stops them all on a
 * signal. Workers share state only through the store, so the store must be PostgreSQL: PGlite is
 * an in-process database that one process owns.
 */

const LISTENING = "airlock:listening";
const METRICS_REQUEST = "airlock:metrics-request";
const METRICS_RESPONSE = "airlock:metrics-response";

type WorkerOptions = Pick<StartOptions, "port" | "host" | "configPath" | "dataDir" | "databaseUrl" | "adminKey">;

export interface RunningCluster {
  url: string;
  workers: number;
  stop(): Promise<void>;
}

export async function startCluster(flags: StartOptions & { workers: number }): Promise<RunningCluster> {
  const options = resolveStartOptions(flags);
  // Its workers write to the same stdout (see stdoutDestination).
  const logger = options.logger ?? createLogger({ sharedStdout: true });
  if (!options.databaseUrl) {
    throw new Error("--workers needs PostgreSQL (set DATABASE_URL): the embedded PGlite store belongs to one process");
  }
  const loaded = await loadConfig({ path: options.configPath });
  const port = options.port ?? loaded.config.server.port;
  const host = options.host ?? loaded.config.server.host;
  // Before any worker starts: each one seeds the store with this file, which a start that fails must not do.
  await checkCanListen(port, host);
  await mkdir(options.dataDir, { recursive: true });
  const adminKey = options.adminKey ?? (await generatedAdminKey(options.dataDir, logger));
  await (await openDatabase({ url: options.databaseUrl })).close(); // migrations run once, here

  const shared: WorkerOptions = {
    port,
    host,
    configPath: options.configPath,
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    adminKey,
  };
  /** The workers that listen: /metrics sums theirs (one still starting has none to give). */
  const serving = new Set<Worker>();
  let stopping = false;
  /** Until every worker listens, an exit fails the start (below) instead of being replaced. */
  let started = false;
  let url = "";
  let recentExits: number[] = [];

  const fork = (slot: number): Worker => {
    const worker = cluster.fork({ [WORKER_OPTIONS_ENV]: JSON.stringify(shared), [WORKER_SLOT_ENV]: String(slot) });
    worker.on("message", (message: { type?: string; id?: number }) => {
      if (message?.type === LISTENING) serving.add(worker);
      if (message?.type !== METRICS_REQUEST) return;
      // The callback takes the failure to send to a worker that died meanwhile, which would otherwise be
      // an unhandled 'error' on it and end the primary.
      const answer = (reply: { text?: string; error?: string }) => worker.send({ type: METRICS_RESPONSE, id: message.id, ...reply }, () => undefined);
      sumWorkerMetrics([...serving]).then(
        (text) => answer({ text }),
        (err: unknown) => answer({ error: err instanceof Error ? err.message : String(err) }),
      );
    });
    worker.on("exit", (code, signal) => {
      serving.delete(worker);
      // Which worker failed the shutdown, and how: "a worker did not stop cleanly" alone names none.
      if (stopping && started && code !== 0) logger.error({ pid: worker.process.pid, code, signal }, "gateway worker did not stop cleanly");
      if (stopping || !started) return;
      // A worker that keeps dying (a bad host, an exhausted resource) is restarted ever more slowly, up to 30 s apart.
      const now = Date.now();
      recentExits = recentExits.filter((at) => now - at < 60_000).concat(now);
      const delayMs = Math.min(30_000, 250 * 2 ** (recentExits.length - 1));
      logger.error({ pid: worker.process.pid, slot, code, signal, restartInMs: delayMs }, "gateway worker exited; starting another");
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delayMs);
    });
    return worker;
  };

  const workers = Array.from({ length: flags.workers }, (_, i) => fork(i + 1));
  try {
    const ready = await Promise.all(workers.map((worker) => listeningUrl(worker)));
    url = ready[0]!;
    started = true;
  } catch (err) {
    stopping = true;
    await stopWorkers(Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined), 5_000);
    throw err;
  }
  await writeGatewayFile(options.dataDir, url);
  logger.info({ url, workers: flags.workers, store: "postgres", config: loaded.source, configHash: loaded.hash, demo: loaded.config.demo }, listeningMessage(loaded.config.demo));
  warnIfFetchRefusesPort(logger, port);

  const fileWatch = loaded.source !== "demo" ? watchConfigFile(loaded.source, loaded.hash, logger) : undefined;
  let stopped: Promise<void> | undefined;
  return {
    url,
    workers: flags.workers,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        fileWatch?.close();
        const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
        const clean = await stopWorkers(live, loaded.config.server.shutdownGraceMs + 10_000, serving);
        await removeGatewayFile(options.dataDir);
        logger.info({ workers: live.length }, "Airlock gateway stopped");
        if (!clean) throw new Error("a worker did not stop cleanly");
      })()),
  };
}

function listeningUrl(worker: Worker): Promise<string> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; url?: string }) => {
      if (message?.type !== LISTENING || !message.url) return;
      worker.off("exit", onExit);
      worker.off("message", onMessage);
      resolve(message.url);
    };
    const onExit = (code: number | null) => reject(new Error(`a gateway worker exited during startup (code ${code})`));
    worker.on("message", onMessage);
    worker.once("exit", onExit);
  });
}

/**
 * SIGTERM to each worker (they flush their ledgers), SIGKILL past the grace. True when all exited 0.
 * With `serving`, a worker not in it (a replacement still starting) is signalled only once it listens:
 * until its code has loaded it has no handler, and Node's default for SIGTERM would kill it mid-start,
 * which reads as a failed shutdown. The grace bounds that wait too.
 */
async function stopWorkers(workers: Worker[], graceMs: number, serving?: ReadonlySet<Worker>): Promise<boolean> {
  const results = await Promise.all(
    workers.map(async (worker) => {
      if (worker.isDead()) return worker.process.exitCode === 0;
      const exited = once(worker, "exit") as Promise<[number | null, string | null]>;
      const timer = setTimeout(() => worker.process.kill("SIGKILL"), graceMs);
      if (serving && !serving.has(worker)) await Promise.race([listeningUrl(worker).catch(() => undefined), exited]);
      if (!worker.isDead()) worker.process.kill("SIGTERM");
      const [code] = await exited;
      clearTimeout(timer);
      return code === 0;
    }),
  );
  return results.every(Boolean);
}

/** Inside a worker: run one full gateway with the primary's options, and report when listening. */
export async function startClusterWorker(logger?: Logger): Promise<RunningGateway> {
  const shared = JSON.parse(process.env[WORKER_OPTIONS_ENV] ?? "{}") as WorkerOptions;
  const workerLogger = (logger ?? createLogger({ sharedStdout: true })).child({ worker: cluster.worker?.id, slot: Number(process.env[WORKER_SLOT_ENV]) });
  // Loaded here, not at the top: the primary imports this module too, and serves no requests.
  const { startGateway } = await import("./start.js");
  const running = await startGateway({ ...shared, logger: workerLogger, worker: { metricsText: clusterMetricsText } });
  answerMetricsRequests(running.plane.metrics.registry);
  process.send?.({ type: LISTENING, url: running.url });
  return running;
}

let nextMetricsRequest = 0;
const pendingMetrics = new Map<number, { resolve(text: string): void; reject(err: Error): void }>();

/** Every serving worker's metrics, summed by the primary (see cluster-metrics.ts). */
function clusterMetricsText(): Promise<string> {
  if (pendingMetrics.size === 0) process.on("message", onMetricsResponse);
  const id = nextMetricsRequest++;
  return new Promise((resolve, reject) => {
    pendingMetrics.set(id, { resolve, reject });
    process.send?.({ type: METRICS_REQUEST, id });
  });
}

function onMetricsResponse(message: { type?: string; id?: number; text?: string; error?: string }): void {
  if (message?.type !== METRICS_RESPONSE || message.id === undefined) return;
  const pending = pendingMetrics.get(message.id);
  if (!pending) return;
  pendingMetrics.delete(message.id);
  if (pendingMetrics.size === 0) process.off("message", onMetricsResponse);
  if (message.error !== undefined) pending.reject(new Error(message.error));
  else pending.resolve(message.text ?? "");
}
