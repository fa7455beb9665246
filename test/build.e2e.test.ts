import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { startPglite } from "../src/store/pglite-client.js";
import { fixtureJson, startFakeUpstream } from "./fakes/upstream.js";
import { waitFor } from "./support/wait.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, REPO_ROOT, runCli, seedDataDir, spawnGateway, urlWhereNothingListens, workspace } from "./support/process.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS, systemIdentifier, type StoreKind } from "./support/stores.js";

/**
 * The built CLI, as `npm start` and the `airlock` bin run it: one bundle (scripts/bundle.mjs), whose
 * modules must still find the files that lie beside them in dist/: the migrations, the store's and
 * the token counter's threads, the dashboard's scripts and the bundled price catalog.
 */

afterAll(removeTempDirs);

const config = (upstreamUrl: string) => `
providers:
  oai: { type: openai-compatible, baseUrl: "${upstreamUrl}", apiKey: "sk-upstream-test" }
models:
  - { id: "oai/gpt-4.1-mini", price: { input: "0.40", output: "1.60", per: "1M" } }
`;

describe.each(STORE_KINDS)("the built gateway (%s)", (kind: StoreKind) => {
  it("serves calls, counts tokens, serves the dashboard, answers the CLI and stops cleanly", async () => {
    const fake = await startFakeUpstream("openai");
    const { cwd, dataDir } = await workspace();
    await writeFile(path.join(cwd, "airlock.config.yaml"), config(fake.url));
    const adminKey = randomAdminKey();
    const scratch = kind === "postgres" ? await createScratchDatabase() : undefined;
    if (!scratch) await seedDataDir(dataDir);
    try {
      const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey, DATABASE_URL: scratch?.href });
      // Two workers on PostgreSQL: the cluster's code is a chunk of the bundle loaded on demand.
      const workers = scratch ? ["--workers", "2"] : [];
      const gateway = await spawnGateway({ cwd, env, entry: "build", args: ["--port", "0", "--host", "127.0.0.1", ...workers] });
      expect(gateway.logLines().find((l) => String(l.msg).startsWith("Airlock gateway listening"))).toMatchObject({ store: kind });

      const client = new OpenAI({ apiKey: adminKey, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
      const { data: completion, response } = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "What is the capital of France?" }] }).withResponse();
      expect(completion.choices[0]?.message.content).toBe(fixtureJson("openai/chat").choices[0].message.content);
      expect(Number(response.headers.get("x-airlock-cost"))).toBeGreaterThan(0);

      // No usage from upstream: the tokens are counted on the token counter's thread.
      fake.push({ kind: "noUsage" });
      const { response: estimated } = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "And of Italy?" }] }).withResponse();
      const requestId = estimated.headers.get("x-request-id")!;
      // With two workers the other one may answer, and sees the row once the serving one wrote it.
      const recentCalls = async () => {
        const res = await fetch(`${gateway.url}/admin/calls?limit=10`, { headers: { authorization: `Bearer ${adminKey}` } });
        expect(res.status).toBe(200);
        return ((await res.json()) as { data: Array<{ requestId: string; usageEstimated: boolean; inputTokens: number }> }).data;
      };
      const { value: rows } = await waitFor(recentCalls, (data) => data.some((r) => r.requestId === requestId), 10_000);
      const row = rows.find((r) => r.requestId === requestId);
      expect(row).toMatchObject({ usageEstimated: true });
      expect(row!.inputTokens).toBeGreaterThan(0);

      const script = await fetch(`${gateway.url}/dashboard/app.js`);
      expect(script.status).toBe(200);
      expect(await script.text()).toBe(await readFile(path.join(REPO_ROOT, "src/dashboard/public/app.js"), "utf8"));

      const keys = await runCli(["keys", "list", "--json", "--url", gateway.url], { cwd, env, entry: "build" });
      expect(keys.stderr).toBe("");
      expect(keys.code).toBe(0);
      expect(Array.isArray(JSON.parse(keys.stdout))).toBe(true);

      expect(await gateway.stop()).toBe(0);
    } finally {
      await killAll();
      await fake.close();
      if (scratch) await dropScratchDatabase(scratch);
    }
  });
});

describe("the built CLI on a new data directory", () => {
  it("starts the store from the build's initdb template, found beside the bundle", async () => {
    const { cwd, dataDir } = await workspace();
    const first = await runCli(["keys", "list", "--json", "--data-dir", dataDir, "--url", await urlWhereNothingListens()], { cwd, env: isolatedEnv(), entry: "build" });
    expect(first.stderr).toBe("");
    expect(JSON.parse(first.stdout)).toEqual([]);
    const made = await startPglite({ dataDir: path.join(dataDir, "pgdata"), migrate: false });
    const copy = await startPglite({ migrate: false });
    try {
      expect(await systemIdentifier(made)).toBe(await systemIdentifier(copy));
    } finally {
      await made.close();
      await copy.close();
    }
  });
});

describe("the built CLI's bundle", () => {
  /** The package files of every chunk that loading `file` loads before any of its code runs (its static imports, followed). */
  async function loadedUpFront(file: string, seen = new Set<string>()): Promise<Set<string>> {
    if (seen.has(file)) return seen;
    seen.add(file);
    const code = await readFile(file, "utf8");
    // Static imports only: `import("./chunk.js")` is loaded when a command asks for it.
    for (const [, chunk] of code.matchAll(/(?:from|import)"(\.\/chunk-[A-Z0-9]+\.js)"/g)) await loadedUpFront(path.join(path.dirname(file), chunk!), seen);
    return seen;
  }

  it("loads no schema library before a command runs: --help and a usage error need none", async () => {
    const bundle = path.join(REPO_ROOT, "dist/bundle/airlock.js");
    const sources: string[] = [];
    for (const file of await loadedUpFront(bundle)) sources.push(...(JSON.parse(await readFile(`${file}.map`, "utf8")) as { sources: string[] }).sources);
    expect(sources).toContain("../cli/main.js");
    expect(sources.filter((source) => /node_modules\/(zod|drizzle-orm|yaml|ajv)\//.test(source))).toEqual([]);
  });
});
