import { describe, expect, it } from "vitest";
import { insertApprovedDirective, scratchExecutions } from "../../../test/support/executions.js";
import { captureLogs } from "../../../test/support/routing.js";
import { STORE_KINDS } from "../../../test/support/stores.js";
import { getDirective, moveDirective } from "../../store/queries/directives.js";
import { artifactsOfRun, getRun } from "../../store/queries/executions.js";
import { nextStatuses, transitionError } from "../directives/lifecycle.js";
import type { DurableStep } from "./engine.js";
import { ModuleRegistry, type ExecutionModule } from "./modules.js";

/** The workflow body, which the durable engine runs; driven here with steps of the test's own. */
type WithWorkflow = { execute(directiveId: string, step: DurableStep): Promise<void> };

/**
 * A step that finished its writes but not its checkpoint (the process died in between) runs again
 * when the engine recovers the workflow. Replaying the end step must change nothing, and say nothing
 * twice.
 */
describe.each(STORE_KINDS)("a replayed end step on %s", (kind) => {
  const scratch = scratchExecutions(kind);

  it("ends the run once: one execution_end artifact and one 'execution run ended' line", async () => {
    const logs = captureLogs();
    const moves: string[] = [];
    const { store, executions } = await scratch.open((opened) => ({
      logger: logs.logger,
      settings: { enabled: true, concurrency: 1, pollIntervalMs: 250, executorId: "replay-test" },
      // The lifecycle's own rule, as the directives service applies it: a move it does not allow is refused.
      moveDirective: async (id, to) => {
        moves.push(to);
        const current = (await getDirective(opened.database.db, id))!;
        if (!nextStatuses(current.status).includes(to)) throw transitionError(id, current.status, to);
        return (await moveDirective(opened.database.db, id, current.status, to))!;
      },
    }));
    const db = store.database.db;
    await insertApprovedDirective(store, "dir_replay", "test a replayed end step");
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

describe.each(STORE_KINDS)("a replayed module step on %s", (kind) => {
  const scratch = scratchExecutions(kind);

  it("does each of the module's effects once, and gives each its own result back on the replay", async () => {
    const done: string[] = [];
    const notify: ExecutionModule = {
      name: "noop",
      async execute(context) {
        const email = await context.once(async () => (done.push("email"), { sent: "email" }));
        const slack = await context.once(async () => (done.push("slack"), { posted: "slack" }));
        return { status: "SUCCESS", output: { email, slack } };
      },
    };
    const { store, executions } = await scratch.open((opened) => ({
      modules: new ModuleRegistry([notify]),
      moveDirective: async (id, to) => (await moveDirective(opened.database.db, id, (await getDirective(opened.database.db, id))!.status, to))!,
    }));
    await insertApprovedDirective(store, "dir_effects", "two effects");
    const outputs: unknown[] = [];
    const replayingModule: DurableStep = async (name, work) => {
      if (name !== "module") return work();
      outputs.push(((await work()) as { output: unknown }).output);
      const again = await work();
      outputs.push((again as { output: unknown }).output);
      return again;
    };

    await (executions as unknown as WithWorkflow).execute("dir_effects", replayingModule);

    expect(done).toEqual(["email", "slack"]);
    expect(outputs).toEqual([
      { email: { sent: "email" }, slack: { posted: "slack" } },
      { email: { sent: "email" }, slack: { posted: "slack" } },
    ]);
    expect(await getRun(store.database.db, "run_effects")).toMatchObject({ status: "completed", output: { email: { sent: "email" }, slack: { posted: "slack" } } });
  });
});
