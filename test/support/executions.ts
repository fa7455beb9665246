import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { ArtifactWriter, LocalObjectStore } from "../../src/governance/executions/artifact-store.js";
import { Executions, type ExecutionsOptions } from "../../src/governance/executions/executions.js";
import { ModuleRegistry, noopModule } from "../../src/governance/executions/modules.js";
import { Metrics } from "../../src/telemetry/metrics.js";
import { freshStore, type StoreKind, type TestStore } from "./stores.js";

/**
 * An execution orchestrator over a fresh store of `kind`, with the no-op module and local artifacts,
 * closed and removed after each test. Options the test names replace the defaults; the defaults have
 * no engine (its store refuses) and no directive moves.
 */
export function scratchExecutions(kind: StoreKind): { open(options?: (store: TestStore) => Partial<ExecutionsOptions>): Promise<{ store: TestStore; executions: Executions }> } {
  let store: TestStore | undefined;
  let executions: Executions | undefined;
  let artifactsDir: string | undefined;
  afterEach(async () => {
    await executions?.close();
    await store?.cleanup();
    if (artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
    executions = store = artifactsDir = undefined;
  });
  return {
    async open(options) {
      store = await freshStore(kind);
      artifactsDir = await mkdtemp(path.join(os.tmpdir(), "airlock-executions-"));
      const opened = store;
      executions = new Executions({
        db: opened.database.db,
        logger: silentLogger,
        metrics: new Metrics(),
        settings: { enabled: true, concurrency: 1, pollIntervalMs: 250, executorId: "test" },
        modules: new ModuleRegistry([noopModule]),
        artifacts: new ArtifactWriter(opened.database.db, new LocalObjectStore(artifactsDir)),
        moveDirective: () => Promise.reject(new Error("no directive moves in this test")),
        sharedStore: () => opened.database.kind === "postgres",
        engineStore: () => Promise.reject(new Error("the engine's store refused the connection")),
        ...options?.(opened),
      });
      return { store: opened, executions };
    },
  };
}

/** An approved `noop` directive, ready to be dispatched. */
export async function insertApprovedDirective(store: TestStore, id: string, objective: string): Promise<void> {
  await store.database.execute(`insert into directives (id, role, type, payload, issued_by, issued_by_kind, objective, scope, constraints, success_metrics, status, approved_at)
    values ('${id}', 'ops', 'noop', '{}', 'admin', 'admin', '${objective}', 'test', '[]', '[]', 'approved', now())`);
}
