import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Decimal } from "decimal.js";
import { parseDocument, visit } from "yaml";
import type { z } from "zod";
import { AirlockError } from "../core/errors.js";
import { nulPath } from "./bounds.js";
import { DEMO_CONFIG } from "./demo.js";
import { configSchema, TIERS, type AirlockConfig, type AirlockConfigInput } from "./schema.js";
import { isHttpUrl } from "../core/http-url.js";

/** An invalid configuration or `createAirlock()` options: an AirlockError (`misconfigured`, 500), never retryable. */
export class ConfigError extends AirlockError {
  constructor(message: string) {
    super("misconfigured", message);
    this.name = "ConfigError";
  }
}

export const CONFIG_FILE_NAMES = ["airlock.config.yaml", "airlock.config.yml", "airlock.config.json"];

export interface LoadedConfig {
  config: AirlockConfig;
  /** Where it came from: a file path, or "demo". */
  source: string;
  /** A stable hash of the effective config, to tell instances and ledger rows which config served them. */
  hash: string;
  /** Secret references whose variable is not set, for the start to list. */
  missingSecrets: string[];
  /** Providers whose `apiKey` names a variable that is not set, each with that variable: their calls are refused. */
  unsetKeys: Readonly<Record<string, string>>;
}

/** Finds and reads the config: an explicit path, else a file in `cwd`, else the demo. */
export async function loadConfig(options: { path?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.path ? path.resolve(cwd, options.path) : CONFIG_FILE_NAMES.map((n) => path.join(cwd, n)).find((p) => existsSync(p));
  if (!file) return resolveConfig(DEMO_CONFIG, "demo", env);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code ? `${READ_FAILURES[code] ?? "cannot be read"} (${code})` : String(err);
    throw new ConfigError(`cannot read config file ${file}: ${reason}`);
  }
  let raw: unknown;
  try {
    // A byte order mark (Windows editors save UTF-8 with one) is not JSON, but the file is: YAML skips it too.
    raw = file.endsWith(".json") ? parseJsonExactly(text.replace(/^\uFEFF/, "")) : parseYamlExactly(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid ${file.endsWith(".json") ? "JSON" : "YAML"}: ${syntaxProblem(err, text)}`);
  }
  // An empty file (or one of comments only) parses as nothing: say so, rather than "expected object, received null".
  if (raw === null || raw === undefined) throw new ConfigError(`config file ${file} is empty: it holds no configuration`);
  return resolveConfig(raw, file, env);
}

const READ_FAILURES: Record<string, string> = { ENOENT: "no such file", EACCES: "permission denied", EISDIR: "it is a directory" };

/**
 * Where and what, without the text around it: the parsers quote the line they stopped at, and that line
 * may be a provider's literal key, which would then sit in every log that keeps the start's output.
 */
function syntaxProblem(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err);
  // YAML: "Missing closing "quote at line 3, column 1:" then the quoted line and a caret.
  const firstLine = message.split("\n")[0]!.replace(/:$/, "");
  // JSON (V8): `Unexpected token 's', "{"a": sk-li"... is not valid JSON`, or "... in JSON at position 22".
  const unquoted = firstLine.replace(/, \S*".*is not valid JSON$/, "").replace(/\s*\(line \d+ column \d+\)$/, "");
  return unquoted.replace(/ at position (\d+)$/, (_all, at: string) => ` at ${lineAndColumn(text, Number(at))}`);
}

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/**
 * YAML, where a number written with more digits than a double holds (`0.12345678901234567891`) is kept
 * as the text written: a price read as a float would lose its last digits before Airlock saw it. Any
 * other number stays a number, so fields that take numbers are unaffected.
 */
export function parseYamlExactly(text: string): unknown {
  const doc = parseDocument(text);
  const [error] = doc.errors;
  if (error) throw error;
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "number" && node.source !== undefined && !sameNumber(node.source, node.value)) node.value = node.source;
    },
  });
  return doc.toJS();
}

/**
 * JSON, held to what parseYamlExactly holds YAML to. JSON.parse judges the syntax (its messages name
 * JSON's rules); the same text is then read as YAML 1.2, of which JSON is a subset, because JSON.parse
 * quietly keeps the last of two equal keys (a budget written twice, the first one lost) and reads a
 * price of 20 digits as a float.
 */
export function parseJsonExactly(text: string): unknown {
  JSON.parse(text);
  return parseYamlExactly(text);
}

function sameNumber(written: string, read: number): boolean {
  if (!Number.isFinite(read)) return true;
  try {
    return new Decimal(written.replace(/_/g, "")).eq(new Decimal(read));
  } catch {
    return true; // a form Decimal does not read (YAML 1.1 sexagesimal, say): the parser's number stands
  }
}

/** Validates a config object strictly, applies environment overrides and resolves `env:NAME` secrets. */
export function resolveConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const withOverrides = applyTierOverrides(raw, env);
  const parsed = configSchema.safeParse(withOverrides);
  if (!parsed.success) throw new ConfigError(formatIssues(source, parsed.error.issues));
  const config = parsed.data;
  const hash = createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 16);
  const { missing: missingSecrets, unsetKeys } = resolveSecrets(config, source, env);
  return { config, source, hash, missingSecrets, unsetKeys };
}

export function formatIssues(source: string, issues: ReadonlyArray<Pick<z.core.$ZodIssue, "path" | "message">>): string {
  const lines = issues.map((issue) => {
    const where = issue.path.length ? issue.path.map(String).join(".") : "(top level)";
    return `  - ${where}: ${issue.message}`;
  });
  return `invalid configuration (${source}):\n${lines.join("\n")}`;
}

const TIER_ENV: Record<(typeof TIERS)[number], string> = {
  strong: "AIRLOCK_MODEL_STRONG",
  mid: "AIRLOCK_MODEL_MID",
  cheap: "AIRLOCK_MODEL_CHEAP",
};

function applyTierOverrides(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!raw || typeof raw !== "object") return raw;
  const overrides = Object.fromEntries(TIERS.flatMap((t) => (env[TIER_ENV[t]] ? [[t, env[TIER_ENV[t]]]] : [])));
  if (Object.keys(overrides).length === 0) return raw;
  const input = raw as AirlockConfigInput;
  return { ...input, tiers: { ...(input.tiers ?? {}), ...overrides } };
}

function resolveSecrets(config: AirlockConfig, source: string, env: NodeJS.ProcessEnv): { missing: string[]; unsetKeys: Record<string, string> } {
  const missing: string[] = [];
  const unsetKeys: Record<string, string> = {};
  const invalid: string[] = [];
  for (const [name, provider] of Object.entries(config.providers)) {
    if (!("apiKey" in provider) || provider.apiKey === undefined) continue;
    if (!provider.apiKey.startsWith("env:")) continue;
    const variable = provider.apiKey.slice(4);
    const value = env[variable];
    if (value === undefined || value === "") {
      missing.push(`providers.${name}.apiKey (${variable})`);
      unsetKeys[name] = variable;
    }
    provider.apiKey = value || undefined;
  }
  config.notifications.webhooks = config.notifications.webhooks.flatMap((hook) => {
    const url = fromEnv(hook.url, env);
    const secret = hook.secret === undefined ? undefined : fromEnv(hook.secret, env);
    const unset = [url === undefined ? "url" : undefined, hook.secret !== undefined && secret === undefined ? "secret" : undefined].filter(Boolean);
    if (unset.length > 0) {
      missing.push(...unset.map((field) => `notifications.webhooks.${hook.name}.${field}`));
      return []; // a webhook without its URL or secret is left out, and said so at start
    }
    // Only a URL from the environment is left to check (the schema checked one written in the file).
    // The value is never repeated: a Slack or Discord URL is a secret.
    if (!isHttpUrl(url!)) invalid.push(`  - notifications.webhooks.${hook.name}.url: ${hook.url.slice(4)} does not hold an http:// or https:// URL`);
    return [{ ...hook, url: url!, secret }];
  });
  if (invalid.length > 0) throw new ConfigError(`invalid configuration (${source}):\n${invalid.join("\n")}`);
  const artifacts = config.governance.artifacts;
  if (artifacts.kind === "s3") {
    for (const field of ["accessKeyId", "secretAccessKey"] as const) {
      const value = fromEnv(artifacts[field], env);
      if (value === undefined) missing.push(`governance.artifacts.${field}`);
      artifacts[field] = value ?? "";
    }
  }
  return { missing, unsetKeys };
}

/** `env:NAME` read from the environment (undefined when unset); any other value as written. */
function fromEnv(value: string, env: NodeJS.ProcessEnv): string | undefined {
  return value.startsWith("env:") ? env[value.slice(4)] || undefined : value;
}

/**
 * Checks a request's input against `schema`: the parsed value, or `invalid_request` with every issue on
 * one line. `param` is the given one, else the field of the first issue (none for the body as a whole).
 */
export function parseRequest<T extends z.ZodType>(schema: T, input: unknown, what: string, param?: string): z.infer<T> {
  const parsed = schema.safeParse(input);
  // Everything parsed here is stored, and the store's text and jsonb refuse NUL: a 400 naming the
  // field, not a store error that surfaces as a 500.
  const nul = nulPath(input);
  if (parsed.success && nul === undefined) return parsed.data;
  const issues: Array<Pick<z.core.$ZodIssue, "path" | "message">> = parsed.success ? [] : [...parsed.error.issues];
  if (nul !== undefined) issues.unshift({ path: nul, message: "must not contain a NUL character (\\u0000)" });
  const field = param ?? (issues[0]?.path.map(String).join(".") || undefined);
  // A request, not the configuration: `invalid budget: limitUsd: …; window: …`.
  const problems = issues.map((issue) => `${issue.path.length ? issue.path.map(String).join(".") : "(top level)"}: ${issue.message}`);
  throw new AirlockError("invalid_request", `invalid ${what}: ${problems.join("; ")}`, field === undefined ? undefined : { param: field });
}
