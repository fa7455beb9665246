import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, urlWhereNothingListens, workspace } from "./support/process.js";

/**
 * What a script around the CLI relies on: `--help` for every command, exit 0 on success, 1 when the
 * work failed and 2 when the command line itself was wrong (nothing was sent), as POSIX tools do.
 */
describe("airlock CLI: usage", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  async function cli(...args: string[]) {
    const { cwd, dataDir } = await workspace();
    // No gateway answers this URL: a command that got past its usage checks would fail with 1.
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey(), AIRLOCK_URL: await urlWhereNothingListens() });
    return runCli(args, { cwd, env });
  }

  /** The subcommands `airlock ... --help` lists, without `help` itself. */
  function subcommands(help: string): string[] {
    const section = help.split("\nCommands:\n")[1];
    if (!section) return [];
    return section
      .split("\n")
      .map((line) => /^ {2}([a-z][a-z-]*)/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined && name !== "help");
  }

  it("answers --help for every command with its usage on stdout and exit 0", async () => {
    const leaves: string[][] = [];
    const pending: string[][] = [[]];
    while (pending.length > 0) {
      const command = pending.shift()!;
      const shown = await cli(...command, "--help");
      expect(shown.code, command.join(" ")).toBe(0);
      expect(shown.stderr, command.join(" ")).toBe("");
      expect(shown.stdout, command.join(" ")).toContain(`Usage: airlock${command.map((p) => ` ${p}`).join("")} `);
      const children = subcommands(shown.stdout);
      if (children.length === 0) leaves.push(command);
      pending.push(...children.map((child) => [...command, child]));
    }
    expect(leaves.map((l) => l.join(" "))).toEqual(expect.arrayContaining(["start", "keys create", "models sync", "kill-switch status", "webhooks resend"]));
    // `help COMMAND` says the same.
    const viaHelp = await cli("help", "spend");
    expect(viaHelp).toMatchObject({ code: 0, stderr: "" });
    expect(viaHelp.stdout).toContain("Usage: airlock spend ");

    // Every command refuses a flag it does not have, rather than ignoring it (one that needs an
    // argument or an option says so first).
    for (const leaf of leaves) {
      const refused = await cli(...leaf, "--no-such-flag");
      expect(refused.code, leaf.join(" ")).toBe(2);
      expect(refused.stdout, leaf.join(" ")).toBe("");
      expect(refused.stderr.split("\n")[0], leaf.join(" ")).toMatch(/^error: (unknown option '--no-such-flag'|required option '.*' not specified|missing required argument '.*')$/);
    }
    const unknown = await cli("keys", "create", "--name", "k", "--no-such-flag");
    expect(unknown).toMatchObject({ code: 2, stdout: "" });
    expect(unknown.stderr.split("\n")[0]).toBe("error: unknown option '--no-such-flag'");
  }, 120_000);

  it("exits 2, with the reason and the command's help on stderr, for every kind of usage error", async () => {
    const cases: Array<[string[], string]> = [
      [["nosuch"], "error: unknown command 'nosuch'"],
      [["spend", "--by", "nope"], "error: option '--by <group>' argument 'nope' is invalid. Allowed choices are operation, model, provider, user, team, key, day."],
      [["kill-switch", "on"], "error: required option '--reason <text>' not specified"],
      [["keys", "list", "extra"], "error: too many arguments for 'list'. Expected 0 arguments but got 1."],
      [["keys", "revoke"], "error: missing required argument 'id'"],
      [["start", "--port", "99999"], "error: option '-p, --port <port>' argument '99999' is invalid. a port is a whole number from 0 to 65535"],
      [["models", "sync"], "error: give exactly one of --file PATH or --url URL"],
      [["models", "sync", "--file", "a.json", "--url", "https://example.com/models"], "error: give exactly one of --file PATH or --url URL"],
      [["directives", "create", "--role", "r", "--type", "noop", "--objective", "o", "--scope", "test", "--payload", "{nope"], "error: option '--payload <json>' argument '{nope' is invalid. not valid JSON"],
    ];
    for (const [args, line] of cases) {
      const refused = await cli(...args);
      expect(refused.code, args.join(" ")).toBe(2);
      expect(refused.stdout, args.join(" ")).toBe("");
      expect(refused.stderr.split("\n")[0], args.join(" ")).toBe(line);
      expect(refused.stderr, args.join(" ")).toContain("Usage: airlock");
      expect(refused.stderr, args.join(" ")).not.toMatch(/\n\s+at /);
    }
    // A group named without one of its commands, or nothing at all: what it can do, and 2.
    for (const args of [["keys"], []]) {
      const bare = await cli(...args);
      expect(bare.code, args.join(" ")).toBe(2);
      expect(bare.stderr, args.join(" ")).toContain("Usage: airlock");
    }
  }, 120_000);

  it("refuses a gateway URL that is no http(s) URL, rather than taking it for a gateway that is down and opening a store in the working directory", async () => {
    const { cwd, dataDir } = await workspace();
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() });
    for (const args of [["keys", "list", "--url", "notaurl"], ["kill-switch", "status", "--url", "localhost:4100"], ["models", "sync", "--file", "x.json", "--gateway", "ftp://host"]]) {
      const refused = await runCli(args, { cwd, env });
      expect(refused.code, args.join(" ")).toBe(2);
      expect(refused.stdout, args.join(" ")).toBe("");
      expect(refused.stderr.split("\n")[0], args.join(" ")).toMatch(/^error: option '--(url|gateway) <url>' argument '.*' is invalid\. a gateway URL is http:\/\/ or https:\/\/ followed by a host$/);
    }
    const fromEnv = await runCli(["keys", "list"], { cwd, env: { ...env, AIRLOCK_URL: "notaurl" } });
    expect(fromEnv).toMatchObject({ code: 1, stdout: "", stderr: 'airlock: AIRLOCK_URL must be an http:// or https:// URL (got "notaurl")\n' });
    expect(existsSync(path.join(cwd, ".airlock"))).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("keeps exit 1 for a command that was well formed but failed", async () => {
    const failed = await cli("models", "sync", "--file", "missing.json");
    expect(failed).toMatchObject({ code: 1, stdout: "" });
    expect(failed.stderr).toMatch(/^airlock: cannot read .*missing\.json: ENOENT\n$/);
  });
});
