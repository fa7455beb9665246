import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { AirlockError } from "../core/errors.js";
import { ConfigError, loadConfig, parseRequest, resolveConfig } from "./load.js";

const minimal = {
  providers: { openrouter: { type: "openai-compatible", baseUrl: "https://openrouter.ai/api/v1", apiKey: "env:OPENROUTER_API_KEY" } },
  models: [{ id: "openrouter/deepseek/deepseek-chat", price: { input: "0.27", output: "1.10", per: "1M" } }],
  operations: { chat_message: { model: "openrouter/deepseek/deepseek-chat" } },
};

describe("config", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("reads the documented YAML shape and resolves env: secrets", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-config-"));
    dirs.push(dir);
    await writeFile(
      path.join(dir, "airlock.config.yaml"),
      `providers:
  openrouter: { type: openai-compatible, baseUrl: "https://openrouter.ai/api/v1", apiKey: "env:OPENROUTER_API_KEY" }
models:
  - { id: "openrouter/deepseek/deepseek-chat", price: { input: "0.27", output: "1.10", per: "1M" } }
operations:
  chat_message: { model: "openrouter/deepseek/deepseek-chat" }
`,
    );
    const loaded = await loadConfig({ cwd: dir, env: { OPENROUTER_API_KEY: "sk-or-123" } });
    expect(loaded.source).toBe(path.join(dir, "airlock.config.yaml"));
    expect(loaded.config.providers.openrouter).toMatchObject({ apiKey: "sk-or-123" });
    expect(loaded.config.operations.chat_message).toMatchObject({ enabled: true, criticality: "MEDIUM", fallbacks: [] });
    expect(loaded.missingSecrets).toEqual([]);
  });

  it("falls back to the labelled demo when there is no file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-config-"));
    dirs.push(dir);
    const loaded = await loadConfig({ cwd: dir, env: {} });
    expect(loaded.source).toBe("demo");
    expect(loaded.config.demo).toBe(true);
    expect(Object.values(loaded.config.providers).every((p) => p.type === "mock")).toBe(true);
  });

  it("names every bad field", () => {
    const bad = { ...minimal, models: [{ id: "openrouter/x", price: { input: "-1" } }, { id: "nowhere/y" }], operations: { chat: { model: "missing/model" } }, extra: 1 };
    let message = "";
    try {
      resolveConfig(bad, "bad.yaml", {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain("bad.yaml");
    expect(message).toContain("models.0.price.input");
    expect(message).toContain('models.1.id: unknown provider "nowhere"');
    expect(message).toContain("operations.chat.model");
    expect(message).toMatch(/Unrecognized key.*extra/);
  });

  it("reports a missing secret instead of sending an empty key", () => {
    const loaded = resolveConfig(minimal, "inline", {});
    expect(loaded.missingSecrets).toEqual(["providers.openrouter.apiKey (OPENROUTER_API_KEY)"]);
    expect(loaded.config.providers.openrouter).toMatchObject({ apiKey: undefined });
    expect(loaded.unsetKeys).toEqual({ openrouter: "OPENROUTER_API_KEY" });
  });

  it("refuses a webhook URL that is not http(s), in the file or in its variable, without repeating it", () => {
    const withHook = (url: string) => ({ ...minimal, notifications: { webhooks: [{ name: "slack", url, format: "slack" }] } });
    const secretPath = "hooks.slack.com/services/T000/B000/SECRETTOKEN";
    const refusal = (run: () => unknown) => {
      try {
        run();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("the configuration was accepted");
    };
    const inFile = refusal(() => resolveConfig(withHook(secretPath), "inline", {}));
    expect(inFile).toContain("notifications.webhooks.0.url: must be an http:// or https:// URL, or env:NAME");
    expect(inFile).not.toContain("SECRETTOKEN");
    const inEnv = refusal(() => resolveConfig(withHook("env:SLACK_WEBHOOK_URL"), "inline", { SLACK_WEBHOOK_URL: secretPath }));
    expect(inEnv).toContain("notifications.webhooks.slack.url: SLACK_WEBHOOK_URL does not hold an http:// or https:// URL");
    expect(inEnv).not.toContain("SECRETTOKEN");
    expect(refusal(() => resolveConfig(withHook("ftp://example.com/hook"), "inline", {}))).toContain("notifications.webhooks.0.url");

    const valid = resolveConfig(withHook("env:SLACK_WEBHOOK_URL"), "inline", { SLACK_WEBHOOK_URL: `https://${secretPath}` });
    expect(valid.config.notifications.webhooks).toEqual([expect.objectContaining({ name: "slack", url: `https://${secretPath}` })]);
  });

  it("refuses two webhooks of one name, which would send both one's deliveries", () => {
    const twice = { ...minimal, notifications: { webhooks: [{ name: "ops", url: "https://a.example.com/hook" }, { name: "ops", url: "https://b.example.com/hook" }] } };
    expect(() => resolveConfig(twice, "inline", {})).toThrow(/notifications\.webhooks\.1\.name: duplicate webhook "ops"/);
  });

  it("lets the environment remap tiers, and checks the target exists", () => {
    const tiered = { ...minimal, models: [...minimal.models, { id: "openrouter/cheap-one", price: { input: "0.1" } }], tiers: { cheap: "openrouter/deepseek/deepseek-chat" } };
    expect(resolveConfig(tiered, "t", { AIRLOCK_MODEL_CHEAP: "openrouter/cheap-one" }).config.tiers.cheap).toBe("openrouter/cheap-one");
    expect(() => resolveConfig(tiered, "t", { AIRLOCK_MODEL_CHEAP: "openrouter/none" })).toThrow(/tiers\.cheap: unknown model/);
  });

  it("keeps prices as the decimal strings written, numbers included", () => {
    const loaded = resolveConfig({ ...minimal, models: [{ id: "openrouter/deepseek/deepseek-chat", price: { input: 0.27, output: "1.10" } }] }, "t", {});
    expect(loaded.config.models[0]?.price).toMatchObject({ input: "0.27", output: "1.10", per: "1M" });
  });

  it("reads YAML number prices exactly as written, past a double's digits and in full for tiny ones", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-config-"));
    dirs.push(dir);
    await writeFile(
      path.join(dir, "airlock.config.yaml"),
      `providers:
  p: { type: openai-compatible, baseUrl: "https://example.test/v1" }
models:
  - { id: "p/m", price: { input: 0.12345678901234567891, output: 0.0000001, cachedInput: 0.10, per: "1" } }
operations:
  chat_message: { model: "p/m" }
retry: { maxAttempts: 3 }
`,
    );
    const loaded = await loadConfig({ cwd: dir, env: {} });
    expect(loaded.config.models[0]?.price).toMatchObject({ input: "0.12345678901234567891", output: "0.0000001", cachedInput: "0.1" });
    expect(loaded.config.retry.maxAttempts).toBe(3);
  });

  it("hashes the effective config stably", () => {
    expect(resolveConfig(minimal, "a", {}).hash).toBe(resolveConfig(structuredClone(minimal), "b", {}).hash);
  });

  it("loads every shipped example", async () => {
    for (const file of ["examples/airlock.config.yaml", "examples/operations.yaml"]) {
      const loaded = await loadConfig({ path: file, cwd: path.resolve(import.meta.dirname, "../.."), env: {} });
      expect(Object.keys(loaded.config.operations).length).toBeGreaterThan(0);
    }
    const ops = (await loadConfig({ path: "examples/operations.yaml", cwd: path.resolve(import.meta.dirname, "../.."), env: {} })).config.operations;
    expect(Object.keys(ops).sort()).toEqual(
      ["agent_execution", "audio_transcription", "chat_message", "email_analysis", "memory_synthesis", "sentiment_analysis", "text_to_speech", "video_understanding"],
    );
    expect(ops.email_analysis?.enabled).toBe(false);
  });

  it("rejects a fallback cycle through operations, an operation named like a tier, and an org default outside its own list", () => {
    const base = { ...minimal, models: [...minimal.models, { id: "openrouter/other" }] };
    const cyclic = { ...base, operations: { a: { model: "openrouter/other", fallbacks: ["b"] }, b: { model: "a" } } };
    expect(() => resolveConfig(cyclic, "t", {})).toThrow(/operations\.a: fallback cycle: a → b → a/);
    expect(() => resolveConfig({ ...base, operations: { strong: { model: "openrouter/other" } } }, "t", {})).toThrow(/operations\.strong: "strong" is a tier: an operation cannot be named like a tier/);
    expect(() => resolveConfig({ ...base, org: { defaultModel: "openrouter/other", enabledModels: ["openrouter/deepseek/deepseek-chat"] } }, "t", {})).toThrow(/org\.defaultModel: the default model/);
  });

  it("does not take a name every object has (toString, constructor) for an operation or a provider", () => {
    const refused = (extra: Record<string, unknown>) => () => resolveConfig({ ...minimal, ...extra }, "t", {});
    expect(refused({ budgets: [{ name: "b", scope: "operation", target: "toString", limit: "1" }] })).toThrow(/budgets\.0\.target: unknown operation "toString"/);
    expect(refused({ rateLimits: [{ name: "r", scope: "operation", target: "constructor", requestsPerMinute: 1 }] })).toThrow(/rateLimits\.0\.target: unknown operation "constructor"/);
    expect(refused({ models: [...minimal.models, { id: "constructor/x" }] })).toThrow(/models\.1\.id: unknown provider "constructor"/);
    expect(refused({ budgets: [{ name: "..", scope: "global", limit: "1" }] })).toThrow(/budgets\.0\.name: budget names are not dots alone/);
    expect(refused({ operations: { ".": { model: "openrouter/deepseek/deepseek-chat" } } })).toThrow(/operations/);
  });

  it("holds names to 128 characters and money to what the store's columns hold", () => {
    const long = "n".repeat(129);
    const refused = (extra: Record<string, unknown>) => () => resolveConfig({ ...minimal, ...extra }, "t", {});
    expect(refused({ operations: { [long]: { model: "openrouter/deepseek/deepseek-chat" } } })).toThrow(/operations\.n+: operation names are at most 128 characters/);
    expect(refused({ budgets: [{ name: long, scope: "global", limit: "1" }] })).toThrow(/budgets\.0\.name: budget names are at most 128 characters/);
    expect(refused({ rateLimits: [{ name: long, scope: "global", requestsPerMinute: 1 }] })).toThrow(/rateLimits\.0\.name: rate limit names are at most 128 characters/);
    expect(refused({ rateLimits: [{ name: "r", scope: "global", requestsPerMinute: 3_000_000_000 }] })).toThrow(/rateLimits\.0\.requestsPerMinute: must be at most 2147483647/);
    expect(refused({ budgets: [{ name: "b", scope: "global", limit: "123456789012345678901234567890" }] })).toThrow(/budgets\.0\.limit: must be less than 1000000000000/);
    expect(refused({ models: [{ id: "openrouter/deepseek/deepseek-chat", price: { input: "2000000", per: "1M" } }] })).toThrow(/models\.0\.price\.input: must be at most 1000000 per 1M/);
    expect(resolveConfig({ ...minimal, operations: { ["n".repeat(128)]: { model: "openrouter/deepseek/deepseek-chat" } } }, "t", {}).config.operations).toHaveProperty("n".repeat(128));
  });

  it("holds every duration to what a timer can wait, so a long timeout is not read as 1 ms", () => {
    const refused = (extra: Record<string, unknown>) => () => resolveConfig({ ...minimal, ...extra }, "t", {});
    const tooLong = 2_147_483_648;
    expect(refused({ timeouts: { requestMs: tooLong } })).toThrow(/timeouts\.requestMs: must be at most 2147483647 ms/);
    expect(refused({ ledger: { flushIntervalMs: tooLong } })).toThrow(/ledger\.flushIntervalMs: must be at most 2147483647 ms/);
    expect(refused({ retry: { maxRetryAfterMs: tooLong } })).toThrow(/retry\.maxRetryAfterMs: must be at most 2147483647 ms/);
    expect(refused({ operations: { o: { model: "openrouter/deepseek/deepseek-chat", timeoutMs: tooLong } } })).toThrow(/operations\.o\.timeoutMs: must be at most 2147483647 ms/);
    expect(refused({ providers: { openrouter: { ...minimal.providers.openrouter, timeoutMs: tooLong } } })).toThrow(/providers\.openrouter\.timeoutMs: must be at most 2147483647 ms/);
    const longest = resolveConfig({ ...minimal, timeouts: { requestMs: tooLong - 1, attemptMs: tooLong - 1 } }, "t", {}).config.timeouts;
    expect(longest).toEqual({ requestMs: tooLong - 1, attemptMs: tooLong - 1 });
  });

  it("reads a JSON file saved with a byte order mark, as it reads such a YAML file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-config-"));
    dirs.push(dir);
    await writeFile(path.join(dir, "airlock.config.json"), `\uFEFF${JSON.stringify(minimal)}`);
    await writeFile(path.join(dir, "bom.yaml"), `\uFEFFproviders: { m: { type: mock } }\nmodels: [{ id: m/a }]\n`);
    expect((await loadConfig({ cwd: dir, env: {} })).config.models[0]!.id).toBe("openrouter/deepseek/deepseek-chat");
    expect((await loadConfig({ cwd: dir, path: "bom.yaml", env: {} })).config.models[0]!.id).toBe("m/a");
  });
  it("refuses a JSON key written twice, and reads JSON number prices exactly, as it does YAML", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-config-"));
    dirs.push(dir);
    const twice = `{
  "providers": { "p": { "type": "openai-compatible", "baseUrl": "https://example.test/v1" } },
  "models": [{ "id": "p/m", "price": { "input": 0.12345678901234567891, "output": "1", "per": "1M" } }],
  "operations": { "chat_message": { "model": "p/m", "maxTokens": 100 }, "chat_message": { "model": "p/m" } }
}`;
    await writeFile(path.join(dir, "twice.json"), twice);
    await expect(loadConfig({ cwd: dir, path: "twice.json", env: {} })).rejects.toThrow(/twice\.json is not valid JSON: Map keys must be unique at line 4/);
    await writeFile(path.join(dir, "once.json"), twice.replace(', "chat_message": { "model": "p/m" }', ""));
    const loaded = await loadConfig({ cwd: dir, path: "once.json", env: {} });
    expect(loaded.config.models[0]?.price).toMatchObject({ input: "0.12345678901234567891", output: "1" });
    expect(loaded.config.operations.chat_message?.maxTokens).toBe(100);
    // Syntax is still judged as JSON, in JSON's words: YAML would take this file.
    await writeFile(path.join(dir, "yamlish.json"), "providers: {}");
    await expect(loadConfig({ cwd: dir, path: "yamlish.json", env: {} })).rejects.toThrow(/yamlish\.json is not valid JSON: Unexpected token/);
  });
  it("words a request's problems as the request's, not the configuration's", () => {
    const schema = z.strictObject({ limitUsd: z.string(), window: z.enum(["day", "month"]) });
    const refused = (() => {
      try {
        parseRequest(schema, { limitUsd: 5, window: "week" }, 'budget "team-a"');
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(AirlockError);
    expect(refused).toMatchObject({ code: "invalid_request", param: "limitUsd" });
    expect((refused as AirlockError).message).toMatch(/^invalid budget "team-a": limitUsd: .+; window: .+$/);
  });
});
