import { writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, spawnGateway, workspace } from "./support/process.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./support/stores.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";

/**
 * A new configuration rolled out to a fleet on one PostgreSQL: an instance whose start fails (here its
 * port is taken) must leave the instances already running as they were. Its file's routes, prices and
 * budgets are written to the shared store only by a start that goes on to serve.
 */

afterEach(killAll);
afterAll(removeTempDirs);

function config(upstream: FakeUpstream, next: boolean): string {
  return `
providers:
  oai: { type: openai-compatible, baseUrl: "${upstream.url}" }
models:
  - { id: "oai/m", price: { input: "${next ? "1000" : "1"}", output: "1", per: "1M" } }
  - { id: "oai/m2", price: { input: "5", output: "5", per: "1M" } }
operations:
  chat: { model: ${next ? "oai/m2" : "oai/m"} }
${next ? "" : "  other: { model: oai/m }\n"}budgets:
  - { name: g, scope: global, limit: "${next ? "0.0000001" : "100"}" }
`;
}

async function chat(url: string, key: string, model: string): Promise<{ status: number; model: string | null; cost: string | null }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, max_tokens: 20, messages: [{ role: "user", content: "hi" }] }),
  });
  await res.arrayBuffer();
  return { status: res.status, model: res.headers.get("x-airlock-model"), cost: res.headers.get("x-airlock-cost") };
}

if (STORE_KINDS.includes("postgres")) {
  describe("a start that fails on a shared PostgreSQL", () => {
    it("exits 1 and says why when its port is taken", async () => {
      const upstream = await startFakeUpstream("openai");
      const { cwd, dataDir } = await workspace();
      await writeFile(path.join(cwd, "v1.yaml"), config(upstream, false));
      const adminKey = randomAdminKey();
      const scratch = await createScratchDatabase();
      try {
        const env = isolatedEnv({ AIRLOCK_ADMIN_KEY: adminKey, DATABASE_URL: scratch.href });
        const running = await spawnGateway({ cwd, env: { ...env, AIRLOCK_DATA_DIR: path.join(dataDir, "a") }, args: ["--port", "0", "--host", "127.0.0.1", "--config", "v1.yaml"] });
        // The store's listening connection is unref'd: closing it after the failure was all that kept the
        // process alive, and it ended there, with status 0 and nothing said.
        const failed = await runCli(["start", "--port", String(running.port), "--host", "127.0.0.1", "--config", "v1.yaml"], { cwd, env: { ...env, AIRLOCK_DATA_DIR: path.join(dataDir, "b") }, timeoutMs: 60_000 });
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain(`airlock: cannot listen on 127.0.0.1:${running.port}: the port is already in use (EADDRINUSE)`);
      } finally {
        await killAll();
        await dropScratchDatabase(scratch);
        await upstream.close();
      }
    }, 90_000);

    for (const workers of [1, 2]) {
      it(`with ${workers} worker(s), on a port already taken, changes no route, price or budget of the instances already running`, async () => {
        const upstream = await startFakeUpstream("openai");
        const { cwd, dataDir } = await workspace();
        await writeFile(path.join(cwd, "v1.yaml"), config(upstream, false));
        await writeFile(path.join(cwd, "v2.yaml"), config(upstream, true));
        const adminKey = randomAdminKey();
        const scratch = await createScratchDatabase();
        const db = new pg.Client({ connectionString: scratch.href });
        await db.connect();
        const stored = async () => ({
          routes: (await db.query("select name, definition from routes order by name")).rows,
          prices: (await db.query("select model, price from prices order by model, effective_from")).rows,
          budgets: (await db.query("select * from budgets order by name")).rows,
        });
        try {
          const env = isolatedEnv({ AIRLOCK_ADMIN_KEY: adminKey, DATABASE_URL: scratch.href });
          const running = await spawnGateway({ cwd, env: { ...env, AIRLOCK_DATA_DIR: path.join(dataDir, "a") }, args: ["--port", "0", "--host", "127.0.0.1", "--config", "v1.yaml"] });
          const before = await chat(running.url, adminKey, "chat");
          expect(before).toMatchObject({ status: 200, model: "oai/m" });
          const storedBefore = await stored();

          const failed = await runCli(["start", "--port", String(running.port), "--host", "127.0.0.1", "--config", "v2.yaml", "--workers", String(workers)], {
            cwd,
            env: { ...env, AIRLOCK_DATA_DIR: path.join(dataDir, "b") },
            timeoutMs: 60_000,
          });
          expect(failed.code).toBe(1);
          expect(failed.stderr).toContain(`airlock: cannot listen on 127.0.0.1:${running.port}: the port is already in use (EADDRINUSE)`);

          expect(await stored()).toEqual(storedBefore);
          // The running instance still serves its own file: same model, same price, no budget refusing, no route gone.
          expect(await chat(running.url, adminKey, "chat")).toEqual(before);
          expect((await chat(running.url, adminKey, "other")).status).toBe(200);
        } finally {
          await db.end();
          await killAll();
          await dropScratchDatabase(scratch);
          await upstream.close();
        }
      }, 90_000);
    }
  });
}
