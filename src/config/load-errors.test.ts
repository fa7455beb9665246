import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, resolveConfig } from "./load.js";

const SECRET = "sk-live-DO-NOT-PRINT-4242";

describe("config errors", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function refusal(name: string, text: string): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-config-"));
    dirs.push(dir);
    await writeFile(path.join(dir, name), text);
    const error = await loadConfig({ cwd: dir, env: {} }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }

  it("names where a YAML file breaks without quoting its text, which may be a literal key", async () => {
    // An editor's save cut short: the closing quote never written.
    const unclosed = await refusal("airlock.config.yaml", `providers:\n  openai: { type: openai-compatible, baseUrl: "https://api.openai.com/v1", apiKey: "${SECRET} }\nmodels:\n  - id: openai/gpt-4o\n`);
    expect(unclosed).toMatch(/is not valid YAML: Missing closing "quote at line \d+, column \d+$/);
    expect(unclosed).not.toContain("DO-NOT-PRINT");
    const twice = await refusal("airlock.config.yaml", `providers:\n  openai: { type: openai-compatible, baseUrl: "https://api.openai.com/v1", apiKey: ${SECRET}, apiKey: x }\nmodels:\n  - id: openai/gpt-4o\n`);
    expect(twice).toMatch(/is not valid YAML: Map keys must be unique at line 2, column \d+$/);
    expect(twice).not.toContain("DO-NOT-PRINT");
  });

  it("names where a JSON file breaks without quoting its text", async () => {
    const token = await refusal("airlock.config.json", `{"providers": {"openai": {"type": "openai-compatible", "baseUrl": "https://x/v1", "apiKey": ${SECRET}}}}`);
    expect(token).toMatch(/is not valid JSON: Unexpected token 's'$/);
    expect(token).not.toContain("sk-live");
    const short = await refusal("airlock.config.json", `{"apiKey": sk-live-X}`);
    expect(short).toMatch(/is not valid JSON: Unexpected token 's'$/);
    const position = await refusal("airlock.config.json", `{\n  "providers": {"openai": {"apiKey": "${SECRET}"}},\n}`);
    expect(position).toMatch(/is not valid JSON: .* at line 3, column 1$/);
    expect(position).not.toContain("DO-NOT-PRINT");
  });

  it("says a file with nothing in it is empty, and a path with no file has none, in words", async () => {
    for (const text of ["", "# providers come later\n", "\n\n"]) {
      expect(await refusal("airlock.config.yaml", text), JSON.stringify(text)).toMatch(/^config file .*airlock\.config\.yaml is empty: it holds no configuration$/);
    }
    const missing = await loadConfig({ path: "nowhere/airlock.yaml", cwd: tmpdir(), env: {} }).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(missing?.message).toBe(`cannot read config file ${path.join(tmpdir(), "nowhere/airlock.yaml")}: no such file (ENOENT)`);
  });

  it("refuses the environment references other gateways read, naming the form Airlock reads, never sending them as the key", () => {
    for (const written of ["${OPENAI_API_KEY}", "$OPENAI_API_KEY", "os.environ/OPENAI_API_KEY"]) {
      const config = { providers: { openai: { type: "openai-compatible", baseUrl: "https://api.openai.com/v1", apiKey: written } }, models: [{ id: "openai/gpt-4o" }] };
      expect(() => resolveConfig(config, "test", { OPENAI_API_KEY: SECRET }), written).toThrow(
        "providers.openai.apiKey: environment references are written env:OPENAI_API_KEY; this one would be used as the literal value",
      );
    }
    const webhook = {
      providers: { m: { type: "mock" } },
      models: [{ id: "m/x" }],
      notifications: { webhooks: [{ name: "ops", url: "https://hooks.example.com/x", secret: "${HOOK_SECRET}" }] },
    };
    expect(() => resolveConfig(webhook, "test", {})).toThrow("notifications.webhooks.0.secret: environment references are written env:HOOK_SECRET");
    // A literal key or secret that merely holds a dollar sign is one.
    const secret = resolveConfig({ ...webhook, notifications: { webhooks: [{ ...webhook.notifications.webhooks[0], secret: "$ecret" }] } }, "test", {});
    expect(secret.config.notifications.webhooks[0]).toMatchObject({ secret: "$ecret" });
    const literal = resolveConfig({ providers: { openai: { type: "openai-compatible", baseUrl: "https://api.openai.com/v1", apiKey: "sk-$abc-123" } }, models: [{ id: "openai/gpt-4o" }] }, "test", {});
    expect(literal.config.providers.openai).toMatchObject({ apiKey: "sk-$abc-123" });
  });
});
