import type { AbortSource } from "../core/cancel.js";
import { AirlockError } from "../core/errors.js";
import { isObject, validateChat } from "../calls/request-shape.js";
import type { ChatRequest, EmbedRequest, SpeechRequest, TranscriptionRequest } from "../providers/spec.js";
import { ConfigError } from "../config/load.js";

/**
 * The library's calls, checked as the gateway checks its headers and bodies: a mistake (an option of
 * the wrong type, a malformed message) is `invalid_request` naming it, never a TypeError from deep
 * inside or an adapter's crash reported as a failing provider. The types say the same, but not every
 * caller is typed (JavaScript, values read from JSON).
 */

/** The options every call takes; see `CallOptions` in index.ts. */
interface CallFields {
  operation?: string;
  model?: string;
  user?: string;
  session?: string;
  signal?: AbortSource;
}

const TEXT_OPTIONS = ["operation", "model", "user", "session"] as const;

/** The caller's signal when it is one; anything else is refused by `checkCall`, inside the tracked call. */
export function signalOf(call: unknown): AbortSource | undefined {
  return isObject(call) && isAbortSignal(call.signal) ? call.signal : undefined;
}

/** The fields of a call that a ledger row and a context take, without trusting their types. */
export function contextFields(call: unknown): Omit<CallFields, "signal"> {
  const fields: Omit<CallFields, "signal"> = {};
  if (!isObject(call)) return fields;
  for (const name of TEXT_OPTIONS) if (typeof call[name] === "string") fields[name] = call[name];
  return fields;
}

export function checkCall(call: unknown, method: string): asserts call is CallFields & Record<string, unknown> {
  if (!isObject(call)) throw new AirlockError("invalid_request", `${method}() takes an options object`);
  for (const name of TEXT_OPTIONS) {
    if (call[name] !== undefined && typeof call[name] !== "string") throw new AirlockError("invalid_request", `${name} must be a string`, { param: name });
  }
  if (call.signal !== undefined && !isAbortSignal(call.signal)) throw new AirlockError("invalid_request", "signal must be an AbortSignal", { param: "signal" });
}

/** `chat()` and `stream()`: the OpenAI body the options stand for, its messages checked as the gateway checks them. */
export function chatRequest(call: unknown, method: string): ChatRequest {
  checkCall(call, method);
  if (call.params !== undefined && !isObject(call.params)) throw new AirlockError("invalid_request", "params must be an object of OpenAI chat fields", { param: "params" });
  const body: Record<string, unknown> = {
    ...(call.params ?? {}),
    model: call.model ?? "",
    messages: call.messages ?? [],
    ...(call.variables !== undefined ? { variables: call.variables } : {}),
    ...(call.outputSchema !== undefined ? { output_schema: call.outputSchema } : {}),
    ...(call.maxTokens !== undefined ? { max_tokens: call.maxTokens } : {}),
    ...(call.temperature !== undefined ? { temperature: call.temperature } : {}),
  };
  return validateChat(body) as ChatRequest;
}

export function embedRequest(call: unknown): EmbedRequest {
  checkCall(call, "embed");
  return { model: call.model ?? "", input: call.input as EmbedRequest["input"], dimensions: call.dimensions as number | undefined };
}

export function transcriptionRequest(call: unknown): TranscriptionRequest {
  checkCall(call, "transcribe");
  const file = call.file;
  if (!(file instanceof Blob)) throw new AirlockError("invalid_request", "file must be a Blob or File with the audio", { param: "file" });
  if (call.filename !== undefined && typeof call.filename !== "string") throw new AirlockError("invalid_request", "filename must be a string", { param: "filename" });
  const fields = call.fields ?? {};
  if (!isObject(fields) || Object.values(fields).some((value) => typeof value !== "string")) {
    throw new AirlockError("invalid_request", "fields must be an object of strings (form fields)", { param: "fields" });
  }
  const named = (file as Blob & { name?: unknown }).name;
  const filename = call.filename ?? (typeof named === "string" && named !== "" ? named : "audio");
  return { model: call.model ?? "", file, filename, fields: Object.entries(fields as Record<string, string>) };
}

export function speechRequest(call: unknown): SpeechRequest {
  checkCall(call, "speak");
  if (call.params !== undefined && !isObject(call.params)) throw new AirlockError("invalid_request", "params must be an object", { param: "params" });
  if (typeof call.input !== "string" || call.input.length === 0) throw new AirlockError("invalid_request", "input must be the text to speak", { param: "input" });
  return { ...(call.params ?? {}), model: call.model ?? "", input: call.input, voice: call.voice } as SpeechRequest;
}

/** A budget's or toggle's name, for a method that takes one: not a string, it reached the store's SQL as a hole. */
export function named(name: unknown, what: "budget" | "toggle"): string {
  if (typeof name !== "string" || name === "") throw new AirlockError("invalid_request", `the ${what}'s name must be a non-empty string`, { param: "name" });
  return name;
}

/** An AbortSignal, or anything that behaves as one (another realm's, a polyfill's). */
function isAbortSignal(value: unknown): value is AbortSource {
  if (value instanceof AbortSignal) return true;
  const candidate = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown } | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.aborted === "boolean" && typeof candidate.addEventListener === "function" && typeof candidate.removeEventListener === "function";
}

/**
 * What `createAirlock` was given: a configuration object (anything with `providers`) or its options.
 * An unknown option is refused where it was written, as an unknown key in a configuration is: a typo
 * (`inMemry`) would otherwise leave a store on disk, and a configuration without `providers`, taken
 * for options, would serve the demo.
 */
export function airlockOptions<T extends object>(options: unknown, names: readonly string[]): T {
  if (options === undefined) return {} as T;
  if (!isObject(options)) {
    throw new ConfigError("createAirlock() takes an options object or a configuration object; for a file, pass { config: \"path/to/airlock.config.yaml\" }");
  }
  if ("providers" in options) return { config: options } as T;
  const unknown = Object.keys(options).filter((key) => !names.includes(key));
  if (unknown.length > 0) {
    throw new ConfigError(
      `createAirlock(): unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((key) => `"${key}"`).join(", ")}; the options are ${names.join(", ")}, and a configuration object needs \`providers\``,
    );
  }
  for (const [name, value] of Object.entries(options)) {
    const check = OPTION_CHECKS[name];
    if (value === undefined || check === undefined || check.valid(value)) continue;
    // A URL's value is never shown: it may hold a password.
    throw new ConfigError(`createAirlock(): ${name} must be ${check.expected}, not ${name === "databaseUrl" ? kindOf(value) : shown(value)}`);
  }
  const modules: unknown[] = Array.isArray(options.modules) ? options.modules : [];
  const bad = modules.findIndex((module) => !isModule(module));
  if (bad >= 0) throw new ConfigError(`createAirlock(): modules[${bad}] must be an execution module ({ name, execute }), not ${shown(modules[bad])}`);
  return options as T;
}

/**
 * What each option must be. A wrong type failed far from where it was written, or not at all: a
 * `closeGraceMs: "10s"` became a timer of 1 ms, so `close()` cut every running call at once, and a
 * `dataDir` that is not a string failed every call with Node's TypeError about `paths[0]`.
 */
const OPTION_CHECKS: Record<string, { valid: (value: unknown) => boolean; expected: string }> = {
  config: { valid: (v) => typeof v === "string" || isObject(v), expected: "a configuration object or the path of a YAML or JSON file" },
  dataDir: { valid: (v) => typeof v === "string" && v !== "", expected: "a directory path (a string)" },
  databaseUrl: { valid: (v) => typeof v === "string", expected: "a PostgreSQL URL (a string)" },
  inMemory: { valid: (v) => typeof v === "boolean", expected: "true or false" },
  logger: { valid: (v) => isObject(v) && ["info", "warn", "error", "debug"].every((level) => typeof v[level] === "function"), expected: "a pino logger (or an object with info, warn, error and debug methods)" },
  onBudgetEvent: { valid: (v) => typeof v === "function", expected: "a function" },
  modules: { valid: (v) => Array.isArray(v), expected: "an array of execution modules ({ name, execute })" },
  executorId: { valid: (v) => typeof v === "string" && v.trim() !== "", expected: "a non-empty string" },
  closeGraceMs: { valid: (v) => typeof v === "number" && Number.isFinite(v) && v >= 0, expected: "a number of milliseconds (0 or more)" },
};

/** An execution module as the directive worker runs it: a module without these failed only when a directive ran it. */
function isModule(value: unknown): boolean {
  return isObject(value) && typeof value.name === "string" && value.name !== "" && typeof value.execute === "function";
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** A wrong value as the message shows it: a short string or a number as it is, anything else by its kind. */
function shown(value: unknown): string {
  if (typeof value === "string") return value.length <= 40 ? `the string ${JSON.stringify(value)}` : "a string";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return kindOf(value);
}
