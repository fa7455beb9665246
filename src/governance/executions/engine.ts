import { DBOS } from "@dbos-inc/dbos-sdk";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Logger } from "../../core/logger.js";
import { workflowIdOf } from "./run-lifecycle.js";

/**
 * Pinned, because the engine otherwise derives the version from a hash of the code, and a deploy would
 * orphan every workflow still waiting. Bump it only when the workflow's steps change order or meaning.
 */
export const WORKFLOW_VERSION = "airlock-executions-1";
const APPLICATION = "airlock";
const QUEUE = "airlock_executions";
const SCHEMA = "airlock_workflows";
/** Any constant will do: it only has to be the same for every worker migrating the same database. */
const MIGRATION_LOCK = 7_315_002;

/** A checkpointed step: once it has returned, a resumed workflow gets its result back instead of running it again. */
export type DurableStep = <T>(name: string, work: () => Promise<T>) => Promise<T>;
export type WorkflowBody = (directiveId: string, step: DurableStep) => Promise<void>;

const durableStep: DurableStep = (name, work) => DBOS.runStep(work, { name });

export interface EngineSettings {
  /** The engine's Postgres: the store itself, or PGlite's one-connection socket. */
  url: string;
  /** PGlite behind a socket: one connection, no LISTEN/NOTIFY, polling instead. */
  embedded: boolean;
  executorId: string;
  concurrency: number;
  pollIntervalMs: number;
  logger: Logger;
}

/** The engine is one per process (DBOS is a process-wide singleton); this is whose body it runs. */
let body: WorkflowBody | undefined;

const executeDirective = DBOS.registerWorkflow(
  async (directiveId: string): Promise<void> => {
    if (!body) throw new Error("no execution engine is running in this process");
    await body(directiveId, durableStep);
  },
  { name: "executeDirective" },
);

/**
 * Loaded only when a worker first has work (see Executions): the engine's code costs startup time
 * that an instance which never runs a directive should not pay.
 *
 * Durable execution on DBOS Transact (in Temporal's words: each directive's run is a workflow, each
 * stage an activity whose result is checkpointed, and workers share one task queue). A worker killed
 * mid-run resumes the run when it restarts, from the first step that had not finished.
 */
export class WorkflowEngine {
  private constructor(private readonly settings: EngineSettings) {}

  /** Takes the process's engine; undefined when another control plane in this process already has it. */
  static async launch(settings: EngineSettings, run: WorkflowBody): Promise<WorkflowEngine | undefined> {
    if (body) return undefined;
    body = run;
    try {
      const engine = new WorkflowEngine(settings);
      await engine.start();
      return engine;
    } catch (err) {
      body = undefined;
      throw err;
    }
  }

  private async start(): Promise<void> {
    const { url, embedded, executorId, concurrency, pollIntervalMs, logger } = this.settings;
    // Simultaneous first launches deadlock in the engine's migrations: one worker launches (and migrates) at a time.
    const lock = embedded ? undefined : await migrationLock(url);
    try {
      DBOS.setConfig({
        name: APPLICATION,
        systemDatabaseUrl: embedded ? url : withSessionTimeout(url),
        // Set in the URL instead (or pointless on PGlite's single session): set by the engine, it is a query
        // on every new connection racing the first real one, which pg reports as a deprecated overlap.
        systemDatabaseIdleTransactionTimeoutMs: 0,
        systemDatabaseSchemaName: SCHEMA,
        systemDatabasePoolSize: embedded ? 1 : Math.max(4, concurrency + 2),
        useListenNotify: !embedded,
        applicationVersion: WORKFLOW_VERSION,
        executorID: executorId,
        logger: engineLogger(logger),
      });
      await DBOS.launch();
    } finally {
      await lock?.end();
    }
    await DBOS.registerQueue(QUEUE, { workerConcurrency: concurrency, minPollingIntervalMs: pollIntervalMs, onConflict: "always_update" });
    logger.info({ executor: executorId, version: WORKFLOW_VERSION, embedded }, "execution engine started");
  }

  /** Queues a directive's run. The workflow id is the directive's, so every worker may offer it and it still runs once. */
  async enqueue(directiveId: string): Promise<void> {
    await DBOS.startWorkflow(executeDirective, { workflowID: workflowIdOf(directiveId), queueName: QUEUE })(directiveId);
  }

  async shutdown(): Promise<void> {
    try {
      await DBOS.shutdown();
    } finally {
      body = undefined;
    }
  }
}


/** Ends a session left idle inside a transaction after a minute (a worker that died mid-step), releasing its locks. */
function withSessionTimeout(url: string): string {
  const parsed = new URL(url);
  if (parsed.searchParams.get("options")?.includes("idle_in_transaction_session_timeout")) return url;
  parsed.searchParams.set("options", `${parsed.searchParams.get("options") ?? ""} -c idle_in_transaction_session_timeout=60000`.trim());
  return parsed.href;
}

/** A session holding the workers' launch lock; ending it releases the lock. */
async function migrationLock(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Polled, not waited on: the engine's migrations build indexes CONCURRENTLY, which wait for every
    // open statement, including another worker's blocked pg_advisory_lock, and that deadlocks.
    for (;;) {
      const { rows } = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1) as locked", [MIGRATION_LOCK]);
      if (rows[0]?.locked) return client;
      await sleep(100);
    }
  } catch (err) {
    await client.end();
    throw err;
  }
}

/** The engine's own log lines, through Airlock's logger at the same levels. */
function engineLogger(logger: Logger): { info(e: unknown): void; debug(e: unknown): void; warn(e: unknown): void; error(e: unknown): void } {
  const line = (level: "info" | "debug" | "warn" | "error") => (entry: unknown) => {
    if (entry instanceof Error) logger[level]({ component: "workflows", err: entry }, entry.message);
    else logger[level]({ component: "workflows" }, typeof entry === "string" ? entry : JSON.stringify(entry));
  };
  return { info: line("info"), debug: line("debug"), warn: line("warn"), error: line("error") };
}
