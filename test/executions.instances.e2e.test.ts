import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { countLogged, executingGatewayConfig, stepsRan } from "./support/executions.js";
import { api } from "./support/routing.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, spawnGateway, workspace, type GatewayProcess } from "./support/process.js";
import { scratchDatabaseForTest, STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/**
 * Two worker processes on one PostgreSQL share the directive queue: each directive runs once, and
 * both get some. Each asks its share of the queue as it frees a slot, so a worker starved of the CPU
 * could leave the other all of it: this runs with the tests under load (vitest.config.ts).
 */
let upstream: FakeUpstream | undefined;
afterEach(async () => {
  await killAll();
  await upstream?.close();
});
afterAll(removeTempDirs);

if (STORE_KINDS.includes("postgres")) {
  describe("two workers on one PostgreSQL", () => {
    it("share the queue: each directive runs once, on one of them", async () => {
      upstream = await startFakeUpstream("openai");
      const { cwd, dataDir } = await workspace();
      await writeFile(path.join(cwd, "airlock.config.yaml"), executingGatewayConfig(upstream.url, 1));
      const adminKey = randomAdminKey();
      const url = (await scratchDatabaseForTest()).href;
      const workers: GatewayProcess[] = [];
      for (const name of ["a", "b"]) {
        const env = isolatedEnv({ AIRLOCK_ADMIN_KEY: adminKey, AIRLOCK_DATA_DIR: path.join(dataDir, name), AIRLOCK_EXECUTOR_ID: `worker-${name}`, DATABASE_URL: url });
        workers.push(await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] }));
      }
      const gw = { url: workers[0]!.url, adminKey };
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const created = await api(gw, "POST", "/admin/directives", { role: "ops", type: "echo", payload: { message: i, delayMs: 600 }, objective: `echo ${i}`, scope: "test", budget: "$1" });
        ids.push(created.body.id);
        await api(gw, "POST", `/admin/directives/${created.body.id}/propose`);
      }
      const runs = await waitFor(
        async () => (await api(gw, "GET", "/admin/runs?status=completed")).body.data as Array<{ directiveId: string; executorId: string }>,
        (list) => list.length === ids.length,
        60_000,
      ).catch(async (err: unknown) => {
        for (const worker of workers) await worker.stop();
        console.log(workers.map((w) => w.logs()).join("\n=====\n").slice(-6000));
        throw err;
      });
      const byWorker = { a: 0, b: 0 } as Record<string, number>;
      for (const run of runs.value) byWorker[run.executorId.slice("worker-".length)]! += 1;
      console.log(`8 directives on two workers: a ran ${byWorker.a}, b ran ${byWorker.b}, in ${runs.ms} ms`);
      expect(byWorker.a).toBeGreaterThan(0);
      expect(byWorker.b).toBeGreaterThan(0);
      expect(new Set(runs.value.map((r) => r.directiveId))).toEqual(new Set(ids));
      for (const worker of workers) await worker.stop();
      const lines = workers.flatMap((w) => w.logLines());
      expect(stepsRan(lines, "module")).toBe(ids.length);
      expect(countLogged(lines, "module effect done")).toBe(ids.length);
    }, 120_000);
  });
}
