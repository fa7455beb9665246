import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { openDatabase } from "../src/store/database.js";
import { moduleEffects } from "../src/store/schema/index.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { countLogged, executingGatewayConfig, stepsRan } from "./support/executions.js";
import { api } from "./support/routing.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, seedDataDir, spawnGateway, workspace } from "./support/process.js";
import { scratchDatabaseForTest, STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/**
 * Durable execution with real worker processes: a worker SIGKILLed in the middle of a module step
 * resumes the run when it restarts, without repeating the steps that had finished, and the module's
 * side effect happens once. Two workers sharing one queue: executions.instances.e2e.test.ts.
 */
let upstream: FakeUpstream | undefined;
afterEach(async () => {
  await killAll();
  await upstream?.close();
});
afterAll(removeTempDirs);

describe.each(STORE_KINDS)("durable execution across a worker crash on %s", (kind) => {
  it("resumes a run after kill -9 in its module step: earlier steps not repeated, the effect done once", async () => {
    upstream = await startFakeUpstream("openai");
    const { cwd, dataDir } = await workspace();
    await writeFile(path.join(cwd, "airlock.config.yaml"), executingGatewayConfig(upstream.url));
    const adminKey = randomAdminKey();
    const store = kind === "postgres" ? { DATABASE_URL: (await scratchDatabaseForTest()).href } : {};
    if (kind === "pglite") await seedDataDir(dataDir, { workflows: true });
    const env = isolatedEnv({ AIRLOCK_ADMIN_KEY: adminKey, AIRLOCK_DATA_DIR: dataDir, AIRLOCK_EXECUTOR_ID: "worker-a", ...store });
    const start = () => spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"], startTimeoutMs: 40_000 });

    const first = await start();
    const created = await api({ url: first.url, adminKey }, "POST", "/admin/directives", { role: "ops", type: "echo", payload: { message: "once", delayMs: 4_000 }, objective: "echo once", scope: "test", budget: "$1" });
    const id: string = created.body.id;
    expect((await api({ url: first.url, adminKey }, "POST", `/admin/directives/${id}/propose`)).body.status).toBe("approved");
    // The effect is recorded as the module step begins; the worker dies while the module is still at work.
    await waitFor(async () => countLogged(first.logLines(), "module effect done"), (n) => n === 1, 30_000);
    const killedAt = Date.now();
    first.proc.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const before = first.logLines();
    expect(stepsRan(before, "start")).toBe(1);
    expect(stepsRan(before, "module")).toBe(1);
    expect(stepsRan(before, "end")).toBe(0);

    const second = await start();
    const done = await waitFor(() => api({ url: second.url, adminKey }, "GET", `/admin/directives/${id}`).then((r) => r.body), (d) => d.status === "complete", 40_000);
    expect(done.value.artifacts.map((a: { type: string }) => a.type)).toEqual(["policy_evaluation", "execution_start", "execution_checkpoint", "execution_end"]);
    const run = (await api({ url: second.url, adminKey }, "GET", "/admin/runs")).body.data[0];
    expect(run).toMatchObject({ directiveId: id, status: "completed", output: { echo: "once" }, executorId: "worker-a" });
    await second.stop(); // flushes its log
    const after = second.logLines();
    expect(stepsRan(after, "start")).toBe(0); // checkpointed before the crash: not run again
    expect(stepsRan(after, "module")).toBe(1); // interrupted: run again…
    expect(countLogged(after, "module effect found: not done again")).toBe(1); // …and finds its effect done
    expect(countLogged(after, "module effect done")).toBe(0);
    expect(stepsRan(after, "end")).toBe(1);

    const database = await openDatabase(kind === "postgres" ? { url: store.DATABASE_URL } : { dataDir: path.join(dataDir, "pgdata") });
    try {
      const effects = await database.db.select().from(moduleEffects).where(eq(moduleEffects.idempotencyKey, run.id));
      expect(effects.map((e) => e.result)).toEqual([{ echo: "once" }]);
      expect(effects[0]!.createdAt.getTime()).toBeLessThan(killedAt);
    } finally {
      await database.close();
    }
  }, 150_000);
});
