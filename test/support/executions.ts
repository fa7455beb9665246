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

/**
 * A gateway configuration that runs directives as soon as they are proposed (auto-approved), polling
 * its queue every 250 ms, with `concurrency` runs at a time, against an OpenAI-compatible `upstream`.
 */
export const executingGatewayConfig = (upstream: string, concurrency = 4) => `
providers:
  oai: { type: openai-compatible, baseUrl: "${upstream}", apiKey: sk-upstream }
models:
  - { id: oai/gpt-4o-mini, price: { input: "1", output: "2", per: 1M } }
governance:
  policy: { autoApprove: true }
  execution: { pollIntervalMs: 250, concurrency: ${concurrency} }
`;

type LogLine = Record<string, unknown>;
/** How many times a gateway's log says it ran `step` of a run. */
export const stepsRan = (lines: LogLine[], step: string) => lines.filter((l) => l.msg === "execution step ran" && l.step === step).length;
/** How many of a gateway's log lines say `msg`. */
export const countLogged = (lines: LogLine[], msg: string) => lines.filter((l) => l.msg === msg).length;
