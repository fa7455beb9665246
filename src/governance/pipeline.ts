import os from "node:os";
import path from "node:path";
import type { AirlockConfig } from "../config/schema.js";
import type { Logger } from "../core/logger.js";
import type { Database } from "../store/database.js";
import type { Metrics } from "../telemetry/metrics.js";
import { Directives } from "./directives/directives.js";
import { ArtifactWriter, LazyS3Store, LocalObjectStore, type ObjectStore } from "./executions/artifact-store.js";
import { Executions } from "./executions/executions.js";
import { llmCallModule, type ChatCaller } from "./executions/llm-call.js";
import { postgresMemoryReader, type MemoryReader } from "./executions/memory.js";
import { echoModule, failIntentionallyModule, ModuleRegistry, noopModule, type ExecutionModule } from "./executions/modules.js";

export interface GovernanceOptions {
  database: Database;
  logger: Logger;
  metrics: Metrics;
  config: AirlockConfig;
  /** Where local artifacts go when the config names no directory. */
  dataDir: string | undefined;
  /** This worker's default name; the config's `executorId` wins. */
  executorId: string | undefined;
  /** What a cluster worker adds to its name, whichever wins (`#2`): every worker reads the same config. */
  executorSuffix?: string | undefined;
  /** `llm_call`'s way into the call path. */
  chat: ChatCaller;
  /** More execution modules, beside noop, echo, fail_intentionally and llm_call. */
  modules?: readonly ExecutionModule[];
  /** Whether other control planes may use the store (see joinStore). */
  sharedStore(): boolean;
  /** Tells every other instance that a directive was approved, so that their workers dispatch it at once; never throws. */
  announceApproval?(): Promise<void>;
}

/** The governance pipeline, wired: directives → policy → approval → durable execution → artifacts. */
export interface Governance {
  directives: Directives;
  executions: Executions;
  artifacts: ArtifactWriter;
  memory: MemoryReader;
  close(): Promise<void>;
}

export function createGovernance(options: GovernanceOptions): Governance {
  const { database, logger, metrics, config } = options;
  const { execution, artifacts: storage, policy } = config.governance;
  const objects: ObjectStore = storage.kind === "s3" ? new LazyS3Store(storage) : new LocalObjectStore(path.resolve(storage.dir ?? path.join(options.dataDir ?? ".airlock", "artifacts")));
  const artifacts = new ArtifactWriter(database.db, objects);
  let executions: Executions | undefined;
  const onApproved = () => {
    executions?.kick();
    void options.announceApproval?.();
  };
  const directives = new Directives({ db: database.db, logger, policy, metrics, artifacts, onApproved, maxPendingPerKey: config.governance.maxPendingPerKey });
  const executorId = (execution.executorId ?? options.executorId ?? os.hostname()) + (options.executorSuffix ?? "");
  executions = new Executions({
    db: database.db,
    logger,
    metrics,
    settings: { ...execution, executorId },
    modules: new ModuleRegistry([noopModule, echoModule, failIntentionallyModule, llmCallModule(options.chat), ...(options.modules ?? [])]),
    artifacts,
    moveDirective: (id, to) => directives.advance(id, to, executorId),
    sharedStore: options.sharedStore,
    engineStore: async () => ({ url: await database.workflowsUrl(), embedded: database.kind === "pglite" }),
  });
  return {
    directives,
    executions,
    artifacts,
    memory: postgresMemoryReader(database.db),
    close: async () => {
      await executions.close();
      if (objects instanceof LazyS3Store) await objects.close();
    },
  };
}
