import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EARLIEST_DATE, LATEST_DATE } from "../src/core/duration.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, REPO_ROOT, runCli, seedDataDir, urlWhereNothingListens, workspace } from "./support/process.js";

/**
 * The CLI's answer to input the store cannot hold or a flag that is not a number: one line that says
 * what is wrong, exit 1 (2 for a usage error), and never the SQL statement or its parameters.
 */
describe("airlock CLI: input it refuses", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  /** A workspace with a seeded store and no gateway: the CLI opens the store itself. */
  async function offline() {
    const { cwd, dataDir } = await workspace();
    await seedDataDir(dataDir);
    const url = await urlWhereNothingListens();
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() });
    return { cwd, env, dataDir, cli: (...args: string[]) => runCli([...args, "--url", url, "--data-dir", dataDir], { cwd, env }) };
  }

  function oneClearLine(stderr: string): string {
    expect(stderr).not.toMatch(/Failed query|insert into|params:|Invalid time value|\n\s+at /i);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    return stderr;
  }

  it("prints the installed version with --version, from the source and from the build", async () => {
    const { cwd } = await workspace();
    const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    for (const entry of ["source", "build"] as const) {
      for (const flag of ["--version", "-V"]) {
        const shown = await runCli([flag], { cwd, env: isolatedEnv(), entry });
        expect(shown, `${entry} ${flag}`).toMatchObject({ code: 0, stdout: `${version}\n` });
      }
    }
  });

  it("refuses a budget limit, a --since and a numeric flag it cannot use, with one clear line or as a usage error", async () => {
    const { cli } = await offline();
    const budget = await cli("budgets", "set", "bb", "--scope", "global", "--limit", "1234567890123456789012345678");
    expect(budget.code).toBe(1);
    expect(oneClearLine(budget.stderr)).toMatch(/^airlock: .*limit: must be less than 1000000000000$/m);

    // A --since it cannot use is a usage error, as a numeric flag's is below: refused before a store is opened.
    for (const [command, value, example] of [["audit", "99999999999d", "24h or 7d"], ["spend", "2026-02-30", "24h or 7d"], ["report reconciliation", "7x", "30d"]] as const) {
      const refused = await cli(...command.split(" "), "--since", value);
      expect(refused.code, value).toBe(2);
      expect(refused.stderr.split("\n")[0], value).toBe(`error: option '--since <when>' argument '${value}' is invalid. --since must be a duration such as ${example}, or an ISO date, from ${EARLIEST_DATE} to ${LATEST_DATE}`);
    }

    // A usage error: its line, then the command's help (as for every usage error), and nothing sent.
    for (const [flag, value] of [["--rpm", "abc"], ["--tpm", "0x10"], ["--rpm", "3000000000"]] as const) {
      const set = await cli("rate-limits", "set", "rl", "--scope", "global", flag, value);
      expect(set.code, `${flag} ${value}`).toBe(2);
      expect(set.stderr.split("\n")[0], `${flag} ${value}`).toBe(`error: option '${flag} <n>' argument '${value}' is invalid. ${flag} must be a whole number from 1 to 2147483647`);
      expect(set.stderr).not.toContain("received null");
    }
    // A key's name is held to 128 characters, with no gateway to check it as the admin API does.
    const longName = await cli("keys", "create", "--name", "k".repeat(129));
    expect(longName.code).toBe(1);
    expect(oneClearLine(longName.stderr)).toMatch(/^airlock: .*name: .*128/m);
    expect(JSON.parse((await cli("keys", "list", "--json")).stdout)).toEqual([]);
    const limit = await cli("audit", "--limit", "1e3");
    expect(limit.stderr.split("\n")[0]).toBe("error: option '--limit <n>' argument '1e3' is invalid. --limit must be a whole number from 1 to 1000");
    expect(JSON.parse((await cli("rate-limits", "list", "--json")).stdout)).toEqual([]);
  }, 120_000);

  it("says where a key it created or revoked was written when no gateway answered, as its other changes do", async () => {
    const { cli, dataDir } = await offline();
    const created = await cli("keys", "create", "--name", "offline-key");
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`Written through the store in ${dataDir} (no gateway running).`);
    const id = (JSON.parse((await cli("keys", "list", "--json")).stdout) as Array<{ id: string }>)[0]!.id;
    const revoked = await cli("keys", "revoke", id);
    expect(revoked.stdout).toBe(`Revoked ${id} ("offline-key").\nWritten through the store in ${dataDir} (no gateway running).\n`);
  });

  it("creates a key that expires, through the store as through a gateway, and refuses an expiry it cannot use", async () => {
    const { cli } = await offline();
    const made = await cli("keys", "create", "--name", "temp", "--expires-in", "30d", "--json");
    expect(made.code).toBe(0);
    const expiresAt = Date.parse((JSON.parse(made.stdout) as { expiresAt: string }).expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const dated = await cli("keys", "create", "--name", "dated", "--expires-at", "2999-01-01", "--models", "oai/gpt-4.1-mini, oai/gpt-4.1");
    expect(dated.stdout).toContain("expiring at 2999-01-01T00:00:00.000Z");
    const past = await cli("keys", "create", "--name", "late", "--expires-at", "2020-01-01");
    expect(past.code).toBe(1);
    expect(oneClearLine(past.stderr)).toMatch(/^airlock: .*expiresAt: must be in the future$/m);
    const listed = JSON.parse((await cli("keys", "list", "--json")).stdout) as Array<{ name: string; expiresAt: string | null; models: string[] | null }>;
    expect(listed.map((k) => [k.name, k.expiresAt, k.models])).toEqual([
      ["temp", new Date(expiresAt).toISOString(), null],
      ["dated", "2999-01-01T00:00:00.000Z", ["oai/gpt-4.1-mini", "oai/gpt-4.1"]],
    ]);
  }, 120_000);

  it("refuses a --status a list cannot have, with no gateway as through one, instead of listing nothing", async () => {
    const { cli } = await offline();
    for (const [group, wrong, allowed] of [
      ["approvals", "pending", "PENDING, APPROVED, APPLIED, REJECTED, EXPIRED"],
      ["directives", "PROPOSED", "draft, proposed, blocked, approved, executing, complete, aborted"],
      ["runs", "done", "pending, running, completed, failed, canceled"],
    ] as const) {
      const listed = await cli(group, "list", "--status", wrong);
      expect(listed.code, group).toBe(2);
      expect(listed.stdout, group).toBe("");
      expect(listed.stderr.split("\n")[0], group).toBe(`error: option '--status <status>' argument '${wrong}' is invalid. Allowed choices are ${allowed}.`);
    }
    const pending = await cli("approvals", "list", "--status", "PENDING", "--json");
    expect(pending.code).toBe(0);
    expect(JSON.parse(pending.stdout)).toEqual([]);
  }, 120_000);

  it("says what a server that answers /healthz but not as Airlock did, in one line, never how JSON.parse failed", async () => {
    const { cwd, env } = await offline();
    // A proxy in front of a gateway that is down: healthy itself, a 502 page for the rest; then one that hangs up.
    const server: Server = createServer((req, res) => {
      if (req.url === "/healthz") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      if (req.url?.startsWith("/admin/keys")) return void res.writeHead(502, { "content-type": "text/html" }).end("<html><body>502 Bad Gateway</body></html>");
      if (req.url?.startsWith("/admin/budgets")) return void res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "server_error", message: "boom \u001b]0;title\u0007\u001b[2J" } }));
      req.socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const at = (...args: string[]) => runCli([...args, "--url", url], { cwd, env });
    try {
      const html = await at("keys", "list");
      expect(html.code).toBe(1);
      expect(oneClearLine(html.stderr)).toBe(`airlock: GET ${url}/admin/keys answered 502 without JSON: is ${url} an Airlock gateway?\n`);
      const hungUp = await at("kill-switch", "on", "--reason", "x");
      expect(hungUp.code).toBe(1);
      expect(oneClearLine(hungUp.stderr)).toMatch(new RegExp(`^airlock: POST ${url}/admin/kill-switch got no answer \\(.+\\): the change may or may not have been made\n$`));
      // What a server says goes to the terminal as safely as what the CLI prints.
      const quoted = await at("budgets", "list");
      expect(quoted.code).toBe(1);
      expect(oneClearLine(quoted.stderr)).toBe("airlock: server_error: boom \ufffd]0;title\ufffd\ufffd[2J\n");
      for (const result of [html, hungUp, quoted]) expect(result.stdout).toBe("");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 120_000);

  it("names a gateway URL on a port that fetch refuses, and opens no store of its own instead", async () => {
    const { cwd } = await workspace();
    const dataDir = path.join(cwd, "data");
    // 6000 is X11's: fetch refuses it before connecting, whether anything listens there or not.
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey(), AIRLOCK_URL: "http://127.0.0.1:6000" });
    const refused = await runCli(["keys", "create", "--name", "k"], { cwd, env });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(oneClearLine(refused.stderr)).toBe("airlock: http://127.0.0.1:6000 is on a port that fetch refuses to connect to, as browsers do (a port of another protocol): run the gateway on another port (airlock start --port)\n");
    expect(existsSync(dataDir)).toBe(false);
  });

  it("gives up on a gateway that takes the call and never answers, after --timeout or AIRLOCK_CLI_TIMEOUT, with one line and exit 1", async () => {
    const { cwd, env } = await offline();
    // Healthy at /healthz, so the CLI goes through it; every other request is taken and left unanswered.
    const held: Array<() => void> = [];
    const server: Server = createServer((req, res) => {
      if (req.url === "/healthz") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      held.push(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const read = await runCli(["keys", "list", "--url", url, "--timeout", "0.5"], { cwd, env });
      expect(read).toMatchObject({ code: 1, stdout: "" });
      expect(oneClearLine(read.stderr)).toBe(`airlock: GET ${url}/admin/keys got no answer within 0.5 s (raise it with --timeout or AIRLOCK_CLI_TIMEOUT)\n`);
      const change = await runCli(["kill-switch", "on", "--reason", "x", "--url", url], { cwd, env: { ...env, AIRLOCK_CLI_TIMEOUT: "1" } });
      expect(change).toMatchObject({ code: 1, stdout: "" });
      expect(oneClearLine(change.stderr)).toBe(`airlock: POST ${url}/admin/kill-switch got no answer within 1 s (raise it with --timeout or AIRLOCK_CLI_TIMEOUT): the change may or may not have been made\n`);
      expect(held.length).toBeGreaterThanOrEqual(2);
      // A timeout that is no number of seconds is refused before anything is sent.
      const wrong = await runCli(["keys", "list", "--url", url, "--timeout", "0"], { cwd, env });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr.split("\n")[0]).toBe("error: option '--timeout <seconds>' argument '0' is invalid. --timeout must be a number of seconds above 0, at most 86400");
      const wrongEnv = await runCli(["keys", "list", "--url", url], { cwd, env: { ...env, AIRLOCK_CLI_TIMEOUT: "soon" } });
      expect(wrongEnv.code).toBe(1);
      expect(oneClearLine(wrongEnv.stderr)).toBe("airlock: AIRLOCK_CLI_TIMEOUT must be a number of seconds above 0, at most 86400\n");
    } finally {
      for (const end of held) end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 120_000);

  it("waits up to its timeout for the gateway that holds the data directory, and never opens the store behind it", async () => {
    const { cwd, dataDir } = await workspace();
    await mkdir(dataDir, { recursive: true });
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() });
    // A gateway so loaded that /healthz takes 2 s, longer than the short probe for a URL no gateway claims.
    let slow = true;
    const held: Array<() => void> = [];
    const server: Server = createServer((req, res) => {
      const answer = () => res.writeHead(200, { "content-type": "application/json" }).end(req.url === "/healthz" ? '{"status":"ok"}' : '{"data":[]}');
      if (req.url !== "/healthz") return answer();
      if (slow) return void setTimeout(answer, 2_000);
      held.push(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // This test's own process stands in for the gateway's pid: it is alive, as a gateway's would be.
    await writeFile(path.join(dataDir, "gateway.json"), JSON.stringify({ pid: process.pid, url }));
    try {
      const listed = await runCli(["keys", "list", "--json"], { cwd, env });
      expect(listed).toMatchObject({ code: 0, stderr: "" });
      expect(JSON.parse(listed.stdout)).toEqual([]);
      // One that never answers is reported once the CLI's timeout has passed, and the store is still left alone.
      slow = false;
      const silent = await runCli(["keys", "list", "--timeout", "1"], { cwd, env });
      expect(silent).toMatchObject({ code: 1, stdout: "" });
      expect(oneClearLine(silent.stderr)).toBe(`airlock: a gateway (pid ${process.pid}) holds ${dataDir} but does not answer at ${url}; pass --url ${url}\n`);
      expect(held).toHaveLength(1);
      expect(await readdir(dataDir)).toEqual(["gateway.json"]);
    } finally {
      for (const end of held) end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);

  it("--help names the execution modules a gateway has, and a wrong AIRLOCK_WORKERS is named as the variable", async () => {
    const { cli, cwd, env } = await offline();
    const help = await cli("directives", "create", "--help");
    expect(help.code).toBe(0);
    // "validate" and "test" are the default policy's allowed tools, not modules: a run of one fails.
    expect(help.stdout.replace(/\s+/g, " ")).toContain("--type <type> the execution module: noop, echo, fail_intentionally or llm_call");
    // start reads airlock.config.yml too, so its help names the three files it looks for.
    const startHelp = await cli("start", "--help");
    expect(startHelp.stdout.replace(/\s+/g, " ")).toContain("config file (default airlock.config.yaml, .yml or .json in the working directory, else the demo)");
    const workers = await runCli(["start", "--port", "0", "--host", "127.0.0.1"], { cwd, env: { ...env, AIRLOCK_WORKERS: "abc" } });
    expect(workers.code).toBe(1);
    expect(oneClearLine(workers.stderr)).toBe('airlock: AIRLOCK_WORKERS is a whole number from 1 to 256, or "auto" (got "abc")\n');
  }, 60_000);

  it("airlock start refuses a config whose budget the store could not hold, as an invalid configuration", async () => {
    const { cwd, dataDir } = await workspace();
    await writeFile(
      path.join(cwd, "airlock.config.yaml"),
      `
providers:
  m: { type: mock }
models:
  - { id: "m/fast", price: { input: "1", output: "2" } }
budgets:
  - { name: big, scope: global, limit: "123456789012345678901234567890" }
`,
    );
    const result = await runCli(["start", "--port", "0", "--host", "127.0.0.1"], { cwd, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() }) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`airlock: invalid configuration (${path.join(cwd, "airlock.config.yaml")})`);
    expect(result.stderr).toMatch(/^ {2}- budgets\.0\.limit: must be less than 1000000000000$/m);
    expect(result.stderr).not.toMatch(/Failed query|insert into/i);
  }, 60_000);
});
