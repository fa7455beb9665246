import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Decimal } from "decimal.js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { freePort, isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, seedDataDir, spawnGateway, workspace } from "./support/process.js";

/** How `airlock start` finds, validates and applies its configuration, seen from outside the process. */
describe("airlock start: configuration", () => {
  let fake: FakeUpstream | undefined;
  afterEach(async () => {
    await killAll();
    await fake?.close();
    fake = undefined;
  });
  afterAll(removeTempDirs);

  async function setup(configYaml?: string) {
    const { cwd, dataDir } = await workspace();
    if (configYaml !== undefined) await writeFile(path.join(cwd, "airlock.config.yaml"), configYaml);
    const adminKey = randomAdminKey();
    return { cwd, dataDir, adminKey, env: (extra: Record<string, string> = {}) => isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey, ...extra }) };
  }

  it("refuses an invalid config file, naming every bad field, and exits 1", async () => {
    const { cwd, env } = await setup(`
providers:
  m: { type: mock }
models:
  - { id: "m/fast", price: { input: "-1", output: "2" } }
operations:
  chat: { model: "m/missing" }
`);
    const result = await runCli(["start", "--port", "0", "--host", "127.0.0.1"], { cwd, env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("invalid configuration");
    expect(result.stderr).toContain(path.join(cwd, "airlock.config.yaml"));
    expect(result.stderr).toMatch(/^ {2}- models\.0\.price\.input: .+$/m);
    expect(result.stderr).toMatch(/^ {2}- operations\.chat\.model: .*m\/missing.*$/m);
    expect(result.stdout).not.toContain("listening");
  });

  it("with no config file, serves the labelled demo on the --port given", async () => {
    const { cwd, dataDir, adminKey, env } = await setup();
    await seedDataDir(dataDir);
    const port = await freePort();
    // The default host (0.0.0.0): the logged URL names the loopback address a client can use.
    const gateway = await spawnGateway({ cwd, env: env(), args: ["--port", String(port)] });
    expect(gateway.port).toBe(port);
    expect(gateway.url).toBe(`http://127.0.0.1:${port}`);

    const listening = gateway.logLines().find((l) => String(l.msg).startsWith("Airlock gateway listening"));
    expect(listening).toMatchObject({ demo: true, config: "demo" });
    expect(String(listening?.msg)).toContain("DEMO configuration");

    const res = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(res.status).toBe(200);
    const ids = ((await res.json()) as { data: Array<{ id: string; owned_by: string }> }).data.filter((m) => m.owned_by !== "airlock-operation").map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id).toMatch(/^demo\//);
    expect(await gateway.stop()).toBe(0);
  });

  it("listens on PORT from the environment when no --port is given", async () => {
    const { cwd, dataDir, adminKey, env } = await setup();
    await seedDataDir(dataDir);
    const port = await freePort();
    const gateway = await spawnGateway({ cwd, env: env({ PORT: String(port) }), args: ["--host", "127.0.0.1"] });
    expect(gateway.port).toBe(port);
    const res = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(res.status).toBe(200);
    expect(await gateway.stop()).toBe(0);
  });

  it("refuses a PORT that is not a port, as it refuses such a --port, before opening the store", async () => {
    const { cwd, dataDir, env } = await setup();
    for (const port of ["abc", "99999", "-1"]) {
      const result = await runCli(["start", "--host", "127.0.0.1"], { cwd, env: env({ PORT: port }) });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`airlock: PORT is a whole number from 0 to 65535 (got "${port}")\n`);
    }
    expect(existsSync(path.join(dataDir, "pgdata"))).toBe(false);
  });

  it("resolves env: secrets and calls an OpenAI-compatible upstream by operation name", async () => {
    fake = await startFakeUpstream("openai", { chatFixture: "deepseek/chat" });
    const { cwd, dataDir, adminKey, env } = await setup(`
providers:
  openrouter: { type: openai-compatible, baseUrl: "${fake.url}", apiKey: "env:OPENROUTER_API_KEY" }
models:
  - { id: "openrouter/deepseek/deepseek-chat", price: { input: "0.27", output: "1.10", per: "1M" } }
operations:
  chat_message: { model: "openrouter/deepseek/deepseek-chat" }
`);
    await seedDataDir(dataDir);
    const secret = `sk-or-v1-test-${randomAdminKey().slice(-12)}`;
    const gateway = await spawnGateway({ cwd, env: env({ OPENROUTER_API_KEY: secret }), args: ["--port", "0", "--host", "127.0.0.1"] });
    expect(gateway.logLines().find((l) => String(l.msg).startsWith("Airlock gateway listening"))).toMatchObject({ demo: false, config: path.join(cwd, "airlock.config.yaml") });

    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "chat_message", messages: [{ role: "user", content: "Capital of France?" }] }),
    });
    const body = (await res.json()) as { model: string; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.model).toBe("openrouter/deepseek/deepseek-chat");
    expect(res.headers.get("x-airlock-provider")).toBe("openrouter");
    // Usage passes through, and the cost is the configured price applied to it (cache reads default to the input price).
    const upstreamUsage = fixtureJson("deepseek/chat").usage as { prompt_tokens: number; completion_tokens: number };
    expect(body.usage).toMatchObject({ prompt_tokens: upstreamUsage.prompt_tokens, completion_tokens: upstreamUsage.completion_tokens });
    const expectedCost = new Decimal("0.27").mul(upstreamUsage.prompt_tokens).add(new Decimal("1.10").mul(upstreamUsage.completion_tokens)).div(1_000_000);
    expect(res.headers.get("x-airlock-cost")).toBe(expectedCost.toFixed());

    expect(fake.requests).toHaveLength(1);
    const upstream = fake.requests[0]!;
    expect(upstream.path).toBe("/v1/chat/completions");
    expect(upstream.headers.authorization).toBe(`Bearer ${secret}`);
    expect(upstream.body.model).toBe("deepseek/deepseek-chat");

    expect(await gateway.stop()).toBe(0);
    expect(gateway.logs()).not.toContain(secret);
  });
});
