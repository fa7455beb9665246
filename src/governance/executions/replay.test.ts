import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogs } from "../../../test/support/routing.js";
import { freshStore, STORE_KINDS, type TestStore } from "../../../test/support/stores.js";
import { getDirective, moveDirective } from "../../store/queries/directives.js";
import { artifactsOfRun, getRun } from "../../store/queries/executions.js";
import { Metrics } from "../../telemetry/metrics.js";
import { nextStatuses, transitionError } from "../directives/lifecycle.js";
import { ArtifactWriter, LocalObjectStore } from "./artifact-store.js";
import type { DurableStep } from "./engine.js";
import { Executions } from "./executions.js";
import { ModuleRegistry, noopModule } from "./modules.js";

/** The workflow body, which the durable engine runs; driven here with steps of the test's own. */
type WithWorkflow = { execute(directiveId: string, step: DurableStep): Promise<void> };

/**
 * A step that finished its writes but not its checkpoint (the process died in between) runs again
 * when the engine recovers the workflow. Replaying the end step must change nothing, and say nothing
 * twice.
 */
describe.each(STORE_KINDS)("a replayed end step on %s", (kind) => {
  let store: TestStore | undefined;
  let executions: Executions | undefined;
  let artifactsDir: string | undefined;
  afterEach(async () => {
    await executions?.close();
    await store?.cleanup();
    if (artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
    executions = store = artifactsDir = undefined;
  });

  it("ends the run once: one execution_end artifact and one 'execution run ended' line", async () => {
    store = await freshStore(kind);
    artifactsDir = await mkdtemp(path.join(os.tmpdir(), "airlock-replay-"));
    await store.database.execute(`insert into directives (id, role, type, payload, issued_by, issued_by_kind, objective, scope, constraints, success_metrics, status, approved_at)
      values ('dir_replay', 'ops', 'noop', '{}', 'admin', 'admin', 'test a replayed end step', 'test', '[]', '[]', 'approved', now())`);
    const logs = captureLogs();
    const db = store.database.db;
    const moves: string[] = [];
    executions = new Executions({
      db: store.database.db,
      logger: logs.logger,
      metrics: new Metrics(),
      settings: { enabled: true, concurrency: 1, pollIntervalMs: 250, executorId: "replay-test" },
      modules: new ModuleRegistry([noopModule]),
      artifacts: new ArtifactWriter(store.database.db, new LocalObjectStore(artifactsDir)),
      // The lifecycle's own rule, as the directives service applies it: a move it does not allow is refused.
      moveDirective: async (id, to) => {
        moves.push(to);
        const current = (await getDirective(db, id))!;
        if (!nextStatuses(current.status).includes(to)) throw transitionError(id, current.status, to);
        return (await moveDirective(db, id, current.status, to))!;
      },
      sharedStore: () => false,
      engineStore: () => Promise.reject(new Error("no engine in this test")),
    });
    const runs: Record<string, number> = {};
    const replayingEnd: DurableStep = async (name, work) => {
      runs[name] = (runs[name] ?? 0) + 1;
      const result = await work();
      if (name !== "end") return result;
      runs[name]++;
      return work();
    };

    await (executions as unknown as WithWorkflow).execute("dir_replay", replayingEnd);

    expect(runs).toEqual({ start: 1, module: 1, end: 2 });
    const run = await getRun(db, "run_replay");
    expect(run).toMatchObject({ status: "completed", moduleStatus: "SUCCESS" });
    const ends = (await artifactsOfRun(db, "run_replay")).filter((a) => a.type === "execution_end");
    expect(ends).toHaveLength(1);
    expect(ends[0]!.body).toMatchObject({ status: "completed" });
    // The replay asks for the move again (the first may not have landed); the lifecycle refuses it, and the directive stays complete.
    expect(moves).toEqual(["executing", "complete", "complete"]);
    expect((await getDirective(db, "dir_replay"))!.status).toBe("complete");
    expect(logs.lines.filter((line) => line.msg === "execution run ended")).toHaveLength(1);
    expect(logs.lines.filter((line) => line.msg === "execution run ended")[0]).toMatchObject({ run: "run_replay", status: "completed" });
  });
});
