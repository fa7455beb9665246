import { existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "./support/wait.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./support/stores.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, seedDataDir, spawnGateway, urlWhereNothingListens, workspace, type GatewayProcess } from "./support/process.js";

/**
 * The CLI as an operator uses it: first against a running gateway (through its admin API), then with the
 * gateway stopped, when it opens the store itself. The steps share one gateway and run in order.
 */
describe("airlock CLI against a real gateway process", () => {
  const adminKey = randomAdminKey();
  let cwd: string;
  let dataDir: string;
  let gateway: GatewayProcess;
  let env: NodeJS.ProcessEnv;
  /** The key made with `keys create`, as the CLI printed it. */
  let created: { id: string; key: string; name: string; kind: string; userId: string | null; teamId: string | null };
  let chatCost: string;

  const cli = (...args: string[]) => runCli(args, { cwd, env });
  const json = <T>(stdout: string): T => JSON.parse(stdout) as T;
  const chat = (key: string) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "demo/airlock-mini", messages: [{ role: "user", content: "hello from the CLI test" }] }),
    });

  beforeAll(async () => {
    ({ cwd, dataDir } = await workspace());
    await seedDataDir(dataDir, { workflows: true });
    env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey });
    gateway = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
  });
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  it("keys create prints the secret once, as JSON, and the key works at once", async () => {
    const result = await cli("keys", "create", "--name", "ci", "--kind", "service", "--user", "u1", "--team", "t1", "--json", "--url", gateway.url);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    created = json(result.stdout);
    expect(created).toMatchObject({ name: "ci", kind: "service", userId: "u1", teamId: "t1", revokedAt: null });
    expect(created.key).toMatch(/^sk-al-[A-Za-z0-9_-]{20,}$/);
    expect(created.id).toMatch(/\S/);

    const models = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${created.key}` } });
    expect(models.status).toBe(200);
    const res = await chat(created.key);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number } };
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    chatCost = res.headers.get("x-airlock-cost")!;
    expect(chatCost).toMatch(/^\d+(\.\d+)?$/);
  });

  it("keys list, spend and a refused non-admin key, all through the admin API", async () => {
    // A user key made through the admin API: it may call models, not administer Airlock.
    const userKeyRes = await fetch(`${gateway.url}/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "alice", kind: "user", user: "alice" }),
    });
    expect(userKeyRes.status).toBe(201);
    const userKey = ((await userKeyRes.json()) as { key: string }).key;

    const [list, spendJson, spendTable, forbidden] = await Promise.all([
      cli("keys", "list", "--json", "--url", gateway.url),
      cli("spend", "--by", "key", "--since", "24h", "--json", "--url", gateway.url),
      cli("spend", "--url", gateway.url),
      runCli(["keys", "create", "--name", "sneaky", "--json", "--url", gateway.url], { cwd, env: { ...env, AIRLOCK_ADMIN_KEY: userKey } }),
    ]);

    expect(list.code).toBe(0);
    const keys = json<Array<Record<string, unknown>>>(list.stdout);
    expect(keys.map((k) => k.id)).toContain(created.id);
    expect(list.stdout).not.toContain(created.key);
    expect(list.stdout).not.toContain(userKey);
    for (const key of keys) expect(Object.keys(key).sort()).toEqual(["createdAt", "expiresAt", "id", "kind", "models", "name", "orgId", "prefix", "revokedAt", "teamId", "userId"]);

    expect(spendJson.code).toBe(0);
    const report = json<{ by: string; total: string; lines: Array<{ group: string; requests: number; cost: string }> }>(spendJson.stdout);
    expect(report.by).toBe("key");
    expect(report.lines.find((l) => l.group === created.id)).toMatchObject({ requests: 1, cost: chatCost });

    expect(spendTable.code).toBe(0);
    expect(spendTable.stdout).toContain(`Total: $${report.total}`);

    expect(forbidden.code).toBe(1);
    expect(forbidden.stdout).toBe("");
    expect(forbidden.stderr).toMatch(/forbidden/i);
  });

  it("finds the gateway that holds the data directory instead of opening the store behind it", async () => {
    const result = await cli("keys", "create", "--name", "via-lock", "--json", "--data-dir", dataDir);
    expect(result.code).toBe(0);
    const made = json<{ id: string }>(result.stdout);
    const listed = await fetch(`${gateway.url}/admin/keys`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(JSON.stringify(await listed.json())).toContain(made.id);
    const wrongUrl = await cli("keys", "list", "--json", "--data-dir", dataDir, "--url", await urlWhereNothingListens());
    expect(wrongUrl.code).toBe(1);
    expect(wrongUrl.stderr).toContain("holds");
  });

  it("refuses a second gateway on the same data directory, and the first goes on serving", async () => {
    // Two PGlite instances on one directory would corrupt it: the second start must not touch it.
    const second = await cli("start", "--port", "0", "--host", "127.0.0.1");
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`is open in another process (pid ${gateway.proc.pid})`);
    expect(second.stdout).not.toContain("listening");
    const models = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${created.key}` } });
    expect(models.status).toBe(200);
    const held = JSON.parse(await readFile(path.join(dataDir, "gateway.json"), "utf8")) as { pid: number };
    expect(held.pid).toBe(gateway.proc.pid);
  });

  it("keys revoke locks the key out", async () => {
    const result = await cli("keys", "revoke", created.id, "--json", "--url", gateway.url);
    expect(result.code).toBe(0);
    expect(json(result.stdout)).toMatchObject({ id: created.id, revokedAt: expect.any(String) });
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${created.key}` } })).status).toBe(401);
    expect((await chat(created.key)).status).toBe(401);
  });

  it("approvals list, show and approve an agent's proposal; audit shows it", async () => {
    const agentRes = await fetch(`${gateway.url}/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "optimizer", kind: "agent" }),
    });
    const agent = (await agentRes.json()) as { id: string; key: string };
    const proposedRes = await fetch(`${gateway.url}/admin/change-requests`, {
      method: "POST",
      headers: { authorization: `Bearer ${agent.key}`, "content-type": "application/json" },
      body: JSON.stringify({ kind: "toggle", target: "helix_can_recommend_optimizations", proposed: { enabled: true }, reasoning: "to suggest cheaper routes" }),
    });
    expect(proposedRes.status).toBe(201);
    const proposed = (await proposedRes.json()) as { id: string };

    const listed = await cli("approvals", "list", "--status", "PENDING", "--url", gateway.url);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(proposed.id);
    expect(listed.stdout).toContain(`${agent.id} (agent)`);
    const shown = await cli("approvals", "show", proposed.id, "--url", gateway.url);
    expect(shown.stdout).toContain('proposed: {"enabled":true}');
    expect(shown.stdout).toContain("reasoning: to suggest cheaper routes");

    const approved = await cli("approvals", "approve", proposed.id, "--note", "fine", "--json", "--url", gateway.url);
    expect(approved.code).toBe(0);
    expect(json(approved.stdout)).toMatchObject({ id: proposed.id, status: "APPLIED", decisionNote: "fine" });
    const toggle = await fetch(`${gateway.url}/v1/toggles/helix_can_recommend_optimizations`, { headers: { authorization: `Bearer ${agent.key}` } });
    expect(((await toggle.json()) as { enabled: boolean }).enabled).toBe(true);

    const audit = await cli("audit", "--since", "1h", "--json", "--url", gateway.url);
    expect(audit.code).toBe(0);
    const actions = json<Array<{ action: string; target: string }>>(audit.stdout).map((e) => `${e.action} ${e.target}`);
    expect(actions).toEqual(expect.arrayContaining([`change_request.apply ${proposed.id}`, `change_request.create ${proposed.id}`, `key.create ${agent.id}`, `key.revoke ${created.id}`]));
  });

  // The first directive this gateway runs creates the engine's own PGlite store (several seconds, once).
  it("directives create, propose and approve from the CLI; show prints the policy's verdict", async () => {
    const created = await cli("directives", "create", "--role", "notes", "--type", "echo", "--objective", "Draft notes", "--scope", "staging", "--budget", "$5", "--json", "--url", gateway.url);
    expect(created.code).toBe(0);
    const directive = json<{ id: string; status: string }>(created.stdout);
    expect(directive.status).toBe("draft");
    const proposed = await cli("directives", "propose", directive.id, "--url", gateway.url);
    expect(proposed.stdout).toContain(`${directive.id}: proposed`);
    expect(proposed.stdout).toContain("artifact policy_evaluation: ALLOW by policy v1");
    // Issued with this admin key: approving it needs another admin.
    const own = await cli("directives", "approve", directive.id, "--url", gateway.url);
    expect(own.code).toBe(1);
    expect(own.stderr).toContain("cannot be approved by the key that issued it");
    const listed = await cli("directives", "list", "--status", "proposed", "--url", gateway.url);
    expect(listed.stdout).toContain(directive.id);
    // A page at a time, newest first: the table ends with the cursor of the next page.
    const later = json<{ id: string }>((await cli("directives", "create", "--role", "notes", "--type", "echo", "--objective", "Later notes", "--scope", "staging", "--json", "--url", gateway.url)).stdout);
    const first = await cli("directives", "list", "--limit", "1", "--url", gateway.url);
    expect(first.stdout).toContain(later.id);
    expect(first.stdout).not.toContain(directive.id);
    const cursor = /More: add --cursor (\S+)/.exec(first.stdout)?.[1];
    expect(cursor).toBeDefined();
    expect(json(((await cli("directives", "list", "--limit", "1", "--cursor", cursor!, "--json", "--url", gateway.url)).stdout))).toMatchObject({ data: [{ id: directive.id }], nextCursor: null });

    // Another admin approves it; the gateway runs it, and `runs` shows the run and its artifacts.
    const second = json<{ key: string }>((await cli("keys", "create", "--name", "second-admin", "--kind", "admin", "--json", "--url", gateway.url)).stdout);
    const approved = await cli("directives", "approve", directive.id, "--url", gateway.url, "--admin-key", second.key);
    expect(approved.stdout).toContain(`${directive.id}: approved`);
    const { value: runs } = await waitFor(
      async () => json<{ data: Array<{ id: string; status: string; directiveId: string }> }>((await cli("runs", "list", "--json", "--url", gateway.url)).stdout).data,
      (list) => list[0]?.status === "completed",
      60_000,
    );
    expect(runs[0]!.directiveId).toBe(directive.id);
    const table = await cli("runs", "list", "--status", "completed", "--url", gateway.url);
    expect(table.stdout).toMatch(new RegExp(`${runs[0]!.id}\\s+completed\\s+echo\\s+${directive.id}\\s+SUCCESS`));
    const shown = await cli("runs", "show", runs[0]!.id, "--url", gateway.url);
    expect(shown.stdout).toContain(`${runs[0]!.id}: completed (echo for ${directive.id}`);
    expect(shown.stdout).toContain("module said SUCCESS");
    expect(shown.stdout).toMatch(/artifact execution_start \(\d+ bytes\) pg:artifacts\//);
    expect(shown.stdout).toContain("artifact execution_end");
    const missing = await cli("runs", "show", "run_missing", "--url", gateway.url);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no run "run_missing"');
  }, 120_000);

  it("overview, a narrowed spend report and rate limits, through the admin API", async () => {
    const [overview, narrowed, byUser, overviewTable] = await Promise.all([
      cli("overview", "--since", "1h", "--json", "--url", gateway.url),
      cli("overview", "--model", "nobody/none", "--json", "--url", gateway.url),
      cli("spend", "--by", "key", "--user", "u1", "--json", "--url", gateway.url),
      cli("overview", "--url", gateway.url),
    ]);
    // The whole result, so that a failure shows what the command said on stderr.
    for (const result of [overview, narrowed, byUser, overviewTable]) expect(result).toMatchObject({ code: 0, stderr: "" });
    const o = json<{ requests: number; filters: object; slo: Array<{ name: string }>; top: { key: Array<{ group: string }> } }>(overview.stdout);
    expect(o.requests).toBeGreaterThanOrEqual(1);
    expect(o.filters).toEqual({});
    expect(o.slo.map((r) => r.name)).toEqual(["fallbackRate", "modelErrorRate", "costPerMessageUsd", "approvalRate", "toolCallSuccessRate"]);
    expect(o.top.key.map((l) => l.group)).toContain(created.id);
    expect(json<{ requests: number; filters: object }>(narrowed.stdout)).toMatchObject({ requests: 0, filters: { model: "nobody/none" } });
    expect(json<{ lines: Array<{ group: string; requests: number }> }>(byUser.stdout).lines).toEqual([expect.objectContaining({ group: created.id, requests: 1 })]);
    expect(overviewTable.stdout).toMatch(/^Overview since .*\n\nSpend \$\S+ over \d+ calls/);
    expect(overviewTable.stdout).toContain("toolCallSuccessRate");

    const set = await cli("rate-limits", "set", "per-key", "--scope", "key", "--rpm", "500", "--json", "--url", gateway.url);
    expect(set.stderr).toBe("");
    expect(json(set.stdout)).toMatchObject({ name: "per-key", scope: "key", requestsPerMinute: 500, source: "admin" });
    // In force at once: well under the limit, a call goes through.
    expect((await chat(adminKey)).status).toBe(200);
    const list = await cli("rate-limits", "list", "--url", gateway.url);
    expect(list.stdout).toMatch(/per-key\s+key\s+\(each\)\s+500\s+–/);
    const bad = await cli("rate-limits", "set", "broken", "--scope", "key", "--url", gateway.url);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("set requestsPerMinute, tokensPerMinute or both");

    const budget = await cli("budgets", "set", "all-daily", "--scope", "global", "--limit", "12.50", "--json", "--url", gateway.url);
    expect(budget.stderr).toBe("");
    expect(json(budget.stdout)).toMatchObject({ name: "all-daily", scope: "global", window: "daily", limit: "12.5", warnAt: "10", source: "admin" });
    expect((await cli("budgets", "list", "--url", gateway.url)).stdout).toMatch(/all-daily\s+global\s+–\s+daily \(UTC\)\s+\S+\s+12\.5\s+10\s+key_/);
    const badBudget = await cli("budgets", "set", "nope", "--scope", "galaxy", "--limit", "1", "--url", gateway.url);
    expect(badBudget.code).toBe(1);
    expect(badBudget.stderr).toContain("invalid_request");
  });

  it("the gateway never logged a secret", () => {
    const logs = gateway.logs();
    expect(logs).toContain(created.id); // the key is logged, by id
    expect(logs).not.toContain(created.key);
    expect(logs).not.toContain(adminKey);
  });

  // Stopping the gateway stops its execution engine too.
  it("with no gateway running, the CLI opens the store itself", async () => {
    const url = gateway.url;
    expect(await gateway.stop("SIGTERM")).toBe(0);

    const second = await cli("keys", "create", "--name", "offline", "--kind", "agent", "--json", "--url", url, "--data-dir", dataDir);
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    const offline = json<{ id: string; key: string; kind: string }>(second.stdout);
    expect(offline.key).toMatch(/^sk-al-/);
    expect(offline.kind).toBe("agent");

    const list = await cli("keys", "list", "--json", "--url", url, "--data-dir", dataDir);
    expect(list.code).toBe(0);
    const keys = json<Array<{ id: string; revokedAt: string | null }>>(list.stdout);
    expect(keys.map((k) => k.id)).toEqual(expect.arrayContaining([created.id, offline.id]));
    expect(keys.find((k) => k.id === created.id)?.revokedAt).toEqual(expect.any(String));
    expect(keys.find((k) => k.id === offline.id)?.revokedAt).toBeNull();
    expect(list.stdout).not.toContain(offline.key);

    // The audit log reads from the store too; decisions need a gateway.
    const audit = await cli("audit", "--since", "1h", "--action", "key.", "--url", url, "--data-dir", dataDir);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toContain(offline.id);
    expect(audit.stdout).toMatch(/cli:\S+ \(admin\)/);
    const pending = await cli("approvals", "list", "--json", "--url", url, "--data-dir", dataDir);
    expect(json<Array<{ status: string }>>(pending.stdout).map((r) => r.status)).toEqual(["APPLIED"]);
    const decide = await cli("approvals", "reject", "chg_x", "--url", url, "--data-dir", dataDir);
    expect(decide.code).toBe(1);
    expect(decide.stderr).toContain("needs a running gateway");
    // Reports and rate limits read and written in the store itself.
    const overview = await cli("overview", "--json", "--url", url, "--data-dir", dataDir);
    expect(json<{ requests: number }>(overview.stdout).requests).toBeGreaterThanOrEqual(1);
    expect(json<Array<{ name: string; source: string }>>((await cli("rate-limits", "list", "--json", "--url", url, "--data-dir", dataDir)).stdout)).toMatchObject([{ name: "per-key", source: "admin" }]);
    expect((await cli("rate-limits", "delete", "per-key", "--url", url, "--data-dir", dataDir)).stdout).toBe("Deleted rate limit per-key.\n");
    expect(json((await cli("rate-limits", "list", "--json", "--url", url, "--data-dir", dataDir)).stdout)).toEqual([]);
    const gone = await cli("rate-limits", "delete", "per-key", "--url", url, "--data-dir", dataDir);
    expect(gone.stderr).toContain('no rate limit named "per-key"');
    expect(json<Array<{ name: string; limit: string }>>((await cli("budgets", "list", "--json", "--url", url, "--data-dir", dataDir)).stdout)).toMatchObject([{ name: "all-daily", limit: "12.5" }]);
    expect(json((await cli("budgets", "set", "all-daily", "--scope", "global", "--limit", "20", "--json", "--url", url, "--data-dir", dataDir)).stdout)).toMatchObject({ limit: "20", updatedBy: expect.stringMatching(/^cli:/) });
    expect((await cli("budgets", "delete", "all-daily", "--url", url, "--data-dir", dataDir)).stdout).toBe("Deleted budget all-daily.\n");
    expect(json((await cli("budgets", "list", "--json", "--url", url, "--data-dir", dataDir)).stdout)).toEqual([]);
    const runs = await cli("runs", "list", "--json", "--url", url, "--data-dir", dataDir);
    expect(json(runs.stdout)).toMatchObject({ data: [{ status: "completed", module: "echo" }], nextCursor: null });
    const page = json<{ data: Array<{ status: string }>; nextCursor: string }>((await cli("directives", "list", "--limit", "1", "--json", "--url", url, "--data-dir", dataDir)).stdout);
    expect(page.data.map((d) => d.status)).toEqual(["draft"]);
    const rest = json<{ data: Array<{ status: string }>; nextCursor: null }>((await cli("directives", "list", "--limit", "1", "--cursor", page.nextCursor, "--json", "--url", url, "--data-dir", dataDir)).stdout);
    expect(rest).toMatchObject({ data: [{ status: "complete" }], nextCursor: null });
  }, 120_000);
});

describe("an admin key read from a secret file", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  it("works with the newline such a file ends in, for the gateway and for the CLI", async () => {
    const { cwd, dataDir } = await workspace();
    await seedDataDir(dataDir);
    const adminKey = randomAdminKey();
    // What `AIRLOCK_ADMIN_KEY` holds when it is filled from a Kubernetes or Docker secret file.
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: `${adminKey}\n` });
    const gateway = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
    // A header value loses its outer whitespace on the way, so the key is always sent without it.
    const status = await fetch(`${gateway.url}/admin/status`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(status.status).toBe(200);
    const list = await runCli(["keys", "list", "--json"], { cwd, env });
    expect(list).toMatchObject({ code: 0, stderr: "" });
    expect(await gateway.stop()).toBe(0);
  });
});

describe("a gateway.json left by a gateway that was killed", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  it("names no gateway once its pid belongs to a process that started later: the CLI opens the store", async () => {
    const { cwd, dataDir } = await workspace();
    await seedDataDir(dataDir);
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() });
    const gateway = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
    await gateway.stop("SIGKILL"); // as by the OOM killer, or a power cut: gateway.json stays
    const left = JSON.parse(await readFile(path.join(dataDir, "gateway.json"), "utf8")) as { pid: number; url: string };
    // Its pid given to another process since (after a reboot, say): a live process that is no gateway.
    const other = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      await writeFile(path.join(dataDir, "gateway.json"), JSON.stringify({ ...left, pid: other.pid }));
      const list = await runCli(["keys", "list", "--json"], { cwd, env });
      expect(list.stderr).toBe("");
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual([]);
    } finally {
      other.kill("SIGKILL");
    }
  }, 60_000);
});

describe.runIf(STORE_KINDS.includes("postgres"))("two gateways on PostgreSQL sharing one data directory", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  it("the first to stop leaves gateway.json to the one still running, which the CLI goes on finding", async () => {
    const { cwd, dataDir } = await workspace();
    const scratch = await createScratchDatabase();
    try {
      const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey(), DATABASE_URL: scratch.href });
      const first = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
      const second = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
      const named = async () => JSON.parse(await readFile(path.join(dataDir, "gateway.json"), "utf8")) as { pid: number; url: string };
      expect(await named()).toMatchObject({ pid: second.proc.pid, url: second.url });

      expect(await first.stop()).toBe(0);
      expect(await named()).toMatchObject({ pid: second.proc.pid, url: second.url });
      const status = await runCli(["kill-switch", "status", "--json"], { cwd, env: { ...env, DATABASE_URL: undefined } });
      expect(status).toMatchObject({ code: 0, stderr: "" });

      expect(await second.stop()).toBe(0);
      expect(existsSync(path.join(dataDir, "gateway.json"))).toBe(false);
    } finally {
      await killAll();
      await dropScratchDatabase(scratch);
    }
  }, 60_000);
});
